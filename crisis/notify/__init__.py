"""Notifications: routing and templates from alerts/, rows written with their cause in the
caller's transaction (outbox), delivered through apprise by jobs (deliver), destinations
and the signed acknowledge tokens their messages carry."""
