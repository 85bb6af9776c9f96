"""Settings: every option of an investigation, validated once, frozen.

The CLI (argparse) and the Action (``INPUT_*`` variables) both build a ``Settings``; pydantic's
``ValidationError`` is turned into one ``ConfigError`` sentence naming the input, here and nowhere else.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flakehound.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["DEFAULT_ORIGINAL_TIMEOUT", "Settings", "build_model", "build_settings"]

DEFAULT_ORIGINAL_TIMEOUT = 1800.0

_Model = TypeVar("_Model", bound=BaseModel)


class Settings(BaseModel):
    """What to run, how hard to investigate, and where the gate stands."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cwd: Path
    python: str = Field(default_factory=lambda: sys.executable)
    pytest_args: tuple[str, ...] = ()
    junit: tuple[str, ...] = ()
    reruns: int = Field(default=5, ge=1, le=1000)
    replays: int = Field(default=3, ge=0, le=1000)
    orders: int | None = Field(default=None, ge=0, le=1000)
    seed: int = Field(ge=0, lt=2**32)
    max_failures: int = Field(default=50, ge=1)
    min_pass_rate: float = Field(default=100.0, ge=0, le=100)
    fail_on_latent: bool = False
    timeout: float | None = Field(default=None, gt=0)
    measure_coverage: bool = True
    coverage_files: tuple[str, ...] = ()
    min_coverage: float = Field(default=100.0, ge=0, le=100)
    min_diff_coverage: float = Field(default=100.0, ge=0, le=100)
    base: str | None = None
    report: Path = Path("flakehound-report.json")
    junit_out: Path | None = None

    def permuted_orders(self, has_failures: bool) -> int:
        """``--orders``, or 3 when something failed and 2 on a green suite."""
        if self.orders is not None:
            return self.orders
        return 3 if has_failures else 2


def build_model(model: type[_Model], values: Mapping[str, Any], names: Mapping[str, str]) -> _Model:
    """Validate ``values`` into ``model``; ``names`` maps fields to the user's spelling of them."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        shown = names.get(field, field)
        value = values.get(field)
        message = first["msg"][0].lower() + first["msg"][1:]
        msg = f"{shown} {message}, got {value!r}"
        raise ConfigError(msg) from None


def build_settings(values: Mapping[str, Any], names: Mapping[str, str]) -> Settings:
    """Validate ``values`` into ``Settings``; ``names`` maps fields to the user's spelling of them."""
    return build_model(Settings, values, names)
