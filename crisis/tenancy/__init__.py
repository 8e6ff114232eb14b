"""Communities and who may do what in them: staff, roles, tokens, credentials, settings
and on-call schedules."""
