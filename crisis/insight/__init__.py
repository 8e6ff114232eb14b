"""What the product tells managers and Prometheus: read models for dashboards, activity
per minute, metrics counted in-process and computed at scrape time."""
