"""`codestudio prune`: delete executions and batches older than RETENTION_DAYS (final ones only;
usage records stay), as the scheduled retention task does; `--dry-run` only says what would go."""
from __future__ import annotations

import json
from dataclasses import replace

import click
from flask import current_app
from flask.cli import with_appcontext

from tasks.retention import PruneReport, RetentionBusy, prune_now, survey

from ..stores import retention_ports


def _show(report: PruneReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    verb = "would delete" if report.dry_run else "deleted"
    click.echo(f"{verb} (created before {report.cutoff:%Y-%m-%d %H:%M} UTC):")
    for kind in report.kinds:
        dates = f"  {kind.oldest:%Y-%m-%d} .. {kind.newest:%Y-%m-%d}" if kind.oldest and kind.newest else ""
        click.echo(f"  {kind.kind:<18} {kind.rows:>9}{dates}")


@click.command("prune")
@click.option("--dry-run", is_flag=True, help="report what would be deleted; delete nothing")
@click.option("--days", type=float, default=None, help="override RETENTION_DAYS for this run")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@with_appcontext
def prune_command(dry_run: bool, days: float | None, as_json: bool) -> None:
    """Delete final executions and batches older than RETENTION_DAYS (usage records are kept)."""
    retention = retention_ports(current_app)
    if days is not None:
        if days <= 0:
            raise click.BadParameter("must be more than 0", param_hint="--days")
        retention = replace(retention, days=days)
    try:
        report = survey(retention) if dry_run else prune_now(retention, current_app.extensions["redis"])
    except RetentionBusy as exc:
        raise click.ClickException(f"{exc}: try again later") from exc
    if report is None:
        click.echo("RETENTION_DAYS is 0: everything is kept")
        return
    _show(report, as_json)
