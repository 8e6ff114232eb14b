"""Retention: how long a community keeps raw events and message text (policy), the job that
deletes what is past its time in bounded batches (enforce), and the evidence text that
incidents keep until their postmortem is published plus a grace period (evidence)."""
