"""/api/v1/campaigns: raids across communities, as the caller may see them.

A campaign is listed and readable when it hit a community the caller is staff of (404
otherwise, as for anything of another tenant); its incidents in other communities show
only what matched, as counts (crisis.campaigns.visibility)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from crisis.api.errors import abort
from crisis.api.staff import community_by_slug, current_user, my_community_ids
from crisis.campaigns import visibility
from crisis.models import Campaign, CampaignIncident
from crisis.webctx import db, rt

bp = Blueprint("api_campaigns", __name__)


@bp.get("/api/v1/campaigns")
def list_campaigns() -> Response:
    user = current_user()
    slug = request.args.get("community")
    ids = [community_by_slug(slug).id] if slug else list(my_community_ids())
    active = request.args.get("active", "")
    if active not in ("", "true", "false"):
        abort(400, "bad_query", f"active: {active!r} must be true or false")
    now = rt().clock.now()
    views = [visibility.view(db(), c, viewer_id=user.id, now=now) for c in visibility.visible_campaigns(db(), ids)]
    if active:
        views = [v for v in views if v.active == (active == "true")]
    return jsonify({"campaigns": [visibility.serialize(v) for v in views]})


@bp.get("/api/v1/campaigns/<int:campaign_id>")
def get_campaign(campaign_id: int) -> Response:
    user = current_user()
    campaign = db().get(Campaign, campaign_id)
    mine = set(my_community_ids())
    hit = set(db().scalars(select(CampaignIncident.community_id).where(CampaignIncident.campaign_id == campaign_id)))
    if campaign is None or not hit & mine:
        abort(404, "not_found", f"no campaign {campaign_id}")
    return jsonify(visibility.serialize(visibility.view(db(), campaign, viewer_id=user.id, now=rt().clock.now(),
                                                        mine=mine)))
