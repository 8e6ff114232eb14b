"""The redactor: whole values and text inside, boundaries for ASCII and none for Chinese,
counts merged, and the raw-JSON pre-check never saying no where text() would replace."""
from __future__ import annotations

import json

import pytest

from crisis.erasure.redact import ERASED, Redactor, trie_pattern

R = Redactor(ids=["@alice:hs.test"], names=["Alice", "小明", "Al", "User 1"],
             texts=["buy cheap pills at spam.example now", "ok"], tombstone="erased:ab12")


@pytest.mark.parametrize(("before", "after"), [
    ("@alice:hs.test", "erased:ab12"),
    ("@ALICE:hs.test", "erased:ab12"),
    ("Dispute in #general: @alice:hs.test vs @bob:hs.test", "Dispute in #general: erased:ab12 vs @bob:hs.test"),
    ("Alice said hi", f"{ERASED} said hi"),
    ("malice aforethought", "malice aforethought"),  # no boundary: another word
    ("小明说你好", f"{ERASED}说你好"),  # Chinese has no word boundary to wait for
    ("Al", ERASED),  # a short name: only as a whole value
    ("Al is here", "Al is here"),
    ("User 10", "User 10"),
    ("ok", "ok"),  # another member's "ok" is not hers
    ("[report: buy cheap pills at spam.example now]", f"[report: {ERASED}]"),
])
def test_it_replaces_the_member_and_nothing_else(before: str, after: str) -> None:
    assert R.text(before) == after


def test_it_merges_keys_that_become_equal_and_adds_their_counts() -> None:
    value = {"reasons": {"buy cheap pills at spam.example now": 2, "Alice": 3, "spam": 1},
             "accounts": ["@alice:hs.test", "@bob"], "@alice:hs.test": [1, "Alice"]}
    assert R.value(value) == {"reasons": {ERASED: 5, "spam": 1}, "accounts": ["erased:ab12", "@bob"],
                              "erased:ab12": [1, ERASED]}


def test_the_trie_prefers_the_longest_needle() -> None:
    assert trie_pattern(["abc", "abd", "ab"]) == "ab(?:(?:c|d))?"


@pytest.mark.parametrize("value", [
    "line one\nAlice", "say \"Alice\"", "小明", "Al", "@alice:hs.test", "x buy cheap pills at spam.example now!",
    "User 1",
])
def test_the_json_pre_check_finds_whatever_text_would_replace(value: str) -> None:
    assert R.text(value) != value
    for ensure_ascii in (False, True):
        raw = json.dumps([{"content": value, "actor": {"id": "@bob"}}], ensure_ascii=ensure_ascii)
        assert R.may_be_in(raw), raw


@pytest.mark.parametrize("value", ["User 10 and User 11", "malice", "ordinary"])
def test_the_json_pre_check_skips_rows_that_cannot_hold_her(value: str) -> None:
    assert R.text(value) == value
    assert not R.may_be_in(json.dumps([{"content": value, "actor": {"id": "@bob", "name": "User 12"}}]))


def test_the_id_pre_check_looks_for_the_id_only() -> None:
    assert R.may_be_in('[{"actor": {"id": "@alice:hs.test"}}]', ids_only=True)
    assert not R.may_be_in('[{"actor": {"id": "@bob"}, "content": "Alice"}]', ids_only=True)
