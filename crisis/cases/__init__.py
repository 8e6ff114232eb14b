"""Members' complaints and reports as cases: intake, the review queue, response times."""
