"""`codestudio grade`: a client of the batch API (codestudio_client). Submits a directory of submissions
against a tests file, follows the batch's progress and saves its grade report. Never touches the database."""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from codestudio_client import DEFAULT_URL, Batch, BatchProgress, Client, CodeStudioError, RetryPolicy

from .grade_submissions import discover_submissions
from .grade_tests_file import load_tests

DEV_KEY_FILE = Path("instance") / "dev-api-key"  # written by `make run`
# a class's batch may take a while: rate limits met while following it are waited out for up to an hour
PATIENT = RetryPolicy(max_attempts=100, max_delay=60.0, budget=3600.0)


def resolve_key(key: str | None, cwd: Path | None = None) -> str:
    """--key, else $CODESTUDIO_API_KEY, else instance/dev-api-key under the current directory."""
    key = key or os.environ.get("CODESTUDIO_API_KEY")
    dev_key = (cwd or Path.cwd()) / DEV_KEY_FILE
    if not key and dev_key.is_file():
        key = dev_key.read_text().strip()
    if not key:
        raise click.UsageError(f"no API key: pass --key, set CODESTUDIO_API_KEY or run where {DEV_KEY_FILE} exists")
    return key


def default_entry(language: str) -> str | None:
    """The language's entry file name (main.py, Main.java), from the language definitions."""
    from sandbox.registry import UnknownLanguage, registry

    try:
        return registry().get(language).main
    except UnknownLanguage:  # the API refuses it with a clear message
        return None


@contextmanager
def api_errors() -> Iterator[None]:
    """The API's refusals and an unreachable server as one-line errors (exit 1), not tracebacks."""
    try:
        yield
    except CodeStudioError as exc:
        raise click.ClickException(str(exc)) from None


def follow(api: Client, batch: Batch, every: float) -> Batch:
    """Poll until the batch is done or cancelled, with a progress bar on stderr."""
    with click.progressbar(length=batch.progress.total or 1, label=f"batch {batch.id}", file=sys.stderr) as bar:
        shown = 0

        def advance(progress: BatchProgress) -> None:
            nonlocal shown
            bar.update(progress.done - shown)
            shown = progress.done

        advance(batch.progress)
        return api.wait_batch(batch.id, on_progress=advance, poll=every)


def summary(sheet: dict[str, Any]) -> str:
    """One line from the JSON grade sheet."""
    scores = [row["score"] for row in sheet["rows"]]
    mean = sum(scores) / len(scores) if scores else 0.0
    return (f"graded {len(scores)} submissions x {len(sheet['tests'])} tests: {sheet['status']}, "
            f"mean score {mean:g}/{sheet['max_score']:g}")


def _interrupted(url: str, batch_id: str) -> str:
    where = f"{url.rstrip('/')}/codestudio/batch/{batch_id}"
    auth = '-H "Authorization: Bearer $CODESTUDIO_API_KEY"'
    return (f"\ninterrupted; batch {batch_id} keeps running on the server.\n"
            f"  progress: curl {auth} {where}\n  report:   curl {auth} {where}/report.csv\n"
            f"  cancel:   curl -X DELETE {auth} {where}")


def _batch_request(submissions: Path, tests_file: Path, flags: dict[str, Any],
                   limits: dict[str, Any]) -> dict[str, Any]:
    """The batch to POST: the tests file's tests and defaults, overridden by the flags given."""
    tests, payload = load_tests(tests_file)
    payload.update({k: v for k, v in flags.items() if v is not None})
    payload["limits"] = {**(payload.get("limits") or {}), **{k: v for k, v in limits.items() if v is not None}}
    if not payload.get("language"):
        raise click.UsageError("no language: pass --language or set `language:` in the tests file")
    discovered = discover_submissions(submissions, default_entry(payload["language"]))
    for skipped in discovered.skipped:  # the rest of the class is graded
        click.echo(skipped, err=True)
    payload.update(tests=tests, submissions=discovered.submissions)
    return payload


@click.command("grade")
@click.argument("submissions", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--tests", "tests_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML or JSON: a list of tests, or a mapping with `tests:` and defaults")
@click.option("--language", help="language id or alias (default: the tests file's `language`)")
@click.option("--url", envvar="CODESTUDIO_URL", default=DEFAULT_URL, show_default=True, help="API base URL")
@click.option("--key", help="API key [default: $CODESTUDIO_API_KEY, else instance/dev-api-key]")
@click.option("--compare", type=click.Choice(["exact", "trim", "tokens", "float"]))
@click.option("--abs-tol", type=float)
@click.option("--rel-tol", type=float)
@click.option("--timeout", type=float, help="seconds per test run")
@click.option("--memory-mb", type=int)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="report file [default: stdout]")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), help="[default: from --out, else csv]")
@click.option("--wait/--no-wait", default=True, show_default=True, help="follow the batch and save its report")
@click.option("--poll", default=1.0, show_default=True, type=click.FloatRange(min=0.1), help="seconds between polls")
@click.pass_context
def grade(ctx: click.Context, submissions: Path, tests_file: Path, language: str | None, url: str, key: str | None,
          compare: str | None, abs_tol: float | None, rel_tol: float | None, timeout: float | None,
          memory_mb: int | None, out: Path | None, fmt: str | None, wait: bool, poll: float) -> None:
    """Grade every file or directory in SUBMISSIONS against the tests, through the batch API."""
    key = resolve_key(key)
    payload = _batch_request(submissions, tests_file,
                             {"language": language, "compare": compare, "abs_tol": abs_tol, "rel_tol": rel_tol},
                             {"timeout": timeout, "memory_mb": memory_mb})
    api = Client(url, key, retry=PATIENT)
    with api_errors():
        batch = api.submit_batch(**payload)
    if not wait:
        click.echo(batch.id)
        click.echo(f"batch {batch.id} queued: {api.url}/codestudio/batch/{batch.id}", err=True)
        return
    try:
        with api_errors():
            batch = follow(api, batch, poll)
    except KeyboardInterrupt:
        click.echo(_interrupted(url, batch.id), err=True)
        ctx.exit(130)
    fmt = fmt or ("json" if out and out.suffix.lower() == ".json" else "csv")
    with api_errors():
        sheet = api.batch_report(batch.id)
        report = json.dumps(sheet).encode() if fmt == "json" else api.batch_report_csv(batch.id)
    if out:
        out.write_bytes(report)
    else:
        click.echo(report, nl=False)
    click.echo(summary(sheet), err=True)
    ctx.exit(0 if sheet["status"] == "done" else 1)
