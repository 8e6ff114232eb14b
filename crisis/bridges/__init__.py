"""Platform bridges: a community's chat platform feeding crisis by itself, one package per
platform behind the interface in crisis.bridges.base. Events a bridge receives go through
the same validation, idempotency and detection path as the ingest API (crisis.bridges.intake)."""
