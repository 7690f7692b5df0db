"""Worker start-up: check toolchains and the sandbox, consume only servable queues,
advertise the languages this worker serves (a heartbeat key in Redis) and look for lost
work of those languages (tasks/recovery.py)."""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

from celery import signals

from sandbox import Language, Runner, registry
from sandbox.packages import available_packages
from sandbox.toolchains import available_toolchains

from . import keys, ports, worker_gauges  # noqa: F401  (its signal receivers report disk and warm jails)
from .artifact_expiry import ArtifactExpiry
from .celery_typing import receiver
from .execution import close_runner, redis_client, runner
from .ports import RecoveryPolicy
from .recovery import Recovery
from .routing import batch_queue_for, queue_for
from .tiers import smallest_compile_cap

log = logging.getLogger(__name__)
EX_CONFIG = 78


class Advertiser:
    """Keeps `codestudio:worker:<hostname>` alive while the worker runs."""

    def __init__(self, url: str, hostname: str, languages: dict[str, str], batch_languages: dict[str, str],
                 queues: list[str], names: dict[str, str], packages: dict[str, dict[str, str]] | None = None):
        self.url, self.hostname = url, hostname
        # names: what each language is here, where its entry has alternative toolchains ("C# (.NET)");
        # packages: the library layer of each language that has one (name -> version)
        self.payload = json.dumps({"hostname": hostname, "languages": languages, "batch_languages": batch_languages,
                                   "queues": queues, "names": names, "packages": packages or {},
                                   "pid": os.getpid()})
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="codestudio-heartbeat", daemon=True)

    def beat(self) -> None:
        redis_client(self.url).set(keys.worker_key(self.hostname), self.payload, ex=keys.HEARTBEAT_TTL_SECONDS)

    def _loop(self) -> None:
        while not self.stopped.wait(keys.HEARTBEAT_SECONDS):
            try:
                self.beat()
            except Exception as exc:  # Redis down: keep trying, the key expires meanwhile
                log.warning("heartbeat failed: %s", exc)

    def start(self) -> None:
        self.beat()
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        try:
            redis_client(self.url).delete(keys.worker_key(self.hostname))
        except Exception:
            pass


# set up once the worker knows its queues (main process; pool processes inherit them)
_background: dict[str, Advertiser | Recovery | ArtifactExpiry] = {}  # threads started when the worker is ready
_prewarm: list[Language] = []  # compilers each pool process warms at its start


def _refuse(message: str) -> None:
    log.critical("worker refuses to start: %s", message)
    time.sleep(0.1)
    os._exit(EX_CONFIG)


KINDS = {"interactive": queue_for, "batch": batch_queue_for}


def _kinds_wanted() -> set[str]:
    """CODESTUDIO_WORKER_KINDS=interactive|batch|interactive,batch (default both)."""
    wanted = {k.strip() for k in os.environ.get("CODESTUDIO_WORKER_KINDS", "interactive,batch").split(",") if k.strip()}
    unknown = wanted - set(KINDS)
    if unknown or not wanted:
        _refuse(f"CODESTUDIO_WORKER_KINDS: unknown kind(s) {sorted(unknown)}; use interactive and/or batch")
    return wanted


@receiver(signals.celeryd_after_setup)
def select_servable_queues(sender: str, instance: Any, conf: Any, **kwargs: object) -> None:
    # sender: the worker's hostname; instance: celery.apps.worker.Worker; conf: its Celery settings
    if not ports.is_wired():
        _refuse("no stores wired: start the worker from its entry (celery -A worker worker)")
    try:
        Runner().prepare()
    except Exception as exc:
        _refuse(f"sandbox unusable: {exc}")
    versions = available_toolchains(registry())
    queues = instance.app.amqp.queues
    wanted = _kinds_wanted()
    served: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
    for lang in registry():
        for kind, queue_of in KINDS.items():
            queue = queue_of(lang.id)
            if queue not in queues.consume_from:
                continue
            if lang.id in versions and kind in wanted:
                served[kind][lang.id] = versions[lang.id]
                continue
            if kind in wanted:
                log.warning("no toolchain for %s here: not consuming %s", lang.id, queue)
            queues.deselect(queue)
    if not any(served.values()):
        _refuse("no language served (no toolchain for any selected queue)")
    names = {lang.id: lang.name for lang in registry() if lang.id in versions}
    _background["advertiser"] = Advertiser(conf.codestudio_redis_url, sender, served["interactive"], served["batch"],
                                      sorted(queues.consume_from), names,
                                      available_packages(registry(), set(served["interactive"]) | set(served["batch"])))
    _background["recovery"] = Recovery(instance.app, conf.codestudio_redis_url, served["interactive"],
                                       served["batch"], RecoveryPolicy(**conf.codestudio_recovery))
    wired_artifacts = ports.ports().artifacts
    if wired_artifacts is not None:
        _background["artifact_expiry"] = ArtifactExpiry(wired_artifacts)
    # interactive runs wait on a compile, so their pool processes warm compilers from the start;
    # a batch worker warms one after its first compile (one cold compile per batch, no idle JVMs)
    _prewarm[:] = [registry().get(lang_id) for lang_id in served["interactive"]]
    for kind, languages in served.items():
        if languages:
            log.info("serving %s: %s", kind, ", ".join(f"{k} {v}" for k, v in sorted(languages.items())))


@receiver(signals.worker_process_init)
def prepare_pool_process(**kwargs: object) -> None:
    # a replacement pool process also sweeps what a killed sibling left behind
    runner().prepare()
    # so even its first Java compile is a warm one (if it is the smallest tier's: see tasks/tiers.py)
    runner().prewarm(_prewarm, smallest_compile_cap())


@receiver(signals.worker_ready)
def advertise(sender: object = None, **kwargs: object) -> None:
    for name in ("advertiser", "recovery", "artifact_expiry"):
        if name in _background:
            _background[name].start()


@receiver(signals.worker_shutdown)
def withdraw(sender: object = None, **kwargs: object) -> None:
    for name in ("artifact_expiry", "recovery", "advertiser"):
        if name in _background:
            _background[name].stop()
    close_runner()  # a solo or threads pool runs tasks in this process


@receiver(signals.worker_process_shutdown)
def close_pool_process(**kwargs: object) -> None:
    close_runner()
