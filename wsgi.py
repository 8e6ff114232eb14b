"""WSGI entry point for gunicorn: `gunicorn wsgi:app`. Configuration comes from CRISIS_* variables."""
from crisis import create_app

app = create_app()
