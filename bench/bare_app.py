"""The ceiling: a Flask endpoint that only parses the batch, served like crisis (gunicorn gthread)."""
from __future__ import annotations

import json

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/parse")
def parse():  # type: ignore[no-untyped-def]
    events = json.loads(request.get_data(cache=False))
    return jsonify({"accepted": len(events), "duplicates": 0}), 202
