"""Script-aware text normalization: one fold for every script, links, mentions, fingerprints.

ASCII text (most of it, in English groups) keeps a fast path: lowercase, leetspeak folded,
digits dropped. Other text is first folded with NFKC, which maps full-width forms
(``ｈｔｔｐｓ：／／``, ``＠``, ``！``, full-width digits) to their ASCII spellings, and loses
emoji presentation selectors, skin tones and zero-width joiners, so that raiders varying an
emoji or a full-width letter do not escape the fingerprint.

Scripts written without spaces between words (Chinese, Japanese, Thai, Lao, Khmer, Myanmar)
are fingerprinted on **character bigrams**, the usual unit of CJK near-duplicate detection
and retrieval when no segmenter is used (a bigram index needs no dictionary, so new slang and
names cluster as well as dictionary words; see e.g. the CJK analyzer of Lucene/Elasticsearch).
Hangul is spaced into words but agglutinative (particles glued to the noun), so it gets
bigrams too. Spaced scripts (Latin, Cyrillic, Greek, ...) keep word tokens.
"""
from __future__ import annotations

import re
import unicodedata

_URL = re.compile(r"(?:https?://|www\.)([^\s/?#]+)[^\s]*", re.I)
_MENTION = re.compile(r"@(everyone|here|[\w.\-]+)")
_WORD = re.compile(r"[a-z0-9$@]+")
# leetspeak folding so "h0t s1ngles" and "hot singles" normalize alike
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "$": "s"})

# Unspaced scripts (and Hangul): Han (with extensions and compatibility), kana, Hangul
# syllables and jamo, Thai, Lao, Khmer, Myanmar.
_NGRAM_CHARS = ("\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
                "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f\u0e00-\u0e7f\u0e80-\u0eff"
                "\u1780-\u17ff\u1000-\u109f")
_NGRAM_RUN = re.compile(f"[{_NGRAM_CHARS}]+")
# Words of spaced scripts: letters and digits that are not n-gram script characters.
_UNI_WORD = re.compile(f"(?:(?![{_NGRAM_CHARS}])[^\\W_])+")
# Emoji presentation/variation selectors, skin-tone modifiers, zero-width (non-)joiners, BOM.
_INVISIBLE = re.compile("[\ufe00-\ufe0f\U0001f3fb-\U0001f3ff\u200b-\u200d\u2060\ufeff]")
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff]")
EMOJI_TOKEN = "<emoji>"


def fold(content: str) -> str:
    """NFKC (full-width -> ASCII), invisible characters dropped; ASCII is returned as is."""
    if content.isascii():
        return content
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", content))


_FULLWIDTH_LATIN = re.compile("[\uff20-\uff3a\uff41-\uff5a]")


def hides_latin(content: str) -> bool:
    """Full-width Latin letters or ＠: a link or mention spelled to slip past ASCII checks."""
    return not content.isascii() and _FULLWIDTH_LATIN.search(content) is not None


def has_ngram_script(text: str) -> bool:
    return _NGRAM_RUN.search(text) is not None


def link_domains(content: str) -> list[str]:
    """Registrable-ish host names (lowercased, without 'www.') of links in the text."""
    out = []
    for host in _URL.findall(fold(content)):
        host = host.lower().rstrip(".,;:!)")
        if host.startswith("www."):
            host = host[4:]
        out.append(host)
    return out


def mention_count(content: str) -> tuple[int, bool]:
    """(number of mentions, whether a mass mention @everyone/@here is present)."""
    found = _MENTION.findall(fold(content))
    mass = any(m in ("everyone", "here") for m in found)
    return len(found), mass


def _url_token(m: re.Match[str]) -> str:
    return " url" + m.group(1).lower().translate(_LEET).replace(".", "") + " "


def tokens(content: str) -> frozenset[str]:
    """Normalized token set for near-duplicate fingerprints.

    Links become 'url<domain>'; ASCII words are leet-folded with digits dropped; words of
    other spaced scripts are lowercased; unspaced scripts and Hangul give character bigrams
    (a lone character stands for itself); any emoji gives one '<emoji>' token, whatever it is.
    """
    if content.isascii():
        return _ascii_tokens(_URL.sub(_url_token, content.lower()))
    text = _URL.sub(_url_token, fold(content).lower())
    toks: set[str] = set()
    for w in _UNI_WORD.findall(text):
        if w.isascii():
            toks.update(_ascii_tokens(w))
        elif not w.isdigit():
            toks.add(w)
    for run in _NGRAM_RUN.findall(text):
        if len(run) == 1:
            toks.add(run)
        else:
            toks.update(run[i:i + 2] for i in range(len(run) - 1))
    if _EMOJI.search(text):
        toks.add(EMOJI_TOKEN)
    return frozenset(toks)


def _ascii_tokens(low: str) -> frozenset[str]:
    toks = set()
    for w in _WORD.findall(low.translate(_LEET)):
        w = w.strip("0123456789")
        if len(w) >= 2 or w in ("i", "a", "u"):
            toks.add(w)
    return frozenset(toks)
