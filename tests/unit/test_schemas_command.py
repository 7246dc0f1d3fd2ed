"""``lead-sla schemas asyncapi``: standard output for ``-``, never a half-written file."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from leadsla.cli import main
from leadsla.schemas.asyncapi import render


def test_a_dash_writes_the_document_to_standard_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a working folder
    monkeypatch.chdir(tmp_path)
    # When the document is asked for on standard output
    assert main(["schemas", "asyncapi", "-"]) == 0
    # Then it is there, whole, and no file named "-" was made
    out = capsys.readouterr().out
    assert orjson.loads(out)["asyncapi"] == "3.0.0"
    assert out.encode() == render()
    assert os.listdir(tmp_path) == []


def test_a_folder_as_the_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schemas", "asyncapi", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a folder" in err[0]


def test_a_failed_write_leaves_the_old_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an earlier document on disk
    target = tmp_path / "asyncapi.json"
    target.write_bytes(b"earlier")

    # When the new document cannot take its place (the disk, a crash)
    def fail(source: str, destination: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    assert main(["schemas", "asyncapi", str(target)]) == 2
    # Then the earlier file is untouched and no temporary file is left behind
    assert target.read_bytes() == b"earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["asyncapi.json"]
