"""A batch's results: the view (GET: status, complete counts, and a page of submissions with their
per-test results), and the grade report (CSV, or JSON by pages), one row per submission."""
from __future__ import annotations

import base64
import binascii
import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass

import sqlalchemy as sa

from ..errors import Problem
from ..extensions import db
from ..models import Artifact, Batch, BatchCase, BatchSubmission
from .artifacts import by_case

PAGE_CASES = 1000  # most case results in one page of the view (a page holds whole submissions)
REPORT_PAGE_CELLS = 20000  # most verdicts in one page of the JSON report


@dataclass(frozen=True)
class Page:
    """Submissions after the cursor's position, at most `limit` of them (and at most `cells`
    submissions x tests, but always one)."""
    limit: int
    cursor: str | None = None
    cells: int = PAGE_CASES

    def after(self) -> int:
        if not self.cursor:
            return -1
        try:
            position = int(base64.urlsafe_b64decode(self.cursor.encode()).decode())
        except (ValueError, UnicodeDecodeError, binascii.Error):
            position = -1
        if position < 0:
            raise Problem(422, "invalid_cursor", "cursor is not valid")
        return position

    def size(self, tests: int) -> int:
        return max(1, min(self.limit, self.cells // max(1, tests)))


def _cursor(position: int) -> str:
    return base64.urlsafe_b64encode(str(position).encode()).decode()


def _cases_by_submission(submission_ids: list[int], *columns) -> dict[int, list]:
    """The cases of these submissions in test order: whole rows, or just these columns."""
    query = sa.select(*columns) if columns else sa.select(BatchCase)
    result = db.session.execute(query.where(BatchCase.submission_id.in_(submission_ids))
                                .order_by(BatchCase.submission_id, BatchCase.test_index))
    grouped: dict[int, list] = defaultdict(list)
    for case in (result if columns else result.scalars()):
        grouped[case.submission_id].append(case)
    return grouped


def _submissions(batch: Batch, page: Page | None) -> tuple[list[BatchSubmission], str | None]:
    """The page's submissions in order, and the cursor of the next page (None: this is the last)."""
    query = sa.select(BatchSubmission).where(BatchSubmission.batch_id == batch.id).order_by(BatchSubmission.position)
    if page is None:
        return list(db.session.execute(query).scalars()), None
    size = page.size(len(batch.tests))
    rows = list(db.session.execute(query.where(BatchSubmission.position > page.after()).limit(size + 1)).scalars())
    return rows[:size], (_cursor(rows[size - 1].position) if len(rows) > size else None)


def max_score(batch: Batch) -> float:
    return float(sum(t["points"] for t in batch.tests))


def _case_view(case: BatchCase, test_name: str, artifacts: list[Artifact]) -> dict:
    return dict(test=test_name, verdict=case.status, points=case.points, time=case.cpu_time,
                wall_time=case.wall_time, memory_kb=case.memory_kb, returncode=case.returncode,
                stdout=case.stdout, stderr=case.stderr, diff=case.diff, message=case.message,
                artifacts=artifacts, artifacts_note=case.artifacts_note)


def view(batch: Batch, page: Page | None = None) -> dict:
    """Status and progress; with a page, also the counts of every verdict over the whole batch,
    that page of submissions with their results, and `next_cursor`."""
    top = max_score(batch)
    body = dict(
        id=batch.id, status=batch.status, language=batch.language, compare=batch.compare,
        progress=dict(done=batch.done, total=batch.total, cancelled=batch.cancelled,
                      percent=round(100.0 * batch.done / batch.total, 1) if batch.total else 100.0),
        tests=[dict(name=t["name"], points=t["points"]) for t in batch.tests], max_score=top,
        created_at=batch.created_at, started_at=batch.started_at, finished_at=batch.finished_at,
    )
    if page is not None:
        submissions, body["next_cursor"] = _submissions(batch, page)
        body.update(verdicts=_verdict_counts(batch), submissions=_submission_views(batch, submissions, top))
    return body


def _unmade_verdict(submission_status: str) -> str:
    """The verdict of every test of a submission whose cases are not made yet (never claimed)."""
    return "cancelled" if submission_status == "cancelled" else "queued"


def _verdict_counts(batch: Batch) -> dict[str, int]:
    """Cases by verdict, with a submission whose cases are not made yet counted as its tests.
    One statement, so one snapshot: a submission whose cases a worker makes meanwhile is counted
    once (two queries, under READ COMMITTED, could miss it in both)."""
    made = sa.select(sa.literal("case").label("kind"), BatchCase.status.label("status"), sa.func.count()).where(
        BatchCase.batch_id == batch.id).group_by(BatchCase.status)
    unmade = sa.select(sa.literal("submission"), BatchSubmission.status, sa.func.count()).where(
        BatchSubmission.batch_id == batch.id, ~sa.exists().where(BatchCase.submission_id == BatchSubmission.id),
    ).group_by(BatchSubmission.status)
    counts: Counter[str] = Counter()
    for kind, status, count in db.session.execute(sa.union_all(made, unmade)).all():
        if kind == "case":
            counts[status] += count
        else:
            counts[_unmade_verdict(status)] += count * len(batch.tests)
    return dict(sorted(counts.items()))


def _unmade_results(sub: BatchSubmission, names: list[str]) -> list[dict]:
    verdict = _unmade_verdict(sub.status)
    return [dict(test=name, verdict=verdict, points=0.0, time=None, wall_time=None, memory_kb=None, returncode=None,
                 stdout=None, stderr=None, diff=None, message=None, artifacts=[], artifacts_note=None)
            for name in names]


def _submission_views(batch: Batch, submissions: list[BatchSubmission], top: float) -> list[dict]:
    names = [t["name"] for t in batch.tests]
    cases = _cases_by_submission([sub.id for sub in submissions])
    kept = by_case(case.id for page in cases.values() for case in page)
    return [dict(
        id=sub.ref, status=sub.status, score=sub.score, max_score=top,
        compile=dict(status=sub.compile_status, output=sub.compile_output, time=sub.compile_time,
                     count=sub.compiles),
        results=[_case_view(case, names[case.test_index], kept.get(case.id, [])) for case in cases[sub.id]]
        or _unmade_results(sub, names),
    ) for sub in submissions]


def report(batch: Batch, page: Page | None = None) -> dict:
    """The grade sheet: per submission its verdict per test and its score (a page of it, with
    `next_cursor`, or all of it)."""
    names = [t["name"] for t in batch.tests]
    submissions, next_cursor = _submissions(batch, page)
    cases = _cases_by_submission([sub.id for sub in submissions], BatchCase.submission_id, BatchCase.test_index,
                                 BatchCase.status)
    rows = [dict(submission=sub.ref, status=sub.status, compile=sub.compile_status,
                 verdicts={names[c.test_index]: c.status for c in cases[sub.id]}
                 or dict.fromkeys(names, _unmade_verdict(sub.status)), score=sub.score)
            for sub in submissions]
    sheet = dict(batch_id=batch.id, status=batch.status, language=batch.language, tests=names,
                 max_score=max_score(batch), rows=rows)
    return sheet if page is None else dict(sheet, next_cursor=next_cursor)


def report_csv(batch: Batch) -> str:
    sheet = report(batch)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["submission", "status", "compile", *map(_cell, sheet["tests"]), "score", "max_score"])
    for row in sheet["rows"]:
        writer.writerow([_cell(row["submission"]), row["status"], row["compile"] or "",
                         *(row["verdicts"].get(name, "") for name in sheet["tests"]),
                         f"{row['score']:g}", f"{sheet['max_score']:g}"])
    return out.getvalue()


def _cell(text: str) -> str:
    """Submission ids are the caller's text: keep spreadsheets from reading them as formulas."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
