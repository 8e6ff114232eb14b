"""JSON columns go through orjson (crisis.db.json_dumps/json_loads) and read back what the
standard library wrote."""
from __future__ import annotations

import json

import pytest

from crisis.db import json_dumps, json_loads


def test_it_writes_the_document_the_standard_library_would() -> None:
    state = {"rates": {"3": [1.5, 2, None], 7: {"nested": True}}, "text": "Ünïcode <b>", "big": 2**62}
    assert json.loads(json_dumps(state)) == json.loads(json.dumps(state))


def test_it_reads_rows_the_standard_library_wrote_with_nan() -> None:
    value = json_loads(json.dumps({"x": float("nan"), "y": 1}))
    assert value["y"] == 1 and value["x"] != value["x"]


def test_a_value_json_cannot_hold_is_refused_as_before() -> None:
    with pytest.raises(TypeError):
        json_dumps({"when": {1, 2}})
