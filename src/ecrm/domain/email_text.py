"""Mail bodies as readable text: :func:`html_to_text` for HTML-only messages and
:func:`reply_text`, which strips the quoted previous message from a reply. Part of
:mod:`ecrm.domain.inbound_email` (and importable from it); pure functions, standard
library only."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import unescape

# -- HTML ------------------------------------------------------------------------------

#: A comment's start, a tag, or a declaration (``<!DOCTYPE ...>``, ``<?xml ...?>``). The
#: possessive quantifiers keep the search linear on broken markup.
_MARKUP = re.compile(r"<!--|<(/?)([A-Za-z][A-Za-z0-9:-]*+)[^<>]*+>|<[!?][^<>]*+>")
_SPACES = re.compile(r"[ \t\r\n\f]+")
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td",
    "th", "thead", "tr", "ul"})
#: Elements whose content is not text, each with the pattern of its end tag.
_HIDDEN = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE)
           for name in ("script", "style", "title", "template")}


def html_to_text(html: str) -> str:
    """The text of an HTML mail body: tags dropped, ``<br>`` and block elements (``p``,
    ``div``, ``li``, ``tr``, ...) as line breaks, entities unescaped, ``script``,
    ``style`` and comments left out, and ``blockquote`` contents quoted with ``"> "`` like a
    plain-text reply. It reads the markup in one pass (time linear in its length, however
    broken it is)."""
    lines = _Lines()
    position = 0
    while (markup := _MARKUP.search(html, position)) is not None:
        lines.write(html[position:markup.start()])
        position = _skip(html, markup, lines)
    lines.write(html[position:])
    return lines.text()


def _skip(html: str, markup: re.Match[str], lines: _Lines) -> int:
    """Apply ``markup``; return where the text resumes (after a comment or hidden element,
    which run to the end of ``html`` when they are not closed)."""
    if markup.group() == "<!--":
        end = html.find("-->", markup.end())
        return len(html) if end < 0 else end + 3
    if markup.group(2) is None:  # a declaration
        return markup.end()
    closing, name = markup.group(1) == "/", markup.group(2).lower()
    if name in _HIDDEN and not closing:
        end_tag = _HIDDEN[name].search(html, markup.end())
        return len(html) if end_tag is None else end_tag.end()
    lines.tag(name, closing)
    return markup.end()


class _Lines:
    """Lines of text gathered from HTML, each quoted by its blockquote depth."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._line: list[str] = []
        self._line_depth = 0
        self._quote_depth = 0
        self._pre = 0

    def write(self, data: str) -> None:
        """Add character data (entities still escaped)."""
        if not data:
            return
        data = unescape(data)
        if not self._pre:
            self._add(_SPACES.sub(" ", data))
            return
        first, *rest = data.replace("\r\n", "\n").split("\n")
        self._add(first)
        for line in rest:
            self._end_line(keep_empty=True)
            self._add(line)

    def tag(self, name: str, closing: bool) -> None:
        """Apply a start or end tag: a line break for ``br`` and block elements."""
        if name == "br":
            if not closing:
                self._end_line(keep_empty=True)
            return
        if name not in _BLOCKS:
            return
        self._end_line()
        step = -1 if closing else 1
        if name == "pre":
            self._pre = max(0, self._pre + step)
        elif name == "blockquote":
            self._quote_depth = max(0, self._quote_depth + step)

    def text(self) -> str:
        """The lines gathered, runs of blank lines cut to one."""
        self._end_line()
        return re.sub(r"\n{3,}", "\n\n", "\n".join(self._lines)).strip("\n")

    def _add(self, text: str) -> None:
        if text and not self._line:
            self._line_depth = self._quote_depth
        self._line.append(text)

    def _end_line(self, *, keep_empty: bool = False) -> None:
        line = "".join(self._line)
        line = (line.rstrip(" ") if self._pre else line.strip(" ")).replace("\xa0", " ")
        depth = self._line_depth if self._line else self._quote_depth
        if line or keep_empty:
            self._lines.append(("> " * depth + line).rstrip(" "))
        self._line = []


# -- replies ---------------------------------------------------------------------------

_ORIGINAL = re.compile(r"^-{2,}\s*(original message|元のメッセージ|オリジナル・?メッセージ)"
                       r"\s*-{2,}$", re.IGNORECASE)
_ENGLISH_ATTRIBUTION = re.compile(r"^On\s.+\swrote\s*:$", re.IGNORECASE)
_JAPANESE_ENDING = re.compile(r"(のメッセージ|のメール|さんは書きました|さんが書きました"
                              r"|が書きました)\s*[:：]$")
_JAPANESE_DATE = re.compile(r"^\d{4}\s*[年/.\-]\s*\d{1,2}\s*[月/.\-]\s*\d{1,2}")
_ADDRESS_IN_BRACKETS = re.compile(r"[<＜]\s*[^<>＜＞\s]+@[^<>＜＞\s]+\s*[>＞]")
_TIME = re.compile(r"\d{1,2}:\d{2}")
_YEAR = re.compile(r"(?<!\d)(19|20)\d\d(?!\d)")
_HEADER_FROM = re.compile(r"^(from|差出人|送信者)\s*[:：]", re.IGNORECASE)
_HEADER_SENT = re.compile(r"^(sent|date|送信日時|日時|日付)\s*[:：]", re.IGNORECASE)
_RULE = re.compile(r"^_{10,}$")
_COLONS = (":", "：")


def reply_text(text: str) -> str:
    """``text`` without the quoted previous message, for showing a reply in a case.

    It drops lines starting with ``>``, and everything from the first reply header: an
    attribution line (``On ... wrote:``, ``2026年1月1日(木) 10:00 Shop <a@b>:``,
    ``...のメッセージ:``, ``...さんは書きました:``, possibly wrapped over two lines), an
    ``-----Original Message-----`` or ``-----元のメッセージ-----`` separator, or an Outlook
    header block (``From:`` / ``差出人:`` followed by ``Sent:`` / ``送信日時:``).

    It is conservative: when nothing is left above the reply header (a reply written
    below or between the quotes), only the quoted lines and the attribution lines go. The
    result is empty only when every line of ``text`` is quoted or blank.
    """
    lines = text.split("\n")
    cut = _reply_header(lines)
    if cut is None:
        return _unquoted(lines)
    above = _unquoted(lines[:cut])
    if above:
        return above
    attributions = set(_attribution_lines(lines))
    kept = _unquoted(line for i, line in enumerate(lines) if i not in attributions)
    return kept or _unquoted(lines)


def _unquoted(lines: Iterable[str]) -> str:
    """The lines not quoted, runs of blank lines cut to one, stripped."""
    kept: list[str] = []
    for line in lines:
        if _quoted(line):
            continue
        if line.strip():
            kept.append(line)
        elif kept and kept[-1]:
            kept.append("")
    return "\n".join(kept).strip()


def _reply_header(lines: Sequence[str]) -> int | None:
    """The index of the first line of the first reply header, or None."""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped[0] == ">":
            continue
        if _ORIGINAL.match(stripped) or _attribution_at(lines, i):
            return i
        if _HEADER_FROM.match(stripped) and any(
                _HEADER_SENT.match(following.strip()) for following in lines[i + 1:i + 5]):
            return _rule_above(lines, i)
    return None


def _rule_above(lines: Sequence[str], i: int) -> int:
    """``i``, or the index of an underscore rule just above it (Outlook draws one)."""
    above = i - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    return above if above >= 0 and _RULE.match(lines[above].strip()) else i


def _attribution_lines(lines: Sequence[str]) -> Iterable[int]:
    for i in range(len(lines)):
        if not _quoted(lines[i]) and _attribution_at(lines, i):
            yield i
            if not _is_attribution(lines[i].strip()):
                yield i + 1  # the second half of a wrapped attribution


def _attribution_at(lines: Sequence[str], i: int) -> bool:
    """Whether an attribution starts at line ``i`` (alone, or wrapped onto the next)."""
    line = lines[i].strip()
    if not line:
        return False
    if _is_attribution(line):
        return True
    following = lines[i + 1].strip() if i + 1 < len(lines) else ""
    return (following.endswith(_COLONS) and not following.startswith(">")
            and not _is_attribution(following) and _is_attribution(f"{line} {following}"))


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _is_attribution(line: str) -> bool:
    """Whether ``line`` reads like a client's "On <date>, <sender> wrote:" line: the
    wording alone is not enough, it must name an address, a time or a year too."""
    if not line.endswith(_COLONS):
        return False
    address = _ADDRESS_IN_BRACKETS.search(line) is not None
    if _JAPANESE_DATE.match(line) and address:
        return True
    marked = address or _TIME.search(line) is not None or _YEAR.search(line) is not None
    return marked and bool(_ENGLISH_ATTRIBUTION.match(line) or _JAPANESE_ENDING.search(line))
