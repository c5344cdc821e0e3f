"""Command line for the audit trail: `audit verify`, `audit checkpoint`, `audit public-key`."""

from __future__ import annotations

import re
from pathlib import Path

import click
from flask.cli import AppGroup

from registry.audit import checkpoints
from registry.audit.service import verify_stored_chain
from registry.extensions import db

audit_cli = AppGroup("audit", help="Inspect the audit trail.")


def _head(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*[:\s]\s*([0-9a-fA-F]{64})\s*", value)
    if not match:
        raise click.BadParameter("give the head as SEQ:HASH, e.g. 42:3fa9…", param_hint="--head")
    return int(match.group(1)), match.group(2).lower()


@audit_cli.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A checkpoint kept outside the registry (JSON: one checkpoint, or the whole "
    "/api/v1/audit/checkpoints document). May be given more than once.",
)
@click.option("--head", "head", help="A chain head copied from elsewhere, as SEQ:HASH.")
def verify(checkpoint_files: tuple[Path, ...], head: str | None) -> None:
    """Check the chain, the signed checkpoints and any external ones; exit 1 if any fails."""
    given_head = _head(head)
    result = verify_stored_chain()
    if not result.ok:
        click.echo(f"audit chain BROKEN at event {result.broken_seq}: {result.reason}", err=True)
        click.echo(
            f"last good event: seq {result.head_seq} {result.head_hash} ({result.count} verified)",
            err=True,
        )
        raise click.exceptions.Exit(1)
    click.echo(f"audit chain intact: {result.count} events")
    click.echo(f"chain head: seq {result.head_seq} {result.head_hash}")
    count, problems = checkpoints.check_stored()
    try:
        own_copy = checkpoints.local_copy()
    except checkpoints.CheckpointRefused as error:
        raise click.ClickException(str(error)) from None
    if own_copy is not None:
        checked, found = checkpoints.check(
            [own_copy],
            public_keys=checkpoints.trusted_public_keys(),
            label=f"signer's copy in {checkpoints.local_copy_path().name}",
        )
        count += checked
        problems += found
    for path in checkpoint_files:
        try:
            checked, found = checkpoints.check_external(
                path.read_text(encoding="utf-8"), label=f"checkpoint in {path.name}"
            )
        except (checkpoints.CheckpointFileError, UnicodeDecodeError) as error:
            raise click.ClickException(f"{path}: {error}") from None
        count += checked
        problems += found
    if given_head is not None:
        problems += checkpoints.check_head(*given_head)
        count += 1
    if problems:
        for problem in problems:
            click.echo(f"checkpoint FAILED: {problem}", err=True)
        click.echo(
            f"the stored history does not extend {len(problems)} of {count} checkpoints",
            err=True,
        )
        raise click.exceptions.Exit(1)
    if count == 0:
        click.echo("no signed checkpoints yet: run `flask --app wsgi audit checkpoint`")
    else:
        click.echo(f"checkpoints: {count} signed checkpoints verified; the chain extends each")


@audit_cli.command("checkpoint")
def checkpoint() -> None:
    """Sign and store a checkpoint of the current chain head now; print it as JSON."""
    import json

    try:
        made = checkpoints.create()
    except checkpoints.CheckpointRefused as error:
        db.session.rollback()
        raise click.ClickException(f"not signed: {error}") from None
    db.session.commit()
    if made is not None:  # always: only `only_if_advanced` skips signing
        click.echo(json.dumps(checkpoints.as_dict(made), sort_keys=True))


@audit_cli.command("public-key")
def public_key() -> None:
    """Print the checkpoint signing key's public half (base64, raw Ed25519)."""
    click.echo(checkpoints.public_key())
