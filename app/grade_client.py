"""`codestudio grade`: an HTTP client of the batch API. Submits a directory of submissions against a
tests file, follows the batch's progress and saves its grade report. Never touches the database."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click
import requests

from .grade_submissions import discover_submissions
from .grade_tests_file import load_tests

DEFAULT_URL = "http://127.0.0.1:8000"
DEV_KEY_FILE = Path("instance") / "dev-api-key"  # written by `make run`


class ApiError(click.ClickException):
    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


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


class Api:
    def __init__(self, url: str, key: str):
        self.base = url.rstrip("/") + "/codestudio/batch"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str = "", **kwargs) -> requests.Response:
        try:
            response = self.session.request(method, self.base + path, timeout=(10, 120), **kwargs)
        except requests.RequestException as exc:
            raise ApiError(f"cannot reach {self.base}: {exc}") from None
        if response.status_code >= 400:
            raise _problem(response)
        return response

    def poll(self, batch_id: str, every: float) -> dict:
        while True:
            try:
                return self.call("GET", f"/{batch_id}", params={"results": "false"}).json()  # progress only
            except ApiError as exc:
                if exc.status != 429:
                    raise
                time.sleep(exc.retry_after or every)

    def sheet(self, batch_id: str) -> dict:
        """The JSON grade sheet, its rows gathered page by page."""
        sheet, params = None, {"format": "json"}
        while True:
            page = self.call("GET", f"/{batch_id}/report.csv", params=dict(params)).json()
            params["cursor"] = page.pop("next_cursor", None)
            sheet = page if sheet is None else {**sheet, "rows": sheet["rows"] + page["rows"]}
            if not params["cursor"]:
                return sheet


def _problem(response: requests.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {"detail": response.text[:200]}  # not a problem document
    message = f"{response.status_code} {body.get('code', response.reason)}: {body.get('detail') or body.get('title')}"
    if body.get("errors"):
        message += " " + json.dumps(body["errors"])
    retry = response.headers.get("Retry-After", "")
    return ApiError(message, response.status_code, float(retry) if retry.isdigit() else None)


def follow(api: Api, batch: dict, every: float) -> dict:
    """Poll until the batch is done or cancelled, with a progress bar on stderr."""
    with click.progressbar(length=batch["progress"]["total"] or 1, label=f"batch {batch['id']}",
                           file=sys.stderr) as bar:
        shown = 0
        while True:
            bar.update(batch["progress"]["done"] - shown)
            shown = batch["progress"]["done"]
            if batch["status"] in ("done", "cancelled"):
                return batch
            time.sleep(every)
            batch = api.poll(batch["id"], every)


def summary(sheet: dict) -> str:
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
def grade(ctx, submissions, tests_file, language, url, key, compare, abs_tol, rel_tol, timeout, memory_mb, out,
          fmt, wait, poll):
    """Grade every file or directory in SUBMISSIONS against the tests, through the batch API."""
    key = resolve_key(key)
    tests, payload = load_tests(tests_file)
    flags = {"language": language, "compare": compare, "abs_tol": abs_tol, "rel_tol": rel_tol}
    payload.update({k: v for k, v in flags.items() if v is not None})
    limits = {k: v for k, v in {"timeout": timeout, "memory_mb": memory_mb}.items() if v is not None}
    payload["limits"] = {**(payload.get("limits") or {}), **limits}
    if not payload.get("language"):
        raise click.UsageError("no language: pass --language or set `language:` in the tests file")
    discovered = discover_submissions(submissions, default_entry(payload["language"]))
    for skipped in discovered.skipped:  # the rest of the class is graded
        click.echo(skipped, err=True)
    payload.update(tests=tests, submissions=discovered.submissions)
    api = Api(url, key)
    batch = api.call("POST", json=payload).json()
    if not wait:
        click.echo(batch["id"])
        click.echo(f"batch {batch['id']} queued: {api.base}/{batch['id']}", err=True)
        return
    try:
        batch = follow(api, batch, poll)
    except KeyboardInterrupt:
        click.echo(_interrupted(url, batch["id"]), err=True)
        ctx.exit(130)
    fmt = fmt or ("json" if out and out.suffix.lower() == ".json" else "csv")
    sheet = api.sheet(batch["id"])
    report = json.dumps(sheet).encode() if fmt == "json" else api.call(
        "GET", f"/{batch['id']}/report.csv", params={"format": "csv"}).content
    if out:
        out.write_bytes(report)
    else:
        click.echo(report, nl=False)
    click.echo(summary(sheet), err=True)
    ctx.exit(0 if sheet["status"] == "done" else 1)
