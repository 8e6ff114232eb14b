"""WSGI entry point for gunicorn: `gunicorn wsgi:app`. Configuration comes from CRISIS_* variables."""
from crisis.app import create_app

app = create_app()
