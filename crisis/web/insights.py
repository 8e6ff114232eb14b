"""Community health (the weekly read of a community team) and the manager dashboard."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, g, render_template, request, url_for
from flask_babel import gettext as _

from crisis.bridges import health as bridge_health
from crisis.bridges import links as bridge_links
from crisis.campaigns import visibility
from crisis.containment import report as containment_report
from crisis.insight import activity, trends
from crisis.models import Role
from crisis.tenancy.communities import communities_of
from crisis.web import charts
from crisis.web.access import community_scope
from crisis.web.auth import login_required
from crisis.webctx import db, rt

bp = Blueprint("insights", __name__)


@bp.get("/c/<slug>/health")
@login_required
def health(slug: str) -> str:
    scope = community_scope(slug)
    session = db()
    end = activity.latest_event_time(session, scope.community.id) or rt().clock.now()
    days = min(max(request.args.get("days", 14, type=int), 7), 90)
    daily = trends.community_health(session, scope.community.id, end=end, buckets=days, bucket=timedelta(days=1))
    hourly = trends.community_health(session, scope.community.id, end=end, buckets=48, bucket=timedelta(hours=1))
    split = {
        name: charts.line_chart(h.labels, {k: h.series[k] for k in keys},
                                markers=[(i, f"{inc.severity} {inc.kind}",
                                          url_for("incidents.show", slug=slug, incident_id=inc.id))
                                         for i, inc in h.incidents], label=label)
        for name, h, keys, label in (
            ("daily_members", daily, ("joins", "leaves"), _("Members joined and left per day")),
            ("daily_messages", daily, ("messages",), _("Messages per day")),
            ("daily_reports", daily, ("reports",), _("Reports per day")),
            ("hourly_members", hourly, ("joins", "leaves", "reports"), _("Joins, leaves and reports per hour")),
            ("hourly_messages", hourly, ("messages",), _("Messages per hour")),
        )}
    totals = {k: int(sum(v or 0 for v in vs)) for k, vs in daily.series.items()}
    links = [bridge_health.summary(link, rt().clock.now()) for link in bridge_links.links_of(db(), scope.community.id)]
    return render_template("health.html", scope=scope, community=scope.community, health_charts=split, totals=totals,
                           days=days, end=end, incidents=daily.incidents, links=links)


@bp.get("/dashboard")
@login_required
def dashboard() -> str:
    managed = [(c, r) for c, r in communities_of(db(), g.user.id) if r.at_least(Role.MANAGER)]
    if not managed:
        abort(403, description=_("The dashboard is for managers."))
    chosen = request.args.get("community", "")
    ids = [c.id for c, _r in managed if not chosen or c.slug == chosen]
    if not ids:
        abort(404)
    session = db()
    now = rt().clock.now()
    weekly = trends.incidents_per_week(session, ids, now=now)
    times = trends.response_times_per_week(session, ids, now=now)
    failures, latest_failures = trends.notification_failures(session, ids, now=now)
    return render_template(
        "dashboard.html", managed=managed, chosen=chosen, now=now,
        by_kind=charts.bar_chart(weekly["kind"].weeks, weekly["kind"].series, label=_("Incidents per week by kind")),
        by_severity=charts.bar_chart(weekly["severity"].weeks, weekly["severity"].series,
                                     label=_("Incidents per week by severity")),
        by_source=charts.bar_chart(weekly["source"].weeks, weekly["source"].series,
                                   label=_("Incidents per week: detectors and alerts")),
        source_counts=trends.counts_by_source(session, ids),
        times=charts.line_chart(times.weeks, times.series, label=_("Median minutes to acknowledge and resolve")),
        times_table=times, precision=trends.detector_precision(session, ids),
        overdue=trends.overdue_action_items(session, ids, now=now),
        failures=charts.bar_chart(failures.weeks, {"failed": failures.series["failed"]},
                                  label=_("Failed notifications per week")),
        failures_table=failures, latest_failures=latest_failures,
        status_counts=trends.counts_by_status(session, ids), containment=containment_report.counts(session, ids),
        campaigns=[visibility.view(session, c, viewer_id=g.user.id, now=now)
                   for c in visibility.visible_campaigns(session, ids, limit=20)])
