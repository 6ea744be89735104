"""Start-up mistakes are one `error:` line with the fix (issue 16: a port in use gave 68)."""

from __future__ import annotations

import socket
from contextlib import closing
from pathlib import Path

import pytest

from bot.app import AppError
from bot.preflight import check_port_free
from tests.support.cli import cli, company, script


def test_a_free_port_passes() -> None:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    check_port_free("127.0.0.1", port)


def test_a_port_in_use_names_the_fix() -> None:
    with closing(socket.socket()) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(AppError) as raised:
            check_port_free("127.0.0.1", port)
    assert str(raised.value) == (
        f"port 127.0.0.1:{port} is already in use (another coverwatch still running?): stop it, "
        "or set [http] port (COVERWATCH_HTTP__PORT) to a free port"
    )


@pytest.mark.slow
def test_run_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/run.db"
    company(url, tmp_path)
    config = tmp_path / "coverwatch.toml"
    with closing(socket.socket()) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # hr_leads set: the start-up warning about an empty last escalation level stays out
        config.write_text(
            f'[http]\nport = {port}\n[alerts]\nhr_leads = ["E0003"]\n', encoding="utf-8"
        )
        result = script("--config", str(config), "--db", url, "run", timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: port 127.0.0.1:{port} is already in use (another coverwatch still running?): "
        "stop it, or set [http] port (COVERWATCH_HTTP__PORT) to a free port"
    ]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://u@127.0.0.1/db", "database url: scheme 'mysql' is not supported; use sqlite:///"),
        ("127.0.0.1/db", "database url: no scheme; use sqlite:///PATH or postgresql://"),
        (
            "postgresql+asyncpg://u@127.0.0.1/db",
            "database url: driver 'asyncpg' for 'postgresql+asyncpg' is not installed",
        ),
        ("postgresql://u@127.0.0.1:notaport/db", "database url: malformed"),
    ],
)
def test_a_bad_database_url_is_one_line(url: str, reason: str) -> None:
    result = cli(url, "alerts")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {reason}")
    assert len(result.stderr.splitlines()) == 1
