"""What a complaint is about: the categories members choose from, their default response
times, and a guess from a report's free text (English and Chinese) when none was chosen."""
from __future__ import annotations

from datetime import timedelta

CATEGORIES = ("harassment", "hate", "scam", "nsfw", "spam", "off_topic", "other", "feedback")
# How soon staff should answer, by what is at stake: a member being harassed cannot wait a
# day; general feedback can. Communities change these in their settings (case_response).
DEFAULT_DUE = {"harassment": timedelta(hours=1), "hate": timedelta(hours=1), "scam": timedelta(hours=2),
               "nsfw": timedelta(hours=2), "spam": timedelta(hours=4), "off_topic": timedelta(hours=24),
               "other": timedelta(hours=24), "feedback": timedelta(hours=72)}
# Lower-case fragments of report reasons, checked in this order (scam before spam: "spam
# link to a scam" is a scam).
_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("scam", ("scam", "phish", "fraud", "诈骗", "钓鱼", "骗")),
    ("hate", ("hate", "racis", "slur", "仇恨", "歧视")),
    ("harassment", ("harass", "abuse", "bully", "threat", "insult", "dox", "骚扰", "辱骂", "威胁", "霸凌", "人身攻击",
                    "开盒")),
    ("nsfw", ("nsfw", "porn", "sexual", "nude", "色情", "裸")),
    ("spam", ("spam", "advert", "flood", "广告", "刷屏", "垃圾")),
    ("off_topic", ("off-topic", "off topic", "offtopic", "跑题", "无关")),
    ("feedback", ("feedback", "suggest", "建议", "反馈")),
)


def guess(reason: str) -> str:
    """The category a report's reason names: its id itself, a known word, else "other"."""
    text = (reason or "").strip().lower()
    if text in CATEGORIES:
        return text
    for category, words in _WORDS:
        if any(word in text for word in words):
            return category
    return "other"
