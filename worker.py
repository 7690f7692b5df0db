"""Celery worker entry (`celery -A worker worker`): configuration, the database, Redis and the
stores the tasks use, without the API's blueprints, rate limiter or OpenAPI document."""
from app import create_worker_app

app = create_worker_app()
celery = app.extensions["celery"]
