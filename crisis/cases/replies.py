"""Answering members through the channel they came by: a complainant whose report came
through the Matrix bridge hears that it was received (with their case link) and what was
decided; a member penalised in a bridged community hears the penalty, the rule and how to
appeal, and later the appeal's decision.

Each message is an outbox row (MemberMessage) written in the caller's transaction, keyed
by its cause so it is written once; crisis.cases.reply_sender sends it after commit. In
the community's language (its locale), plain text."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis import public_links, runtime
from crisis.jobs import ringer
from crisis.models import Appeal, Case, Community, MemberMessage, Penalty, PlatformLink
from crisis.notify.render import language

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
KIND = {"en": {"warn": "a warning", "mute": "a mute", "remove": "a removal", "ban": "a ban"},
        "zh": {"warn": "警告", "mute": "禁言", "remove": "移出社区", "ban": "封禁"}}


def _clean(text: str) -> str:
    return "\n".join(_CONTROL.sub("", line) for line in text.replace("\r", "").split("\n")).strip()


def _matrix_link(session: Session, community_id: int) -> PlatformLink | None:
    return session.scalar(select(PlatformLink).where(PlatformLink.community_id == community_id,
                                                     PlatformLink.platform == "matrix",
                                                     PlatformLink.disabled.is_(False)).order_by(PlatformLink.id))


def _reachable(account: str) -> bool:
    return account.startswith("@") and ":" in account and len(account) <= 255


def _write(session: Session, community: Community, recipient: str, body: str, cause: str, now: datetime, *,
           case_id: int | None = None, penalty_id: int | None = None) -> MemberMessage | None:
    link = _matrix_link(session, community.id)
    if link is None or not _reachable(recipient) or recipient == link.sender:
        return None
    if session.scalar(select(MemberMessage.id).where(MemberMessage.cause == cause)) is not None:
        return None
    row = MemberMessage(community_id=community.id, link_id=link.id, case_id=case_id, penalty_id=penalty_id,
                        cause=cause[:200], recipient=recipient, body=_clean(body)[:8000], status="pending",
                        attempts=0, next_attempt_at=now, room_id="", last_error="", created_at=now)
    session.add(row)
    session.flush()
    ringer.note_member_message(session, row.id)
    return row


def _lang(community: Community) -> str:
    return language(community.locale)


def case_received(session: Session, community: Community, case: Case, now: datetime) -> MemberMessage | None:
    if case.source != "matrix":
        return None
    url = public_links.case_url(runtime.current().config, community.slug, case.id)
    body = {"en": f"Thank you for your report to {community.name}. Staff will look at it; you can follow it "
                  f"here: {url}",
            "zh": f"感谢您向 {community.name} 举报。管理团队会处理，您可以在这里查看进展：{url}"}[_lang(community)]
    return _write(session, community, case.reporter, body, f"case{case.id}:received", now, case_id=case.id)


def case_decided(session: Session, community: Community, case: Case, now: datetime) -> MemberMessage | None:
    if case.source != "matrix":
        return None
    url = public_links.case_url(runtime.current().config, community.slug, case.id)
    lang = _lang(community)
    said = f"\n\n{case.outcome}" if case.outcome else ""
    if case.status == "actioned":
        head = {"en": f"Your report to {community.name} was acted on.",
                "zh": f"您向 {community.name} 的举报已处理。"}[lang]
    else:
        head = {"en": f"Your report to {community.name} was reviewed; no action was taken.",
                "zh": f"您向 {community.name} 的举报已审核，未采取措施。"}[lang]
    tail = {"en": f"\n\nDetails: {url}", "zh": f"\n\n详情：{url}"}[lang]
    return _write(session, community, case.reporter, head + said + tail, f"case{case.id}:decided", now,
                  case_id=case.id)


def penalty_applied(session: Session, community: Community, penalty: Penalty, now: datetime) -> MemberMessage | None:
    config = runtime.current().config
    lang = _lang(community)
    title = penalty.rule_title.get(lang) or penalty.rule_title.get("en") or penalty.rule_title.get("zh") \
        or penalty.rule_id
    until = ""
    if penalty.expires_at is not None:
        when = penalty.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        until = {"en": f", until {when}", "zh": f"，至 {when}"}[lang]
    rules, appeal = public_links.rules_url(config, community.slug), public_links.penalty_url(config, community.slug,
                                                                                            penalty.id)
    body = {"en": f"{community.name}: you received {KIND['en'][penalty.kind]} under the rule “{title}”{until}.\n\n"
                  f"The rules: {rules}\nTo see the penalty or appeal it: {appeal}",
            "zh": f"{community.name}：您因违反规则“{title}”受到{KIND['zh'][penalty.kind]}处理{until}。\n\n"
                  f"社区规则：{rules}\n查看处罚或提出申诉：{appeal}"}[lang]
    return _write(session, community, penalty.member, body, f"penalty{penalty.id}:applied", now,
                  penalty_id=penalty.id)


def appeal_decided(session: Session, community: Community, appeal: Appeal, penalty: Penalty,
                   now: datetime) -> MemberMessage | None:
    lang = _lang(community)
    url = public_links.penalty_url(runtime.current().config, community.slug, penalty.id)
    head = {"en": {"upheld": "was not granted: the penalty stands", "reduced": "was granted in part: the penalty "
                   "was reduced", "lifted": "was granted: the penalty was lifted"},
            "zh": {"upheld": "未获支持，处罚维持不变", "reduced": "部分获支持，处罚已减轻",
                   "lifted": "获支持，处罚已撤销"}}
    text = {"en": f"{community.name}: your appeal {head['en'][appeal.status]}.\n\n{appeal.decision_note}\n\n"
                  f"Details: {url}",
            "zh": f"{community.name}：您的申诉{head['zh'][appeal.status]}。\n\n{appeal.decision_note}\n\n详情：{url}"}
    return _write(session, community, penalty.member, text[lang], f"appeal{appeal.id}:decided", now,
                  penalty_id=penalty.id)
