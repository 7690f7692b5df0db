"""Redis key names shared by workers and the API."""
DONE_PREFIX = "codestudio:done:"
WORKER_PREFIX = "codestudio:worker:"
DONE_TTL_SECONDS = 600
HEARTBEAT_SECONDS = 5
HEARTBEAT_TTL_SECONDS = 15


def done_key(execution_id: str) -> str:
    return DONE_PREFIX + execution_id


def worker_key(hostname: str) -> str:
    return WORKER_PREFIX + hostname


BATCH_CANCEL_PREFIX = "codestudio:batch-cancelled:"
BATCH_CANCEL_TTL_SECONDS = 3600  # outlives any grading task that could still be running a test of it


def batch_cancel_key(batch_id: str) -> str:
    return BATCH_CANCEL_PREFIX + batch_id
