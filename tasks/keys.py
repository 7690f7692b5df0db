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
