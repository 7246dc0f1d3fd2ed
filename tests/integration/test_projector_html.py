"""The HTML report renders in headless Chromium with its charts and no console error.

Given the read models of a simulated history, when ``lead-sla report --format html`` writes the
page and Debian's ``chromium`` opens it headless (no network, a fresh profile, bounded in time),
then the rendered DOM holds both charts with their bars and the short list, the browser logged no
console message, and a screenshot was taken. A control page with a script error shows that the
console check does see errors. Under ``CI=true`` a missing chromium fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from leadsla import cli
from tests.pg_fixture import History

BROWSER_LIMIT_S = 90
pytestmark = pytest.mark.timeout(300)  # bounded in time (each browser run: BROWSER_LIMIT_S)
CONSOLE = re.compile(r"CONSOLE|Uncaught", re.IGNORECASE)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    message = "no chromium for the HTML report check (Debian: apt-get install chromium)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _open(page: Path, profile: Path, *action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *action,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=BROWSER_LIMIT_S,
        stdin=subprocess.DEVNULL,
    )


def test_the_html_report_renders_its_charts_without_console_errors(
    projection_history: Callable[..., History], tmp_path: Path
) -> None:
    # Given the read models of a simulated history and the report as HTML
    history = projection_history(3000, seed=3)
    db = f"sqlite:///{tmp_path / 'rm.db'}"
    args = ["project", "--input", str(history.outputs), "--db", db, "--policy", str(history.policy)]
    assert cli.main(args) == 0
    page = tmp_path / "report.html"
    assert (
        cli.main(["report", "--db", db, "--format", "html", "--now", "latest", "--out", str(page)])
        == 0
    )
    html = page.read_text()
    # (one self-contained file: nothing is fetched, no script)
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "https://" not in html

    # When headless Chromium renders it
    dom = _open(page, tmp_path / "profile-dom", "--dump-dom")
    shot = tmp_path / "report.png"
    picture = _open(
        page,
        tmp_path / "profile-shot",
        "--hide-scrollbars",
        "--window-size=1280,2200",
        f"--screenshot={shot}",
    )

    # Then the DOM holds both charts with bars, and the short list
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    for chart in ("chart-compliance", "chart-distribution"):
        match = re.search(rf'<svg[^>]*id="{chart}".*?</svg>', rendered, re.S)
        assert match is not None, chart
        assert match.group(0).count('class="bar"') >= 5, chart
    assert 'class="short"' in rendered
    # And the browser logged no console message (errors, uncaught exceptions)
    for run in (dom, picture):
        assert not [line for line in run.stderr.splitlines() if CONSOLE.search(line)]
    # And the screenshot exists (a PNG of a real page, not an empty canvas)
    assert picture.returncode == 0, picture.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000


def test_the_console_check_sees_a_script_error(tmp_path: Path) -> None:
    # Given a page whose script fails
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>noSuchFunction();</script></body></html>")
    # When Chromium renders it, then the same check finds the uncaught error
    run = _open(page, tmp_path / "profile", "--dump-dom")
    assert [line for line in run.stderr.splitlines() if CONSOLE.search(line)]
