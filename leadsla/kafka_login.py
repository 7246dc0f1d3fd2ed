"""Does the broker accept our TLS trust and SASL login? One check, shared by the commands.

kafka-python does not raise on a refused login: it logs the broker's answer and keeps retrying
until its bootstrap time is up, then says only "Unable to bootstrap"; and kafka-python 3.0.12
often does not even see the answer, because when the broker's error response and its closing of
the connection (100 ms later by default) are read together, it drops the response and reports a
lost connection. A worker would take either for an unreachable broker and retry for ever.

:func:`check_login` therefore opens one connection with aiokafka (the worker's own client,
already pinned), which reads the broker's SaslAuthenticate answer reliably, and turns a refusal
into :class:`LoginFailed` with a one-line message: the broker's reason, the user and the
mechanism, never the password. A broker certificate that the configured CA does not vouch for
(``SSL``, ``SASL_SSL``) is reported the same way, rather than as "Unable to bootstrap" after the
client's whole timeout.
"""

from __future__ import annotations

import asyncio
import ssl

from leadsla.settings import Settings

DEFAULT_TIMEOUT_S = 15.0


class LoginFailed(RuntimeError):
    """The broker refused the SASL login (wrong user, password or mechanism), or its TLS
    certificate is not signed by a CA we trust."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    marker = f"{type(exc).__name__}: "
    if marker in text:  # the client repeats the class name: keep the broker's words
        text = text.rsplit(marker, 1)[1]
    return text[:300] or type(exc).__name__


async def _answer(
    settings: Settings, host: str, port: int, timeout_s: float
) -> tuple[bool, str | None]:
    """(the broker answered, its reason when it refused the login)."""
    from aiokafka.conn import create_conn
    from aiokafka.errors import SaslAuthenticationFailed, UnsupportedSaslMechanismError

    context = None
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=settings.ssl_cafile)
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    try:
        conn = await asyncio.wait_for(
            create_conn(
                host,
                port,
                client_id=f"{settings.app_id}-login-check",
                request_timeout_ms=int(timeout_s * 1000),
                ssl_context=context,
                security_protocol=settings.security_protocol,
                sasl_mechanism=settings.sasl_mechanism,
                sasl_plain_username=settings.sasl_username,
                sasl_plain_password=password,
            ),
            timeout_s,
        )
    except (SaslAuthenticationFailed, UnsupportedSaslMechanismError) as exc:
        return True, _one_line(exc)
    except ssl.SSLCertVerificationError as exc:
        return True, f"TLS: {exc.verify_message or _one_line(exc)}"
    except Exception:  # unreachable, TLS trouble...: the caller's own client says so
        return False, None
    conn.close()
    return True, None


def check_login(settings: Settings, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Raise :class:`LoginFailed` when the first broker that answers refuses this SASL login.

    Returns when a broker accepted it, with ``PLAINTEXT``, or when no broker answered within
    ``timeout_s``.
    """
    if settings.security_protocol == "PLAINTEXT":
        return
    for address in settings.broker_hosts:
        host, _, port = address.rpartition(":")
        try:
            answered, reason = asyncio.run(
                _answer(settings, host or "localhost", int(port), timeout_s)
            )
        except ValueError:
            continue  # not host:port; the caller's client reports the address
        if not answered:
            continue
        if reason is not None and reason.startswith("TLS: "):
            raise LoginFailed(
                f"the broker at {address} has a TLS certificate that "
                + (
                    f"LEADSLA_SSL_CAFILE={settings.ssl_cafile}"
                    if settings.ssl_cafile
                    else "the system's trust store (LEADSLA_SSL_CAFILE unset)"
                )
                + f" does not vouch for: {reason[5:]}"
            )
        if reason is not None:
            raise LoginFailed(
                f"the broker at {address} refused the {settings.sasl_mechanism} login of user "
                f"{settings.sasl_username!r} (check LEADSLA_SASL_USERNAME, LEADSLA_SASL_PASSWORD "
                f"and LEADSLA_SASL_MECHANISM): {reason}"
            )
        return
