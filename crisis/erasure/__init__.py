"""Erasure of one member from one community: their id, names, messages and reports taken out
of stored events, the detectors' checkpoint and every table that copied them, replaced by a
tombstone that keeps counts (redact, batches, tables), as a resumable job (service)."""
