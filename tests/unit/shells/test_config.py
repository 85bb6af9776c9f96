from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from flakehound.config import Settings, build_settings
from flakehound.errors import ConfigError

NAMES = {"reruns": "--reruns", "seed": "--seed", "min_pass_rate": "--min-pass-rate", "timeout": "--timeout"}
REQUIRED: dict[str, Any] = {"cwd": Path("/project"), "seed": 1234}


def test_defaults() -> None:
    """Only the folder and the seed are required; everything else has the documented default."""
    settings = build_settings(REQUIRED, NAMES)
    assert settings == Settings(
        cwd=Path("/project"),
        python=sys.executable,
        pytest_args=(),
        junit=(),
        reruns=5,
        replays=3,
        orders=None,
        seed=1234,
        max_failures=50,
        min_pass_rate=100.0,
        fail_on_latent=False,
        timeout=None,
        report=Path("flakehound-report.json"),
        junit_out=None,
    )


def test_strings_from_the_command_line_are_converted() -> None:
    """Numbers written as text (as argparse hands them over) become numbers."""
    settings = build_settings({**REQUIRED, "reruns": "7", "min_pass_rate": "99.5", "timeout": "60"}, NAMES)
    assert (settings.reruns, settings.min_pass_rate, settings.timeout) == (7, 99.5, 60.0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param(
            "reruns",
            "abc",
            "--reruns input should be a valid integer, unable to parse string as an integer, got 'abc'",
            id="reruns-not-a-number",
        ),
        pytest.param("reruns", 0, "--reruns input should be greater than or equal to 1, got 0", id="reruns-zero"),
        pytest.param(
            "min_pass_rate",
            101,
            "--min-pass-rate input should be less than or equal to 100, got 101",
            id="pass-rate-over-100",
        ),
        pytest.param("seed", -1, "--seed input should be greater than or equal to 0, got -1", id="negative-seed"),
        pytest.param("seed", 2**32, "--seed input should be less than 4294967296, got 4294967296", id="seed-too-big"),
        pytest.param("timeout", 0, "--timeout input should be greater than 0, got 0", id="timeout-zero"),
        pytest.param(
            "replays",
            -1,
            "replays input should be greater than or equal to 0, got -1",
            id="unnamed-field-uses-its-own-name",
        ),
        pytest.param("bogus", 3, "bogus extra inputs are not permitted, got 3", id="unknown-input"),
    ],
)
def test_bad_values_name_the_input_and_show_the_value(field: str, value: object, message: str) -> None:
    """A bad value raises one ConfigError sentence: the input as the user spells it, problem, value."""
    with pytest.raises(ConfigError) as raised:
        build_settings({**REQUIRED, field: value}, NAMES)
    assert str(raised.value) == message
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_missing_required_input_is_named() -> None:
    """A missing seed names the option and shows that nothing was given."""
    with pytest.raises(ConfigError, match=r"^--seed field required, got None$"):
        build_settings({"cwd": Path("/project")}, NAMES)


@pytest.mark.parametrize(
    ("orders", "has_failures", "expected"),
    [
        pytest.param(None, True, 3, id="default-with-failures"),
        pytest.param(None, False, 2, id="default-when-green"),
        pytest.param(0, True, 0, id="explicit-zero"),
        pytest.param(5, False, 5, id="explicit-five"),
    ],
)
def test_permuted_orders(orders: int | None, has_failures: bool, expected: int) -> None:
    """--orders wins when given; otherwise 3 shuffled orders when something failed and 2 on a green suite."""
    assert build_settings({**REQUIRED, "orders": orders}, NAMES).permuted_orders(has_failures) == expected


def test_settings_are_frozen() -> None:
    """Settings cannot be changed after validation."""
    settings = build_settings(REQUIRED, NAMES)
    with pytest.raises(ValidationError, match="frozen"):
        settings.reruns = 2  # type: ignore[misc]
