"""IO-light. The catalog of known failure signatures: a TOML file shipped in the package, plus the user's own.

A signature names what a failure looks like (its exception type, a regular expression over its
message or its traceback, the modules its traceback passes through, or a structural check on an
assertion's two sides) and what it usually means: a category from a fixed vocabulary, a title and
advice. ``signatures.toml`` holds the built-in ones as ``[[signature]]`` tables; ``--hints-file``
adds more, which come first and replace a built-in signature with the same ``id``. Every file is
validated here, once, by pydantic; a broken user file is a ``ConfigError`` naming it.
"""

from __future__ import annotations

import re
import sys
from importlib import resources
from typing import TYPE_CHECKING, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flakehound.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only; the suite runs on 3.11+
    import tomli as tomllib

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["CATEGORIES", "Catalog", "Category", "Check", "Signature", "load_catalog", "parse_catalog"]

#: The fixed vocabulary of root-cause categories.
Category = Literal[
    "async-event-loop",
    "shared-state",
    "environment",
    "filesystem",
    "database",
    "monkeypatch",
    "timing",
    "concurrency",
    "unordered-collection",
    "clock",
    "randomness",
    "network",
    "resource-leak",
    "floating-point",
    "code-bug",
]
CATEGORIES: tuple[str, ...] = get_args(Category)

#: Structural checks on a failed ``assert LEFT == RIGHT``, done in :mod:`flakehound.engine.hints`.
Check = Literal["same-items", "close-floats"]

BUILTIN = "signatures.toml"


class Signature(BaseModel):
    """What one kind of failure looks like, and what it usually means. Every condition given must hold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    category: Category
    title: str = Field(min_length=1)
    advice: str = Field(min_length=1)
    exceptions: tuple[str, ...] = ()
    message: str | None = None
    traceback: str | None = None
    frames: tuple[str, ...] = ()
    check: Check | None = None
    confidence: Literal["high", "medium", "low"] = "medium"

    @field_validator("message", "traceback")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as error:
                msg = f"{pattern!r} is not a regular expression ({error})"
                raise ValueError(msg) from None
        return pattern

    @model_validator(mode="after")
    def _has_a_condition(self) -> Signature:
        if not (self.exceptions or self.message or self.traceback or self.frames or self.check):
            msg = "a signature needs at least one of exceptions, message, traceback, frames or check"
            raise ValueError(msg)
        return self


class Catalog(BaseModel):
    """Signatures in the order they are tried: the user's first, then the built-in ones."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    signatures: tuple[Signature, ...] = Field(default=(), validation_alias="signature")

    @model_validator(mode="after")
    def _unique_ids(self) -> Catalog:
        seen: set[str] = set()
        for signature in self.signatures:
            if signature.id in seen:
                msg = f"the id {signature.id!r} is used twice"
                raise ValueError(msg)
            seen.add(signature.id)
        return self


def _first_problem(error: ValidationError, data: object) -> str:
    """One line about the first validation error: which signature (by number and id), which field, what is wrong."""
    first = error.errors()[0]
    location = list(first["loc"])
    where = "the file"
    if location[:1] == ["signature"] and len(location) > 1 and isinstance(location[1], int):
        index = location[1]
        tables = data.get("signature") if isinstance(data, dict) else None
        table = tables[index] if isinstance(tables, list) and index < len(tables) else None
        name = table.get("id") if isinstance(table, dict) else None
        where = f"signature {index + 1}" + (f" (id {name!r})" if isinstance(name, str) else "")
        location = location[2:]
    field = ".".join(str(part) for part in location)
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {field + ': ' if field else ''}{message}"


def parse_catalog(text: str) -> Catalog:
    """Validate the text of a signature file; ``ValueError`` with one line saying what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        msg = f"it is not TOML ({error})"
        raise ValueError(msg) from None
    try:
        return Catalog.model_validate(data)
    except ValidationError as error:
        raise ValueError(_first_problem(error, data)) from None


def _builtin_text() -> str:
    return resources.files("flakehound.engine").joinpath(BUILTIN).read_text(encoding="utf-8")


def _read_user_file(path: Path) -> Catalog:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        msg = f"--hints-file {str(path)!r} cannot be read ({reason}); pass a TOML file of [[signature]] tables"
        raise ConfigError(msg) from None
    try:
        return parse_catalog(text)
    except ValueError as error:
        msg = (
            f"--hints-file {str(path)!r} is not a signature catalog: {error};"
            " see flakehound's own signatures.toml for the format"
        )
        raise ConfigError(msg) from None


def load_catalog(user_files: Sequence[Path] = ()) -> Catalog:
    """The user's signatures (in the order given) before the built-in ones; a user id replaces a built-in one."""
    chosen: dict[str, Signature] = {}
    for path in user_files:
        for signature in _read_user_file(path).signatures:
            chosen.setdefault(signature.id, signature)
    for signature in parse_catalog(_builtin_text()).signatures:
        chosen.setdefault(signature.id, signature)
    return Catalog(signatures=tuple(chosen.values()))
