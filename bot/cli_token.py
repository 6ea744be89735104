"""`coverwatch token create|list|revoke`: credentials for the HTTP API (docs/api.md).

`create` prints the token once, on stdout alone (so `TOKEN=$(coverwatch token create …)` works)
with the reminder on stderr; only its hash is stored, so a lost token is revoked and replaced.
"""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli_common import CliError, options, print_json, reported
from bot.json_output import tokens_json
from storage.api_tokens import SCOPES, TokenError, create_token, list_tokens, revoke_token
from storage.db import session_scope

app = typer.Typer(help="API tokens for finance and HR systems (printed once, stored hashed).")


@app.command()
@reported
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Who uses it, e.g. erp (audit log).")],
    scope: Annotated[str, typer.Option("--scope", help=f"Comma-separated: {', '.join(SCOPES)}.")],
) -> None:
    """Create a token and print it once."""
    context = options(ctx).app()
    try:
        with session_scope(context.engine) as session:
            token = create_token(session, name, scope.split(","), now=context.now())
    except TokenError as exc:
        raise CliError(str(exc)) from None
    typer.echo(token)
    typer.echo(f"token {name!r} created; it is shown only now, store it safely", err=True)


@app.command("list")
@reported
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List tokens (names, scopes, dates; never the secret)."""
    context = options(ctx).app()
    with session_scope(context.engine) as session:
        document = tokens_json(list_tokens(session))
    if as_json:
        print_json(document)
        return
    if not document["tokens"]:
        typer.echo("no API tokens")
    for row in document["tokens"]:
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        typer.echo(f"{row['name']:<24} {','.join(row['scopes']):<48} {state}")


@app.command()
@reported
def revoke(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The token's name.")]
) -> None:
    """Revoke a token: its next request is refused (401)."""
    context = options(ctx).app()
    try:
        with session_scope(context.engine) as session:
            revoke_token(session, name, now=context.now())
    except TokenError as exc:
        raise CliError(str(exc)) from None
    typer.echo(f"token {name!r} revoked")
