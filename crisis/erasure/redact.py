"""What replaces a member's id, names and text wherever they were stored. Pure: no I/O.

The member's id becomes the erasure's tombstone (`erased:<random>`), the same one in every
table, so counts and the links between rows survive ("40 accounts", a timeline naming the
same account as the evidence) while nothing leads back to the member. Names and texts become
"[erased]". Matching is by whole value first (an id in a list, a sample that is the first 200
characters of a message), then inside longer text (a title naming the member, a report
quoting them), case-insensitively. Inside text, an id or name whose edge is an ASCII letter or
digit matches only where no such character touches it, so erasing "ann" leaves "annual"
alone; Chinese names have no such boundary and are matched anywhere.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

ERASED = "[erased]"
# Texts shorter than this are replaced only where they are a whole value: a quoted "ok" or
# "lol" inside someone else's message says nothing about the member.
MIN_QUOTED_TEXT = 8
# Detectors keep the first 200 characters of a message as a sample (crisis.detection.text).
SAMPLE_CHARS = 200
# Inside text, an ASCII name or id needs three characters ("al" is in too many words), any
# other two (a Chinese name is often two characters).
MIN_ASCII_NAME = 3
MIN_NAME = 2
_WORD = re.compile(r"[0-9A-Za-z]")


def _long_enough(name: str) -> bool:
    return len(name) >= (MIN_ASCII_NAME if name.isascii() else MIN_NAME)


def _is_word(char: str) -> bool:
    return bool(_WORD.fullmatch(char))


def trie_pattern(needles: Iterable[str]) -> str:
    """One regular expression matching any of `needles` (lower-cased), longest first at each
    position: a trie, so thousands of texts cost one pass over the string, not one each."""
    trie: dict[str, Any] = {}
    for needle in needles:
        node = trie
        for char in needle:
            node = node.setdefault(char, {})
        node[""] = True

    def build(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if ends else body

    return build(trie)


class Redactor:
    """Replaces one member's id (and aliases), names and texts in strings and JSON values."""

    def __init__(self, *, ids: Iterable[str], names: Iterable[str] = (), texts: Iterable[str] = (),
                 tombstone: str) -> None:
        self.tombstone = tombstone
        self.ids = {i.lower() for i in ids if i}
        names, texts = [n for n in names if isinstance(n, str)], [t for t in texts if isinstance(t, str)]
        # Whole values: the id and each name. Texts are matched inside text only, and only
        # from MIN_QUOTED_TEXT characters: another member's "ok" is not the member's.
        self._whole: dict[str, str] = {}
        for name in names:
            if name.strip():
                self._whole[name.strip().lower()] = ERASED
        for member_id in self.ids:
            self._whole[member_id] = tombstone
        # Inside text: ids and names long enough to mean someone, texts of MIN_QUOTED_TEXT or more.
        inside: dict[str, str] = {}
        for text in texts:
            for form in (text.strip(), text.strip()[:SAMPLE_CHARS]):
                if len(form) >= MIN_QUOTED_TEXT:
                    inside[form.lower()] = ERASED
        for name in names:
            if _long_enough(name.strip()):
                inside[name.strip().lower()] = ERASED
        for member_id in self.ids:
            if _long_enough(member_id):
                inside[member_id] = tombstone
        self._inside = inside
        self._pattern = re.compile(trie_pattern(inside), re.IGNORECASE) if inside else None
        self._in_json = _json_finder([*self._whole, *inside])
        self._id_in_json = _json_finder(self.ids)

    def may_be_in(self, raw_json: str, *, ids_only: bool = False) -> bool:
        """Whether a JSON document's text can hold anything this redactor replaces (or, with
        `ids_only`, the member's id): False means decoding it would find nothing, so the batch
        log's many rows without the member are skipped undecoded. A needle counts where text()
        would replace it: bounded as _bounded says, where the character before it may be the
        letter of an escape (the "n" of a newline written \\n). Escapes that could hide a
        needle altogether (\\u, \\/) make it answer True."""
        finder = self._id_in_json if ids_only else self._in_json
        if finder is None:
            return False
        low = raw_json.lower()
        if "\\u" in low or "\\/" in low:
            return True
        pos = 0
        while (match := finder.search(low, pos)) is not None:
            begin, end = match.span()
            if end > begin and self._bounded_in_json(low, begin, end):
                return True
            pos = begin + 1
        return False

    @staticmethod
    def _bounded_in_json(low: str, begin: int, end: int) -> bool:
        if _is_word(low[begin]) and begin > 0 and _is_word(low[begin - 1]) \
                and not (begin > 1 and low[begin - 2] == "\\"):
            return False
        return not (_is_word(low[end - 1]) and end < len(low) and _is_word(low[end]))

    def is_member(self, value: Any) -> bool:
        return isinstance(value, str) and value.lower() in self.ids

    def text(self, value: str) -> str:
        """The string with the member taken out (the same object when nothing matched)."""
        whole = self._whole.get(value.lower())
        if whole is not None:
            return whole
        whole = self._whole.get(value.strip().lower())
        if whole is not None:
            return whole
        if self._pattern is None:
            return value
        return self._replace_inside(value)

    def _replace_inside(self, value: str) -> str:
        assert self._pattern is not None
        out: list[str] = []
        pos = start = 0
        while True:
            match = self._pattern.search(value, pos)
            if match is None:
                break
            begin, end = match.span()
            if end == begin or not self._bounded(value, begin, end):
                pos = begin + 1
                continue
            out.append(value[start:begin])
            out.append(self._inside.get(match.group(0).lower(), ERASED))
            start = pos = end
        if not out:
            return value
        out.append(value[start:])
        return "".join(out)

    @staticmethod
    def _bounded(value: str, begin: int, end: int) -> bool:
        """No ASCII letter or digit runs on into the match where its own edge is one."""
        if _is_word(value[begin]) and begin > 0 and _is_word(value[begin - 1]):
            return False
        return not (_is_word(value[end - 1]) and end < len(value) and _is_word(value[end]))

    def value(self, value: Any) -> Any:
        """A JSON value with every string (dict keys included) passed through text(). Keys
        that become equal merge; numbers under them add up, so a count of reasons keeps its
        total when two reasons become "[erased]"."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for key, item in value.items():
                new_key = self.text(key) if isinstance(key, str) else key
                new_item = self.value(item)
                if new_key in out:
                    out[new_key] = _merge(out[new_key], new_item)
                else:
                    out[new_key] = new_item
            return out
        return value

    def touches(self, value: Any) -> bool:
        """Whether value() would change anything."""
        return bool(self.value(value) != value)


def _json_finder(needles: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern finding any needle in lower-cased JSON text, as written plain or with JSON's
    own escapes (a newline as \\n, a quote as \\")."""
    forms = set()
    for needle in needles:
        if needle:
            forms.add(needle.lower())
            forms.add(json.dumps(needle.lower(), ensure_ascii=False)[1:-1])
    return re.compile(trie_pattern(forms)) if forms else None


def _merge(kept: Any, other: Any) -> Any:
    numbers = (int, float)
    if isinstance(kept, numbers) and isinstance(other, numbers) and not isinstance(kept, bool) \
            and not isinstance(other, bool):
        return kept + other
    return kept
