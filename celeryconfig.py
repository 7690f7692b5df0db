"""Celery settings (see the README's configuration reference).

One queue per language, declared from the language registry; no result backend
(the database is the truth); late acks so a lost worker's run is redelivered.
"""
import kombu as _kombu

from sandbox.registry import registry as _registry
from tasks.routing import all_queues as _all_queues

_HARD_TIME_LIMIT = 300  # above the largest tier timeout plus compile time

_EXCHANGE = _kombu.Exchange("codestudio", type="direct")
# interactive runs (lang.<id>) and batch grading (batch.<id>) never share a queue
task_queues = [_kombu.Queue(q, _EXCHANGE, routing_key=q) for q in _all_queues(lang.id for lang in _registry())]
task_default_queue = task_queues[0].name
task_default_exchange = _EXCHANGE.name
task_default_exchange_type = "direct"
task_create_missing_queues = False
task_routes = ("tasks.routing.route_task",)
imports = ("tasks.execution", "tasks.batch", "tasks.callbacks", "tasks.retention", "tasks.worker_boot")

task_serializer = "json"
accept_content = ["json"]
task_ignore_result = True
result_backend = None

task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
task_time_limit = _HARD_TIME_LIMIT
task_soft_time_limit = _HARD_TIME_LIMIT - 30
worker_max_tasks_per_child = 500
worker_cancel_long_running_tasks_on_connection_loss = True
worker_soft_shutdown_timeout = 30
broker_connection_retry_on_startup = True
broker_connection_max_retries = None  # a worker waits out a broker outage of any length

broker_transport_options = {
    "visibility_timeout": _HARD_TIME_LIMIT + 600,
    "socket_timeout": 10,
    "health_check_interval": 25,
}

worker_send_task_events = True
task_send_sent_event = True
