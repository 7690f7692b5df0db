"""The thread in a worker's main process that expires run artifacts now and then (rows past their
retention, blobs no row names), as recovery looks for lost work: every worker does it, and two
doing it at once only find less to remove. `codestudio artifacts expire` does the same once."""
from __future__ import annotations

import logging
import threading

from .ports import ArtifactPorts
from .recovery import database_in_use

log = logging.getLogger(__name__)


class ArtifactExpiry:
    def __init__(self, artifacts: ArtifactPorts) -> None:
        self.artifacts = artifacts
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="codestudio-artifact-expiry", daemon=True)

    def expire(self) -> int:
        with database_in_use:  # a pool process forked meanwhile would inherit a locked driver
            return self.artifacts.expire()

    def _loop(self) -> None:
        while not self.stopped.wait(self.artifacts.expire_interval):
            try:
                self.expire()
            except Exception as exc:  # database or store down: again next time
                log.warning("artifacts: could not expire: %s", exc)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
