"""Hostility of one message, in English and CJK, with a community's own terms.

The score is lexicon hits (capped at 4), plus shouting, plus a little for "!!", minus
friendly markers. Shouting is all-capitals in scripts with letter case; in caseless
scripts (Chinese, Japanese, Korean ...) it is a run of exclamation marks (three or more,
full-width ones included) or one character repeated three times (啊啊啊, 滚滚滚).

Ordinary messages are the common case and cost a lowercase, a split and a few set and
substring probes; capitals are counted only when the text has any.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from crisis.detection.text.lexicon import (
    FRIENDLY_CJK,
    FRIENDLY_WORDS,
    HOSTILE_CJK,
    HOSTILE_PHRASES,
    HOSTILE_WORDS,
)
from crisis.detection.text.normalize import _NGRAM_CHARS, fold

_UPPER = re.compile(r"[A-Z]")
_ALPHA = re.compile(r"[^\W\d_]")
_CASELESS_REPEAT = re.compile(f"([{_NGRAM_CHARS}])\\1\\1")
_STRIP = "!?.,"
_STRIP_FRIENDLY = "!?.,:)"
MAX_KINDS = 50_000  # words remembered by _kind (then forgotten at once)


class Hostility:
    """A scorer for one lexicon: the defaults plus a community's `hostile_terms`/`friendly_terms`."""

    def __init__(self, hostile_terms: Iterable[str] = (), friendly_terms: Iterable[str] = ()) -> None:
        words, phrases, cjk = set(HOSTILE_WORDS), list(HOSTILE_PHRASES), list(HOSTILE_CJK)
        friendly, friendly_cjk = set(FRIENDLY_WORDS), list(FRIENDLY_CJK)
        for term in hostile_terms:
            _place(term, words, phrases, cjk)
        for term in friendly_terms:
            _place(term, friendly, [], friendly_cjk)
        self.words = frozenset(words)
        self.phrases = tuple(phrases)
        self.friendly = frozenset(friendly)
        self._kinds: dict[str, int] = {}  # word -> _kind(word)
        # Longest first, so an alternation counts 他妈的 once rather than as 他妈 + 妈的.
        self.cjk = re.compile("|".join(sorted(cjk, key=len, reverse=True)))
        self.friendly_cjk = re.compile("|".join(sorted(friendly_cjk, key=len, reverse=True)))

    def _kind(self, w: str) -> int:
        """1 for a hostile word, 2 for a friendly one, 0 for neither (remembered: chat
        repeats its words, and one lookup costs less than the strips and probes)."""
        if w in self.words or w.strip(_STRIP) in self.words:
            k = 1
        elif w.strip(_STRIP_FRIENDLY) in self.friendly:
            k = 2
        else:
            k = 0
        if len(self._kinds) >= MAX_KINDS:
            self._kinds.clear()
        self._kinds[w] = k
        return k

    def score(self, content: str) -> float:
        if not content:
            return 0.0
        text = fold(content)
        low = text.lower()
        hits = friendly = 0
        kinds = self._kinds
        for w in low.split():
            k = kinds.get(w)
            if k is None:
                k = self._kind(w)
            if k == 1:
                hits += 1
            elif k == 2:
                friendly += 1
        for p in self.phrases:
            if p in low:
                hits += 1
        bangs = text.count("!")
        shouting = False
        if text.isascii():
            if text != low:  # some capitals: are most letters capitals?
                letters = len(_ALPHA.findall(text))
                shouting = letters >= 8 and len(_UPPER.findall(text)) >= 0.7 * letters
        else:
            hits += len(self.cjk.findall(low))
            friendly += len(self.friendly_cjk.findall(low))
            if text != low:
                letters = len(_ALPHA.findall(text))
                shouting = letters >= 8 and sum(1 for c in text if c.isupper()) >= 0.7 * letters
            if not shouting and (bangs >= 3 or _CASELESS_REPEAT.search(text)):
                shouting = True
        score = min(hits, 4) * 1.0 - friendly * 1.0
        if shouting:
            score += 1.0 if hits else 0.5
        if bangs >= 2:
            score += 0.25
        return max(0.0, score)


def _place(term: str, words: set[str], phrases: list[str], cjk: list[str]) -> None:
    term = fold(term.strip()).lower()
    if not term:
        return
    if not term.isascii():
        cjk.append(re.escape(term))
    elif " " in term:
        phrases.append(term)
    else:
        words.add(term)


DEFAULT = Hostility()


def hostility(content: str) -> float:
    """Hostility of one message under the default lexicons."""
    return DEFAULT.score(content)


@lru_cache(maxsize=64)
def scorer(hostile_terms: tuple[str, ...] = (), friendly_terms: tuple[str, ...] = ()) -> Hostility:
    """The scorer for a community's terms (shared by communities with the same terms)."""
    if not hostile_terms and not friendly_terms:
        return DEFAULT
    return Hostility(hostile_terms, friendly_terms)
