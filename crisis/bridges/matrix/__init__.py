"""The Matrix bridge: crisis as a Matrix application service (a Synapse homeserver pushes
room events to it), the registration file an operator installs, and a small client for
the homeserver's APIs."""
