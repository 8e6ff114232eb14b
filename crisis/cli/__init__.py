"""The `crisis` command line (crisis.cli.main), one module per area."""
