"""The SASL password is a secret: the settings never show it, whatever way they are printed."""

from __future__ import annotations

import pytest

from leadsla.settings import Settings, SettingsError, client_config

PASSWORD = "s3cret-Pa55word-for-the-test"


def test_the_settings_never_show_the_password() -> None:
    # Given settings with a SASL password from the environment
    settings = Settings.from_env(
        {
            "LEADSLA_SECURITY_PROTOCOL": "SASL_SSL",
            "LEADSLA_SASL_MECHANISM": "SCRAM-SHA-512",
            "LEADSLA_SASL_USERNAME": "lead-sla",
            "LEADSLA_SASL_PASSWORD": PASSWORD,
        }
    )

    # When they are printed in every usual way
    shown = [repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())]

    # Then the password is in none of them, but the client still gets it
    assert not [text for text in shown if PASSWORD in text]
    assert client_config(settings)["sasl_plain_password"] == PASSWORD


def test_a_settings_error_does_not_show_the_password() -> None:
    # Given an unusable setting next to the password
    environ = {"LEADSLA_SASL_PASSWORD": PASSWORD, "LEADSLA_PARTITIONS": "zero"}

    # When the settings are read
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(environ)

    # Then the message names the variable and not the password
    assert "LEADSLA_PARTITIONS" in str(raised.value)
    assert PASSWORD not in str(raised.value)
