"""WSGI entry (`gunicorn wsgi:app`) and Celery entry (`celery -A wsgi:celery worker`)."""
from app import create_app

app = create_app()
celery = app.extensions["celery"]
