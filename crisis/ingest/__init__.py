"""Events in: validated at the edge (a typed fast path beside the full check), stored as
one row per request, and the backlog the detectors have not consumed yet."""
