"""A community's record as one archive an admin can download (crisis.export.archive)."""
