"""PURE. Untrusted text made safe for GitHub-flavoured markdown, one escaper per place it can go.

Everything that comes from the tested project (test ids, messages, output, paths, hint text that
quotes them) is untrusted: a pull request chooses its own test names. Such text only reaches the
page through one of four escapers: ``text`` (inline markdown), ``code`` (inline code span), ``html``
(inside our own HTML tags) and ``block`` (fenced code block). Each strips control characters and
bidirectional overrides first.
"""

from __future__ import annotations

import html as _html_module
import re

__all__ = ["block", "cell", "clean", "code", "html", "link", "one_line", "shorten", "text"]

_REPLACEMENT = "\N{REPLACEMENT CHARACTER}"
# C0 controls except tab and newline, DEL, C1 controls, and every bidirectional mark or override
# (Trojan Source: U+202A-U+202E, U+2066-U+2069, plus LRM/RLM/ALM and the line/paragraph separators).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]#!|~])")
_LINE_START = re.compile(r"^([-+=]|\d+(?=[.)]))")
_MENTION = re.compile(r"([@#])(?=\w)")
_BACKTICKS = re.compile(r"`+")


def clean(text: str) -> str:
    """Drop carriage returns; replace controls and bidi overrides with a visible U+FFFD."""
    return _UNSAFE.sub(_REPLACEMENT, text.replace("\r\n", "\n").replace("\r", "\n"))


def one_line(text: str) -> str:
    """Cleaned text on one line, runs of whitespace made one space."""
    return " ".join(clean(text).split())


def _defuse_mentions(text: str) -> str:
    """Put a zero-width joiner after ``@`` and ``#`` so GitHub links no user, team or issue."""
    return _MENTION.sub("\\1\N{ZERO WIDTH JOINER}", text)


def text(text: str) -> str:
    """Untrusted text as inline markdown: one line, HTML and markdown syntax escaped, no mentions."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", _html_module.escape(_defuse_mentions(one_line(text)), quote=False))
    # A list marker, "=" or "1." at the start could make a paragraph into a list or heading.
    return _LINE_START.sub(
        lambda match: match.group() + "\\" if match.group().isdigit() else "\\" + match.group(), escaped
    )


def html(text: str) -> str:
    """Untrusted text inside our own HTML tags (where markdown is not parsed)."""
    # Mentions first: the entities made here have a "#" that must stay whole.
    return _html_module.escape(_defuse_mentions(one_line(text))).replace("[", "&#91;").replace("]", "&#93;")


def code(text: str) -> str:
    """Untrusted text as an inline code span, fenced with more backticks than it contains."""
    body = one_line(text)
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * (longest + 1)
    if body.startswith("`") or body.endswith("`") or not body.strip():
        body = f" {body} "
    return f"{fence}{body}{fence}"


def cell(markdown: str) -> str:
    """Already-escaped markdown made safe for a table cell (pipes split cells even in code spans)."""
    return markdown.replace("|", "\\|")


def block(text: str, info: str = "") -> str:
    """Untrusted text as a fenced code block whose fence no line of it can close."""
    body = clean(text).rstrip("\n")
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


def shorten(text: str, limit: int) -> str:
    """Cut text to ``limit`` characters, an ellipsis last."""
    return text if len(text) <= limit else text[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def link(label: str, url: str) -> str:
    """Link to a URL we built, encoding every character that could end the destination."""
    safe = "".join(f"%{ord(char):02X}" if char in " <>()\"'\\" or not char.isprintable() else char for char in url)
    return f"[{label}]({safe})"
