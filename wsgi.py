"""WSGI entry (`gunicorn wsgi:app`); the worker has its own (`worker.py`)."""
from app import create_app

app = create_app()
