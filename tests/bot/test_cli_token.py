"""`coverwatch token create|list|revoke` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import cli


def test_token_lifecycle(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cw.db"
    assert cli(url, "init").exit_code == 0

    created = cli(url, "token", "create", "--name", "erp", "--scope", "payments:write,read")
    assert created.exit_code == 0, created.output
    assert created.stdout.startswith("cw_") and len(created.stdout.strip()) == 59
    assert "shown only now" in created.stderr

    listed = json.loads(cli(url, "token", "list", "--json").stdout)
    assert listed == {
        "tokens": [
            {
                "name": "erp",
                "scopes": ["payments:write", "read"],
                "created_at": "2026-11-20T02:00:00+00:00",
                "revoked_at": None,
            }
        ]
    }
    assert created.stdout.strip() not in cli(url, "token", "list").stdout

    assert cli(url, "token", "revoke", "erp").stdout == "token 'erp' revoked\n"
    assert "revoked 2026-11-20T02:00:00+00:00" in cli(url, "token", "list").stdout


def test_token_errors_are_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cw.db"
    assert cli(url, "init").exit_code == 0

    bad_scope = cli(url, "token", "create", "--name", "erp", "--scope", "admin")
    unknown = cli(url, "token", "revoke", "nobody")

    assert (bad_scope.exit_code, unknown.exit_code) == (1, 1)
    assert bad_scope.stderr.startswith("error: unknown scope admin (expected payments:write")
    assert unknown.stderr == "error: no token named 'nobody'\n"
