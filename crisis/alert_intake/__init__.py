"""Alert intake: Alertmanager and Grafana webhooks, PagerDuty Events v2 and generic webhooks, grouped into incidents."""
