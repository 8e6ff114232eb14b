"""The local Synapse the Matrix bridge's tests run against (crisis.bridges.matrix.devserver)."""
from __future__ import annotations

from crisis.bridges.matrix.devserver import MatrixUser, Synapse, call, synapse_python

__all__ = ["MatrixUser", "Synapse", "call", "synapse_python"]
