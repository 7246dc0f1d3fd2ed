"""`lead-sla erase` mistakes: one line on standard error, a documented exit code, nothing sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadsla import erase
from leadsla.cli import main


def test_the_erase_record_is_the_one_the_worker_reads() -> None:
    from leadsla.settings import Settings
    from leadsla.streams.app import ERASE, ticks_topic_name

    settings = Settings.from_env({}, topic_prefix="p.", app_id="sla-eu")
    assert erase.ERASE == ERASE
    assert erase.ticks_topic(settings) == ticks_topic_name(settings) == "p.sla-eu-ticks"


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["erase", " "], 2, "a LEAD_ID is empty"),
        (["erase", "L-1", "--timeout", "0"], 2, "--timeout must be between 0 and 3600"),
        (["erase", "L-1", "--db", "sqlite:///{tmp}/none.db"], 2, "no such database file"),
        (
            ["erase", "L-1", "--bootstrap-servers", "127.0.0.1:1", "--timeout", "2"],
            1,
            "cannot reach the broker at 127.0.0.1:1",
        ),
    ],
)
def test_mistakes_give_one_line_and_an_exit_code(
    argv: list[str],
    code: int,
    says: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a mistake on the command line (or no broker)
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]

    # When `lead-sla erase` runs
    result = main(argv)

    # Then it exits with the documented code and one line that says why, no traceback
    out, err = capsys.readouterr()
    assert result == code
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("lead-sla erase: ")
    assert says in err
    assert "Traceback" not in err
