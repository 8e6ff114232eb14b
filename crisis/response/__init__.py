"""Incident response: the state tables, signals merged into incidents, the lifecycle,
the detect drain, escalation, playbook steps and postmortems."""
