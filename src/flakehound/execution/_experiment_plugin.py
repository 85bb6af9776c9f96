"""The pytest plugin the root-cause experiments load in a child run with ``-p flakehound.execution._experiment_plugin``.

* ``--flakehound-random-seed=N``: reseed ``random`` (and numpy's global generator, when numpy is
  installed) with N before each test's setup, so a test's draws are a function of N.
* ``--flakehound-no-network``: refuse outbound connections to anything but loopback (and Unix
  sockets), and name lookups of anything but localhost, for the whole run.
* ``--flakehound-switch-interval=S``: ``sys.setswitchinterval(S)`` while each test's body runs.
* ``--flakehound-clock-phase=F``: start each test's body when the clock's fraction of a second is F.
* ``--flakehound-frozen-clock``: the wall clock reads one instant (the moment the test's setup
  began) through each test's setup, call and teardown: ``time.time``, ``time.time_ns``,
  ``time.localtime``/``gmtime``/``strftime``/``ctime``/``asctime`` without a time, ``datetime.datetime.now``/``utcnow``/
  ``today`` and ``datetime.date.today``. The datetime types are C types, so, as freezegun does,
  subclasses that read the frozen instant stand in for them in the ``datetime`` module and in every
  module that imported the names (``from datetime import datetime``), and everything is put back
  after the test. ``time.monotonic`` and ``time.perf_counter`` keep running, so pytest, timeouts and
  asyncio work as before (a loop waiting for ``time.time()`` to pass a deadline waits forever).

This module runs in the project's interpreter, so it uses only the standard library and pytest.
"""

from __future__ import annotations

import copyreg
import datetime as dt
import errno
import importlib
import importlib.util
import ipaddress
import random
import socket
import sys
import time
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Generator

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
    group.addoption("--flakehound-frozen-clock", action="store_true", default=False, help="freeze the wall clock")


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
        frozen_clock=config.getoption("flakehound_frozen_clock"),
    )


def apply(
    config: pytest.Config,
    random_seed: int | None,
    *,
    no_network: bool,
    switch_interval: float | None = None,
    clock_phase: float | None = None,
    frozen_clock: bool = False,
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
    if frozen_clock:
        freezer = _ClockFreezer()
        config.pluginmanager.register(freezer, "flakehound-clock-freezer")
        config.add_cleanup(freezer.thaw)


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


#: The real clock, read when this module is imported (before any test can freeze it).
_REAL_TIME = time.time
_REAL_TIME_NS = time.time_ns
_REAL_LOCALTIME = time.localtime
_REAL_GMTIME = time.gmtime
_REAL_STRFTIME = time.strftime
_REAL_CTIME = time.ctime
_REAL_ASCTIME = time.asctime
_REAL_DATE = dt.date
_REAL_DATETIME = dt.datetime
#: Top-level packages whose names for the clock stay real: pytest's own timing and reports, and flakehound's.
_SPARED = frozenset({"_pytest", "pytest", "pluggy", "flakehound", "_datetime", "_pydatetime"})


class _StandInType(type):
    """The type of the frozen clock's datetime types: an instance of the real type is an instance of its stand-in."""

    _real: type

    def __instancecheck__(cls, instance: object) -> bool:
        """``isinstance(datetime_value, datetime)`` holds while ``datetime`` names the stand-in."""
        return isinstance(instance, cls._real)

    def __subclasscheck__(cls, subclass: type) -> bool:
        """``issubclass(real_type, stand_in)`` holds as it does for the real type."""
        return issubclass(subclass, cls._real)


def _stand_ins(clock: _ClockFreezer) -> tuple[type[dt.date], type[dt.datetime]]:
    """Subclasses of ``date`` and ``datetime`` whose ``today``/``now``/``utcnow`` read ``clock``'s frozen instant.

    They return instances of the real types. Each is named as the type it stands in for, so pickle
    finds it under that name while the clock is frozen (and a process that unpickles it without a
    frozen clock gets the real type).
    """

    class date(_REAL_DATE, metaclass=_StandInType):  # noqa: N801 - stands in for datetime.date
        _real = _REAL_DATE

        @classmethod
        def today(cls) -> dt.date:  # type: ignore[override]  # a real date, not the stand-in
            """The frozen instant's local date."""
            return _REAL_DATE.fromtimestamp(clock.seconds)

    class datetime_(_REAL_DATETIME, date, metaclass=_StandInType):  # noqa: N801 - stands in for datetime.datetime
        _real = _REAL_DATETIME

        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]  # a real datetime, not the stand-in
            """The frozen instant, in local time or in ``tz``."""
            return _REAL_DATETIME.fromtimestamp(clock.seconds, tz)

        @classmethod
        def today(cls) -> dt.datetime:  # type: ignore[override]  # a real datetime, not the stand-in
            """The frozen instant in local time."""
            return _REAL_DATETIME.fromtimestamp(clock.seconds)

        @classmethod
        def utcnow(cls) -> dt.datetime:  # type: ignore[override]  # a real datetime, not the stand-in
            """The frozen instant in UTC, naive (without the deprecation warning of the real one)."""
            return _REAL_DATETIME.fromtimestamp(clock.seconds, dt.timezone.utc).replace(tzinfo=None)

    for stand_in, name in ((date, "date"), (datetime_, "datetime")):
        stand_in.__module__, stand_in.__name__, stand_in.__qualname__ = "datetime", name, name
    return date, datetime_


def _rebind(replacements: dict[int, tuple[object, object]]) -> None:
    """Rebind each module global bound to a replaced object to its replacement (not in pytest's or flakehound's)."""
    for name, module in list(sys.modules.items()):
        if not isinstance(module, ModuleType) or name.partition(".")[0] in _SPARED:
            continue
        namespace = vars(module)
        for attribute, value in list(namespace.items()):
            found = replacements.get(id(value))
            if found is not None and found[0] is value:
                namespace[attribute] = found[1]


class _ClockFreezer:
    """Makes the wall clock read one instant through each test's setup, call and teardown, and puts it back after.

    The instant is the moment the test's setup began. Every global that names a real clock function
    or datetime type (``time.time`` in the ``time`` module, ``datetime`` in a module that did ``from
    datetime import datetime``, ...) is rebound to its stand-in, and back after the teardown, in
    modules imported during the test too.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.nanoseconds = 0
        stand_in_date, stand_in_datetime = _stand_ins(self)

        def frozen_time() -> float:
            """The frozen instant, in seconds since the epoch."""
            return self.seconds

        def frozen_time_ns() -> int:
            """The frozen instant, in nanoseconds since the epoch."""
            return self.nanoseconds

        def frozen_localtime(seconds: float | None = None) -> time.struct_time:
            """Local time at ``seconds``, or at the frozen instant."""
            return _REAL_LOCALTIME(self.seconds if seconds is None else seconds)

        def frozen_gmtime(seconds: float | None = None) -> time.struct_time:
            """UTC at ``seconds``, or at the frozen instant."""
            return _REAL_GMTIME(self.seconds if seconds is None else seconds)

        def frozen_strftime(format: str, moment: Any = None) -> str:  # noqa: A002, ANN401 - time.strftime's own
            """``moment`` formatted, or the frozen instant in local time."""
            return _REAL_STRFTIME(format, _REAL_LOCALTIME(self.seconds) if moment is None else moment)

        def frozen_ctime(seconds: float | None = None) -> str:
            """``seconds``, or the frozen instant, as local time in ``ctime``'s words."""
            return _REAL_CTIME(self.seconds if seconds is None else seconds)

        def frozen_asctime(moment: Any = None) -> str:  # noqa: ANN401 - time.asctime's own
            """``moment``, or the frozen instant in local time, in ``asctime``'s words."""
            return _REAL_ASCTIME(_REAL_LOCALTIME(self.seconds) if moment is None else moment)

        pairs: list[tuple[object, object]] = [
            (_REAL_TIME, frozen_time),
            (_REAL_TIME_NS, frozen_time_ns),
            (_REAL_LOCALTIME, frozen_localtime),
            (_REAL_GMTIME, frozen_gmtime),
            (_REAL_STRFTIME, frozen_strftime),
            (_REAL_CTIME, frozen_ctime),
            (_REAL_ASCTIME, frozen_asctime),
            (_REAL_DATE, stand_in_date),
            (_REAL_DATETIME, stand_in_datetime),
        ]
        self.freezing = {id(real): (real, frozen) for real, frozen in pairs}
        self.thawing = {id(frozen): (frozen, real) for real, frozen in pairs}
        # pickle looks a real date up by its name, which names the stand-in while the clock is
        # frozen: a real value pickles as its stand-in instead (as freezegun does)
        self.reducers: dict[type, Callable[[Any], tuple[Any, ...]]] = {
            _REAL_DATE: lambda value: (stand_in_date, value.__reduce__()[1]),
            _REAL_DATETIME: lambda value: (stand_in_datetime, value.__reduce_ex__(4)[1]),
        }

    def freeze(self) -> None:
        """Stop the wall clock at this moment."""
        self.nanoseconds = _REAL_TIME_NS()
        self.seconds = self.nanoseconds / 1e9
        _rebind(self.freezing)
        copyreg.dispatch_table.update(self.reducers)

    def thaw(self) -> None:
        """Put the real clock back everywhere (modules imported while it was frozen too)."""
        _rebind(self.thawing)
        for real, reducer in self.reducers.items():
            if copyreg.dispatch_table.get(real) is reducer:
                del copyreg.dispatch_table[real]

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self) -> Generator[None, object, None]:
        """Freeze the clock before the test's fixtures are set up."""
        self.freeze()
        yield

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self) -> Generator[None, object, None]:
        """Thaw the clock once the test's fixtures are torn down."""
        try:
            yield
        finally:
            self.thaw()
