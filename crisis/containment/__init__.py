"""Containment: reversible platform actions (lock down, quiet, mute, kick, ban, redact) that
an incident proposes, a person (or its playbook) approves, a job carries out, and the clock
or a person undoes."""
