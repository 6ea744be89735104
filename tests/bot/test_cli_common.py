"""bot.cli_common: the progress bar every long command shares, drawn on a terminal, silent
when piped."""

from __future__ import annotations

import pytest

from bot.cli_common import progress_bar


def test_a_terminal_sees_the_bar(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: treat stderr as a terminal
    with progress_bar("import employees.csv") as update:
        update(500, 1000)
    assert "import employees.csv" in capsys.readouterr().err


def test_piped_output_has_no_bar(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    with progress_bar("import employees.csv") as update:
        update(500, 1000)
    assert capsys.readouterr() == ("", "")
