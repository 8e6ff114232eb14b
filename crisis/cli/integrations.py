"""`crisis integration`: a community's alert integrations (Alertmanager, PagerDuty-style, webhooks)."""
from __future__ import annotations

import json

import click

from crisis.alert_intake import integrations
from crisis.cli.common import cli_actor, emit_json, unit_of_work
from crisis.models import AlertIntegration
from crisis.tenancy.communities import get_community


def register(cli: click.Group) -> None:
    cli.add_command(integration)


@click.group()
def integration() -> None:
    """Alert integrations: where Alertmanager, Grafana and PagerDuty-style senders post."""


def _print_key(data: dict[str, object], key: str, endpoint: str, as_json: bool) -> None:
    if as_json:
        emit_json({**data, "key": key, "endpoint": endpoint})
        return
    click.echo(f"integration {data['id']} ({data['kind']}, {data['name']})")
    click.echo(f"key (shown once; crisis keeps only its hash): {key}")
    click.echo(f"posts to: {endpoint}")


@integration.command("create")
@click.argument("slug")
@click.option("--kind", type=click.Choice(integrations.KINDS), required=True)
@click.option("--name", required=True, help="Unique within the community, e.g. prometheus")
@click.option("--incident-kind", default="alert", show_default=True)
@click.option("--severity", "default_severity", default="sev3", show_default=True,
              help="Severity when the sender names none")
@click.option("--playbook", default=None, help="Run this playbook (default: the best match for the kind)")
@click.option("--severity-label", default="severity", show_default=True, help="Alertmanager: the label to map")
@click.option("--severity-map", default=None, help="value=sevN pairs, e.g. 'critical=sev1,warning=sev3'")
@click.option("--field-paths", default=None, help='Webhook: JSON such as {"title": "alert.name"}')
@click.option("--no-auto-resolve", is_flag=True, help="Record an all-resolved group without resolving")
@click.option("--reopen-within", default=integrations.DEFAULT_REOPEN_WITHIN_S, show_default=True,
              type=click.IntRange(0, 604800), help="Seconds after resolution in which firing again reopens")
@click.option("--json", "as_json", is_flag=True)
def create(slug: str, kind: str, name: str, incident_kind: str, default_severity: str, playbook: str | None,
           severity_label: str, severity_map: str | None, field_paths: str | None, no_auto_resolve: bool,
           reopen_within: int, as_json: bool) -> None:
    """Add an integration and print its key (once)."""
    try:
        paths = json.loads(field_paths) if field_paths else None
    except ValueError as exc:
        raise click.ClickException(f"--field-paths: not valid JSON ({exc})") from None
    with unit_of_work() as (rt, session):
        issued = integrations.create(
            session, get_community(session, slug), kind=kind, name=name, clock=rt.clock, incident_kind=incident_kind,
            default_severity=default_severity, playbook=playbook, severity_label=severity_label,
            severity_map=severity_map, field_paths=paths, auto_resolve=not no_auto_resolve,
            reopen_within_s=reopen_within, actor=cli_actor())
        data = integrations.summary(issued.integration)
        endpoint = rt.config.base_url + integrations.ENDPOINTS[kind]
    _print_key(data, issued.key, endpoint, as_json)


@integration.command("rotate")
@click.argument("integration_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def rotate(integration_id: int, as_json: bool) -> None:
    """A new key for the integration; the old one stops working."""
    with unit_of_work() as (rt, session):
        row = session.get(AlertIntegration, integration_id)
        if row is None:
            raise click.ClickException(f"no integration {integration_id}")
        key = integrations.rotate(session, row, clock=rt.clock, actor=cli_actor())
        data = integrations.summary(row)
        endpoint = rt.config.base_url + integrations.ENDPOINTS[row.kind]
    _print_key(data, key, endpoint, as_json)


@integration.command("list")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
def list_(slug: str, as_json: bool) -> None:
    """A community's integrations (never their keys)."""
    with unit_of_work() as (_rt, session):
        community = get_community(session, slug)
        rows = [integrations.summary(i) for i in integrations.of_community(session, community.id)]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        click.echo(f"{r['id']}\t{r['kind']}\t{r['name']}\tkey {r['key_hint']}\t"
                   f"{r['incident_kind']}/{r['default_severity']}")
