"""The audit log: who did what, when, from where, and what changed. Append-only.

`crisis.audit.log.record` writes a row in the caller's transaction (the act and its
record commit or roll back together); `crisis.audit.query` reads what a community's
admins may see; `crisis.audit.export` renders it as CSV or JSON."""
