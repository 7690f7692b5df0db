"""A batch's results: the full view (GET), and the grade report (CSV or JSON), one row per submission."""
from __future__ import annotations

import csv
import io
from collections import defaultdict

import sqlalchemy as sa

from ..extensions import db
from ..models import Batch, BatchCase, BatchSubmission


def _cases_by_submission(batch: Batch) -> dict[int, list[BatchCase]]:
    grouped: dict[int, list[BatchCase]] = defaultdict(list)
    for case in db.session.execute(sa.select(BatchCase).where(BatchCase.batch_id == batch.id)
                                   .order_by(BatchCase.submission_id, BatchCase.test_index)).scalars():
        grouped[case.submission_id].append(case)
    return grouped


def _submissions(batch: Batch) -> list[BatchSubmission]:
    return list(db.session.execute(sa.select(BatchSubmission).where(BatchSubmission.batch_id == batch.id)
                                   .order_by(BatchSubmission.position)).scalars())


def max_score(batch: Batch) -> float:
    return float(sum(t["points"] for t in batch.tests))


def _case_view(case: BatchCase, test_name: str) -> dict:
    return dict(test=test_name, verdict=case.status, points=case.points, time=case.cpu_time,
                wall_time=case.wall_time, memory_kb=case.memory_kb, returncode=case.returncode,
                stdout=case.stdout, stderr=case.stderr, diff=case.diff, message=case.message)


def view(batch: Batch, with_results: bool = True) -> dict:
    top = max_score(batch)
    return dict(
        id=batch.id, status=batch.status, language=batch.language, compare=batch.compare,
        progress=dict(done=batch.done, total=batch.total, cancelled=batch.cancelled,
                      percent=round(100.0 * batch.done / batch.total, 1) if batch.total else 100.0),
        tests=[dict(name=t["name"], points=t["points"]) for t in batch.tests], max_score=top,
        created_at=batch.created_at, started_at=batch.started_at, finished_at=batch.finished_at,
        **({"submissions": _submission_views(batch, top)} if with_results else {}),
    )


def _submission_views(batch: Batch, top: float) -> list[dict]:
    names = [t["name"] for t in batch.tests]
    cases = _cases_by_submission(batch)
    return [dict(
        id=sub.ref, status=sub.status, score=sub.score, max_score=top,
        compile=dict(status=sub.compile_status, output=sub.compile_output, time=sub.compile_time,
                     count=sub.compiles),
        results=[_case_view(case, names[case.test_index]) for case in cases[sub.id]],
    ) for sub in _submissions(batch)]


def report(batch: Batch) -> dict:
    """The grade sheet: per submission its verdict per test and its score."""
    names = [t["name"] for t in batch.tests]
    cases = _cases_by_submission(batch)
    rows = [dict(submission=sub.ref, status=sub.status, compile=sub.compile_status,
                 verdicts={names[c.test_index]: c.status for c in cases[sub.id]}, score=sub.score)
            for sub in _submissions(batch)]
    return dict(batch_id=batch.id, status=batch.status, language=batch.language, tests=names,
                max_score=max_score(batch), rows=rows)


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
