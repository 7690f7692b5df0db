"""Judge0's informational endpoints: languages, statuses, about, config_info, system_info,
statistics and workers, answered from our registry, live workers, tiers and records."""
from __future__ import annotations

import os
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from sandbox import registry
from tasks.callbacks import MAX_TRIES, TIMEOUT_SECONDS
from tasks.routing import queue_for

from ..auth import current_user, presented_key
from ..extensions import db
from ..models import Execution, Judge0Submission, utcnow
from ..services.quotas import day_start
from ..services.tiers import tier_of
from ..services.workers import live_languages, live_workers
from . import foreign_errors
from .judge0 import MAX_BATCH
from .judge0_ids import LANGUAGES, STATUSES
from .judge0_submit import NUMBERS
from .judge0_view import stamp

info_bp = Blueprint("judge0_info", __name__)
VERSION = "1.13.1"  # the Judge0 CE API this one answers like (its SDK picks language ids by it)
foreign_errors(info_bp, "error")


def _name(judge0_id: int, live: dict) -> str:
    lang_id, template = LANGUAGES[judge0_id]
    return template.format(live.get(lang_id) or registry().get(lang_id).name)


@info_bp.route("/languages")
def languages():
    live = live_languages()
    return jsonify([{"id": i, "name": _name(i, live)} for i, (lang, _) in sorted(LANGUAGES.items()) if lang in live])


@info_bp.route("/languages/all")
def all_languages():
    live = live_languages()
    return jsonify([{"id": i, "name": _name(i, live), "is_archived": lang not in live}
                    for i, (lang, _) in sorted(LANGUAGES.items())])


@info_bp.route("/languages/<int:judge0_id>")
def language(judge0_id: int):
    if judge0_id not in LANGUAGES:
        return jsonify(error=f"language with id {judge0_id} doesn't exist"), 404
    live, lang = live_languages(), registry().get(LANGUAGES[judge0_id][0])
    return jsonify(id=judge0_id, name=_name(judge0_id, live), is_archived=lang.id not in live, source_file=lang.main,
                   compile_cmd=" ".join(lang.compile) if lang.compile else None, run_cmd=" ".join(lang.run))


@info_bp.route("/statuses")
def statuses():
    return jsonify([{"id": i, "description": d} for i, d in STATUSES.items()])


@info_bp.route("/about")
def about():
    return jsonify(version=VERSION, homepage="/codestudio/openapi.json", source_code="/",
                   maintainer="Code Studio (a Judge0 CE-compatible API)")


@info_bp.route("/config_info")
def config_info():
    """The 39 keys of Judge0's configuration, with the limits of the caller's tier when a key is sent."""
    tier = tier_of(current_user()) if presented_key() else current_app.config["TIERS"]["free"]
    return jsonify(
        allow_enable_network=False, allow_enable_per_process_and_thread_memory_limit=True,
        allow_enable_per_process_and_thread_time_limit=True, allowed_languages_for_compile_options=[],
        callbacks_max_tries=MAX_TRIES, callbacks_timeout=TIMEOUT_SECONDS,
        cpu_extra_time=NUMBERS["cpu_extra_time"][0], cpu_time_limit=NUMBERS["cpu_time_limit"][0],
        enable_additional_files=True, enable_batched_submissions=True, enable_callbacks=True,
        enable_command_line_arguments=True, enable_compiler_options=False, enable_network=False,
        enable_per_process_and_thread_memory_limit=False, enable_per_process_and_thread_time_limit=False,
        enable_submission_delete=True, enable_wait_result=True, maintenance_mode=False,
        max_cpu_extra_time=NUMBERS["cpu_extra_time"][2], max_cpu_time_limit=min(15, tier["max_timeout"]),
        max_extract_size=current_app.config["MAX_CODE_BYTES"] // 1024, max_file_size=NUMBERS["max_file_size"][0],
        max_max_file_size=NUMBERS["max_file_size"][2], max_max_processes_and_or_threads=NUMBERS[
            "max_processes_and_or_threads"][2], max_memory_limit=min(512000, tier["max_memory_mb"] * 1024),
        max_number_of_runs=NUMBERS["number_of_runs"][2], max_processes_and_or_threads=60,
        max_queue_size=tier["concurrent_executions"], max_stack_limit=NUMBERS["stack_limit"][2],
        max_submission_batch_size=MAX_BATCH, max_wall_time_limit=min(20, tier["max_timeout"]),
        memory_limit=NUMBERS["memory_limit"][0], number_of_runs=1, redirect_stderr_to_stdout=False,
        stack_limit=NUMBERS["stack_limit"][0], submission_cache_duration=0.0, use_docs_as_homepage=False,
        wall_time_limit=NUMBERS["wall_time_limit"][0])


@info_bp.route("/system_info")
def system_info():
    """The API host's architecture, CPUs, memory and kernel: for callers with a key only."""
    current_user()
    with open("/proc/meminfo") as fh:
        memory = dict(line.split(":", 1) for line in fh if ":" in line)
    return jsonify({"Architecture": os.uname().machine, "CPU(s)": str(os.cpu_count()),
                    "Mem": memory.get("MemTotal", "").strip(), "Kernel": os.uname().release})


@info_bp.route("/statistics")
def statistics():
    """The caller's Judge0 submissions: totals, by language and by status."""
    user = current_user()
    mine = sa.select(Judge0Submission.language_id, Execution.status, Execution.created_at).join(Execution).where(
        Execution.user_id == user.id).subquery()
    total, today, recent = db.session.execute(sa.select(
        sa.func.count(), sa.func.count().filter(mine.c.created_at >= day_start()),
        sa.func.count().filter(mine.c.created_at >= day_start() - timedelta(days=29)))).one()
    by_language = db.session.execute(sa.select(mine.c.language_id, sa.func.count()).group_by(mine.c.language_id)).all()
    by_status = db.session.execute(sa.select(mine.c.status, sa.func.count()).group_by(mine.c.status)).all()
    now = utcnow()
    return jsonify(created_at=stamp(now), cached_until=stamp(now),
                   submissions={"total": total, "today": today, "last_30_days": recent},
                   languages=[{"language": {"id": i, "name": _name(i, live_languages())}, "count": n}
                              for i, n in by_language],
                   statuses=[{"status": s, "count": n} for s, n in by_status],
                   database={"size_pretty": None, "size_in_bytes": None})


@info_bp.route("/workers")
def workers():
    """Per language queue: waiting messages and live workers (Judge0 reports Resque's queues)."""
    client, alive = current_app.extensions["redis"], live_workers()
    answer = []
    for lang in registry():
        queue = queue_for(lang.id)
        serving = sum(1 for w in alive if queue in w.get("queues", ()))
        answer.append({"queue": queue, "size": client.llen(queue), "available": serving,
                       "idle": None, "working": None, "paused": 0, "failed": None})
    return jsonify(answer)
