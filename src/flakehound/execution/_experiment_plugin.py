"""The pytest plugin the root-cause experiments load in a child run with ``-p flakehound.execution._experiment_plugin``.

* ``--flakehound-random-seed=N``: reseed ``random`` (and numpy's global generator, when numpy is
  installed) with N before each test's setup, so a test's draws are a function of N.
* ``--flakehound-no-network``: refuse outbound connections to anything but loopback (and Unix
  sockets), and name lookups of anything but localhost, for the whole run.

This module runs in the project's interpreter, so it uses only the standard library and pytest.
"""

from __future__ import annotations

import errno
import importlib
import importlib.util
import ipaddress
import random
import socket
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Generator

__all__: list[str] = []

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_INET = frozenset({socket.AF_INET, socket.AF_INET6})


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the experiment options."""
    group = parser.getgroup("flakehound experiments")
    group.addoption("--flakehound-random-seed", type=int, default=None, help="reseed random before each test")
    group.addoption("--flakehound-no-network", action="store_true", default=False, help="refuse non-loopback network")
    group.addoption("--flakehound-switch-interval", type=float, default=None, help="thread switch interval per test")
    group.addoption("--flakehound-clock-phase", type=float, default=None, help="start tests at this second fraction")


def is_loopback_host(host: object) -> bool:
    """Whether ``host`` names this machine's loopback: an IP in 127/8 or ::1 (mapped too), or localhost."""
    if isinstance(host, bytes):
        host = host.decode("ascii", errors="replace")
    if not isinstance(host, str):
        return False
    name = host.lower().rstrip(".")
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _refusal(address: object) -> ConnectionRefusedError:
    return ConnectionRefusedError(
        errno.ECONNREFUSED,
        f"flakehound refused a connection to {address!r}: the network experiment allows loopback only",
    )


class _NetworkGuard:
    """Replaces ``socket.socket.connect``, ``connect_ex`` and ``socket.getaddrinfo``, and puts them back."""

    def __init__(self) -> None:
        self.connect = socket.socket.connect
        self.connect_ex = socket.socket.connect_ex
        self.getaddrinfo = socket.getaddrinfo

    def install(self) -> None:
        guard = self

        def connect(sock: socket.socket, address: Any) -> None:  # noqa: ANN401 - socket addresses are any shape
            if sock.family in _INET and not is_loopback_host(address[0]):
                raise _refusal(address)
            guard.connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:  # noqa: ANN401 - socket addresses are any shape
            if sock.family in _INET and not is_loopback_host(address[0]):
                return errno.ECONNREFUSED
            return guard.connect_ex(sock, address)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - socket's own signature
            text = host.decode("ascii", errors="replace") if isinstance(host, bytes) else host
            if isinstance(text, str) and not is_loopback_host(text) and not _is_ip_literal(text):
                raise socket.gaierror(socket.EAI_NONAME, f"flakehound refused to look up {text!r} (no network)")
            return guard.getaddrinfo(host, *args, **kwargs)

        socket.socket.connect = connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
        socket.getaddrinfo = getaddrinfo

    def remove(self) -> None:
        socket.socket.connect = self.connect  # type: ignore[method-assign]
        socket.socket.connect_ex = self.connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = self.getaddrinfo


def pytest_configure(config: pytest.Config) -> None:
    """Apply the changes the options ask for; the network guard is removed when pytest finishes."""
    apply(
        config,
        config.getoption("flakehound_random_seed"),
        no_network=config.getoption("flakehound_no_network"),
        switch_interval=config.getoption("flakehound_switch_interval"),
        clock_phase=config.getoption("flakehound_clock_phase"),
    )


def apply(
    config: pytest.Config,
    random_seed: int | None,
    *,
    no_network: bool,
    switch_interval: float | None = None,
    clock_phase: float | None = None,
) -> None:
    """Make the changes asked for, for the rest of the run (a forked child calls this with a request's tweaks)."""
    if no_network:
        guard = _NetworkGuard()
        guard.install()
        config.add_cleanup(guard.remove)
    if random_seed is not None:
        config.pluginmanager.register(_Reseeder(random_seed), "flakehound-reseeder")
    if switch_interval is not None:
        config.pluginmanager.register(_Switcher(switch_interval), "flakehound-switcher")
    if clock_phase is not None:
        config.pluginmanager.register(_Phaser(clock_phase), "flakehound-phaser")


def _seed_numpy(seed: int) -> None:
    if importlib.util.find_spec("numpy") is None:
        return
    numpy = importlib.import_module("numpy")
    numpy.random.seed(seed % 2**32)


class _Reseeder:
    """Reseeds the global generators with one seed before each test's fixtures run."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self) -> None:
        """Reseed before the test's fixtures run."""
        random.seed(self.seed)
        _seed_numpy(self.seed)


class _Switcher:
    """Sets the interpreter's thread switch interval while each test runs, and puts it back after."""

    def __init__(self, interval: float) -> None:
        self.interval = interval

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self) -> Generator[None, object, None]:
        """Run the test body with the switch interval set."""
        default = sys.getswitchinterval()
        sys.setswitchinterval(self.interval)
        try:
            yield
        finally:
            sys.setswitchinterval(default)


def delay_to_phase(now: float, phase: float) -> float:
    """Seconds from ``now`` until the clock's fraction of a second is ``phase`` next."""
    return (phase - now % 1) % 1


class _Phaser:
    """Waits before each test body until the clock's fraction of a second is the phase asked for."""

    def __init__(self, phase: float) -> None:
        self.phase = phase

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self) -> None:
        """Sleep until the phase, right before the test body runs."""
        time.sleep(delay_to_phase(time.time(), self.phase))
