"""PURE. The hidden marker and digest of our PR comment, and what changed since the comment they replace.

The comment ends with a hidden digest of the verdict (labels per test), so the next push can say
what changed, and so the publisher can skip an edit when nothing did.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError

from flakehound.engine.wording import plural
from flakehound.render.escape import code as _code
from flakehound.render.escape import text as _text

if TYPE_CHECKING:
    from flakehound.models import Report

__all__ = ["Digest", "encode_digest", "make_digest", "make_marker", "parse_digest", "render_changes"]

_DIGEST_NAMED_MAX = 2048
_DIGEST_RE = re.compile(r"<!-- flakehound:digest v1 ([A-Za-z0-9+/=]*) -->")


class Digest(BaseModel):
    """The verdict in a few bytes: labels per test, keyed by node id or by ``sha256:`` of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    passed: bool
    status: str
    labels: dict[str, str]


def make_marker(key: str = "") -> str:
    """Build the hidden comment that identifies our comment for one check name and matrix key."""
    if not key:
        return "<!-- flakehound:report -->"
    # quote() leaves only letters, digits and "-._~"; a "--" would end the HTML comment early.
    return f"<!-- flakehound:report {quote(key, safe='').replace('--', '-%2D')} -->"


def _digest_key(nodeid: str) -> str:
    return "sha256:" + hashlib.sha256(nodeid.encode()).hexdigest()[:16]


def make_digest(report: Report) -> Digest:
    """Collect the labels of this report; node ids are hashed when naming them all is too long."""
    labels = {failure.nodeid: failure.classification.value for failure in report.failures}
    labels.update({failure.nodeid: "latent" for failure in report.latent})
    if sum(len(nodeid) + len(label) + 6 for nodeid, label in labels.items()) > _DIGEST_NAMED_MAX:
        labels = {_digest_key(nodeid): label for nodeid, label in labels.items()}
    return Digest(passed=report.gate.passed, status=report.status, labels=labels)


def encode_digest(digest: Digest) -> str:
    """The digest as the hidden HTML comment that ends our PR comment."""
    payload = base64.b64encode(digest.model_dump_json().encode()).decode()
    return f"<!-- flakehound:digest v1 {payload} -->"


def parse_digest(body: str) -> Digest | None:
    """Read the digest in a comment we wrote earlier; None if there is none or it is damaged."""
    match = _DIGEST_RE.search(body)
    if match is None:
        return None
    try:
        return Digest.model_validate_json(base64.b64decode(match.group(1), validate=True))
    except (binascii.Error, ValidationError):
        return None


def _canonical(key: str) -> str:
    return key if key.startswith("sha256:") else _digest_key(key)


def render_changes(report: Report, previous: Digest) -> list[str]:
    """List fixed, new and still-failing tests against the digest of the comment being replaced."""
    current = {
        _digest_key(failure.nodeid): (failure.nodeid, failure.classification.value) for failure in report.failures
    }
    current.update({_digest_key(failure.nodeid): (failure.nodeid, "latent") for failure in report.latent})
    before = {_canonical(key): (key, label) for key, label in previous.labels.items()}
    lines = ["### What changed since the last push", ""]
    if previous.passed != report.gate.passed:
        was, now = ("passed", "blocked") if previous.passed else ("blocked", "passed")
        lines.append(f"- Verdict: was **{was}**, now **{now}**.")
    fixed = [key for canonical, (key, _) in before.items() if canonical not in current]
    if fixed:
        named = [_code(key) for key in fixed if not key.startswith("sha256:")]
        unnamed = len(fixed) - len(named)
        if unnamed:
            named.append(f"{plural(unnamed, 'test')} named only by hash")
        lines.append(f"- Fixed ({len(fixed)}): " + ", ".join(named))
    new = [(nodeid, label) for canonical, (nodeid, label) in current.items() if canonical not in before]
    if new:
        lines.append(f"- New ({len(new)}): " + ", ".join(f"{_code(nodeid)} ({label})" for nodeid, label in new))
    still = []
    relabelled = False
    for canonical, (nodeid, label) in current.items():
        if canonical in before:
            was_label = before[canonical][1]
            relabelled = relabelled or was_label != label
            change = "" if was_label == label else f", was {_text(was_label)}"
            still.append(f"{_code(nodeid)} ({label}{change})")
    if len(lines) == 2 and not relabelled:  # noqa: PLR2004 - the heading and its blank line: nothing new
        return [*lines, "No change since the last push."]
    if still:
        lines.append(f"- Still failing ({len(still)}): " + ", ".join(still))
    return lines
