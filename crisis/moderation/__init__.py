"""A community's rules as data, the penalties applied under them, and appeals."""
