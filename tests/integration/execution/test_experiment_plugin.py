"""The experiments' child side, in real pytest subprocesses: reseeding, the network guard, a test run twice."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from flakehound.execution import _experiment_plugin
from flakehound.execution.forking import ForkExecutor
from flakehound.execution.runner import ProcessExecutor, RunRequest, Tweaks
from flakehound.models import Outcome, RunEnd

if TYPE_CHECKING:
    from pathlib import Path

PLUGIN = ("-p", "flakehound.execution._experiment_plugin")

SEEDED = """
import json
import os
import random
from pathlib import Path


def record(name):
    with Path(os.environ["DRAWS"]).open("a") as file:
        file.write(json.dumps([name, random.random()]) + "\\n")


def test_first():
    record("first")


def test_second():
    random.random()
    record("second")
"""
FAKE_NUMPY = """
seeds = []


class random:
    seed = staticmethod(seeds.append)
"""
NUMPY_TEST = """
import numpy


def test_numpy_was_seeded():
    assert numpy.seeds == [5]
"""
GUARDED = """
import errno
import os
import socket

import pytest


@pytest.fixture
def port():
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen()
    yield listener.getsockname()[1]
    listener.close()


def test_loopback_is_allowed(port):
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    socket.create_connection(("localhost", port), timeout=5).close()


def test_other_hosts_are_refused(port):
    with pytest.raises(ConnectionRefusedError, match="flakehound refused a connection to \\\\('0.0.0.0'"):
        socket.create_connection(("0.0.0.0", port), timeout=5)


def test_connect_ex_says_refused(port):
    with socket.socket() as sock:
        assert sock.connect_ex(("0.0.0.0", port)) == errno.ECONNREFUSED
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) == 0


def test_lookups_of_other_names_fail():
    for host in ("example.com", b"example.com"):
        with pytest.raises(socket.gaierror, match="flakehound refused to look up 'example.com'"):
            socket.getaddrinfo(host, 80)
    assert socket.getaddrinfo("localhost", 80)
    assert socket.getaddrinfo("10.1.2.3", 80)
    assert socket.getaddrinfo(None, 80)


def test_unix_sockets_are_allowed():
    path = f"\\0flakehound-guard-{os.getpid()}"  # abstract namespace: no path length limit
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen()
    client = socket.socket(socket.AF_UNIX)
    client.connect(path)
    client.close()
    server.close()
"""
REPEATED = """
SEEN = []


def test_once(tmp_path):
    SEEN.append(tmp_path)
    assert len(SEEN) == 1, "this test pollutes itself"


def test_other():
    pass
"""


def make_project(tmp_path: Path, files: dict[str, str]) -> Path:
    """A tiny pytest project with these files."""
    project = tmp_path / "project"
    for name, text in {"pytest.ini": "[pytest]\npythonpath = .\n", **files}.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return project


@pytest.fixture(params=["process", "fork"])
def isolation(request):
    """Each experiment as a fresh process (the plugin's options) and as a forked child (the tweaks it is sent)."""
    return request.param


def execute(
    tmp_path: Path,
    project: Path,
    *extra: str,
    order: tuple[str, ...] | None = None,
    tweaks: Tweaks | None = None,
    isolation: str = "process",
    **env: str,
):
    """One real child run of the project through a fresh-process or fork executor; outcomes by node id, in order."""
    base = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    executor = ProcessExecutor(
        python=sys.executable,
        cwd=project,
        pytest_args=("-p", "no:randomly", "-p", "no:cacheprovider"),
        env={**base, **env},
        workdir=tmp_path / f"runs-{len(list(tmp_path.glob('runs-*')))}",
    )
    request = RunRequest(order=order, timeout=120, extra_args=extra, tweaks=tweaks or Tweaks())
    if isolation == "fork":
        with ForkExecutor(executor) as forking:
            run = forking.run(request)
        assert forking.fork_runs == 1, forking.unavailable
    else:
        run = executor.run(request)
    assert run.results, run.output_tail
    return run


def draws(path: Path) -> dict[str, float]:
    """What each test drew first, from the draws file; the file is emptied for the next run."""
    found = dict(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    path.unlink()
    return found


def test_random_seed_makes_every_test_draw_the_same(tmp_path, isolation):
    """With --flakehound-random-seed, each test's first draws follow the seed: equal runs, equal tests."""
    project = make_project(tmp_path, {"test_seeded.py": SEEDED})
    record = tmp_path / "draws.jsonl"
    execute(tmp_path, project, tweaks=Tweaks(random_seed=11), isolation=isolation, DRAWS=str(record))
    first = draws(record)
    execute(tmp_path, project, tweaks=Tweaks(random_seed=11), isolation=isolation, DRAWS=str(record))
    again = draws(record)
    execute(tmp_path, project, tweaks=Tweaks(random_seed=12), isolation=isolation, DRAWS=str(record))
    other = draws(record)
    assert first == again
    assert first["first"] != other["first"]
    assert first["second"] != first["first"], "test_second drew once before recording"


def test_without_the_option_nothing_is_reseeded(tmp_path):
    """The plugin loaded without --flakehound-random-seed leaves random alone."""
    project = make_project(tmp_path, {"test_seeded.py": SEEDED})
    record = tmp_path / "draws.jsonl"
    execute(tmp_path, project, *PLUGIN, DRAWS=str(record))
    first = draws(record)
    execute(tmp_path, project, *PLUGIN, DRAWS=str(record))
    assert draws(record) != first


def test_forked_children_of_one_server_draw_differently_without_a_seed(tmp_path):
    """The random module reseeds itself in each forked child: runs forked from one collection draw anew."""
    project = make_project(tmp_path, {"test_seeded.py": SEEDED})
    record = tmp_path / "draws.jsonl"
    base = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    executor = ProcessExecutor(
        python=sys.executable,
        cwd=project,
        pytest_args=("-p", "no:randomly", "-p", "no:cacheprovider"),
        env={**base, "DRAWS": str(record)},
        workdir=tmp_path / "runs",
    )
    with ForkExecutor(executor) as forking:
        forking.run(RunRequest(order=None, timeout=120))
        first = draws(record)
        forking.run(RunRequest(order=None, timeout=120, tweaks=Tweaks(random_seed=3)))
        seeded = draws(record)
        forking.run(RunRequest(order=None, timeout=120))
        again = draws(record)
    assert forking.fork_runs == 3, forking.unavailable
    assert first["first"] != again["first"]
    assert seeded["first"] not in {first["first"], again["first"]}


def test_numpy_global_generator_is_reseeded_when_installed(tmp_path, isolation):
    """When numpy is importable, its global generator gets the same seed (within numpy's 32-bit range)."""
    project = make_project(tmp_path, {"numpy/__init__.py": FAKE_NUMPY, "test_numpy.py": NUMPY_TEST})
    run = execute(tmp_path, project, tweaks=Tweaks(random_seed=2**32 + 5), isolation=isolation)
    assert [result.outcome for result in run.results] == [Outcome.PASSED]


def test_network_guard_refuses_all_but_loopback(tmp_path, isolation):
    """With --flakehound-no-network, loopback and Unix sockets work and every other host is refused."""
    project = make_project(tmp_path, {"test_guarded.py": GUARDED})
    run = execute(tmp_path, project, tweaks=Tweaks(no_network=True), isolation=isolation)
    assert {result.nodeid: result.outcome for result in run.results} == dict.fromkeys(
        (
            "test_guarded.py::test_loopback_is_allowed",
            "test_guarded.py::test_other_hosts_are_refused",
            "test_guarded.py::test_connect_ex_says_refused",
            "test_guarded.py::test_lookups_of_other_names_fail",
            "test_guarded.py::test_unix_sockets_are_allowed",
        ),
        Outcome.PASSED,
    )


def test_without_the_guard_other_hosts_connect(tmp_path):
    """Without the option, the same connection to 0.0.0.0 succeeds: the guard is what refused it."""
    project = make_project(tmp_path, {"test_guarded.py": GUARDED})
    run = execute(tmp_path, project, *PLUGIN, order=("test_guarded.py::test_other_hosts_are_refused",))
    (result,) = run.results
    assert result.outcome is Outcome.FAILED
    assert "DID NOT RAISE" in (result.message or "")


@pytest.mark.parametrize(
    ("host", "is_local"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("LOCALHOST.", True),
        ("api.localhost", True),
        (b"localhost", True),
        ("fe80::1%eth0", False),
        ("0.0.0.0", False),  # noqa: S104 - a host name the guard refuses, not a bind
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("example.com", False),
        (None, False),
        (8080, False),
    ],
    ids=repr,
)
def test_loopback_hosts(host, is_local):
    """The guard counts 127/8, ::1 (IPv4-mapped too) and localhost names as loopback, and nothing else."""
    assert _experiment_plugin.is_loopback_host(host) is is_local


def test_a_test_listed_twice_in_a_row_runs_twice_in_full(tmp_path, isolation):
    """Two adjacent copies of one node id run as two whole tests: fixtures set up again, the second sees the first."""
    project = make_project(tmp_path, {"test_repeated.py": REPEATED})
    once = "test_repeated.py::test_once"
    run = execute(tmp_path, project, order=(once, once, "test_repeated.py::test_other", once), isolation=isolation)
    assert [(result.nodeid, result.outcome) for result in run.results] == [
        (once, Outcome.PASSED),
        (once, Outcome.FAILED),
        ("test_repeated.py::test_other", Outcome.PASSED),
        (once, Outcome.FAILED),
    ]
    assert "this test pollutes itself" in (run.results[1].message or "")


SWITCHING = """
import sys

def test_switch_interval_is_set_during_the_body():
    assert sys.getswitchinterval() == 1e-06

def test_and_put_back_between_tests():
    assert sys.getswitchinterval() == 1e-06
"""

SWITCH_RESTORED = """
import sys

def test_set_in_the_body():
    assert sys.getswitchinterval() == 1e-06

def teardown_module():
    assert sys.getswitchinterval() != 1e-06, "put back once the body ended"
"""

PHASED = """
import time

def test_starts_near_the_phase():
    fraction = time.time() % 1
    assert 0.75 <= fraction < 0.95, fraction
"""


def test_switch_interval_is_set_for_each_test_body_and_put_back(tmp_path, isolation):
    """With --flakehound-switch-interval, every test body runs with that interval; the default comes back after."""
    project = make_project(tmp_path, {"test_switching.py": SWITCHING, "test_restored.py": SWITCH_RESTORED})
    run = execute(tmp_path, project, tweaks=Tweaks(switch_interval=1e-6), isolation=isolation)
    assert {result.nodeid: result.outcome for result in run.results} == {
        "test_restored.py::test_set_in_the_body": Outcome.PASSED,
        "test_switching.py::test_switch_interval_is_set_during_the_body": Outcome.PASSED,
        "test_switching.py::test_and_put_back_between_tests": Outcome.PASSED,
    }


def test_clock_phase_starts_each_test_body_at_that_fraction_of_a_second(tmp_path, isolation):
    """With --flakehound-clock-phase, the body starts when the clock's fraction of a second is the phase."""
    project = make_project(tmp_path, {"test_phased.py": PHASED})
    run = execute(tmp_path, project, tweaks=Tweaks(clock_phase=0.8), isolation=isolation)
    assert [result.outcome for result in run.results] == [Outcome.PASSED], run.results[0].message


@pytest.mark.parametrize(
    ("now", "phase", "delay"), [(10.25, 0.75, 0.5), (10.9, 0.1, 0.2), (3.5, 0.5, 0.0)], ids=["ahead", "wraps", "at"]
)
def test_delay_to_phase(now, phase, delay):
    """The wait until the next time the fraction of a second is the phase (never a whole second or more)."""
    assert _experiment_plugin.delay_to_phase(now, phase) == pytest.approx(delay)


def test_tweaks_ask_the_plugin_for_each_change():
    """Each tweak becomes the plugin option that makes it in a fresh process."""
    assert Tweaks(switch_interval=1e-6, clock_phase=0.99).args() == (
        *PLUGIN,
        "--flakehound-switch-interval=1e-06",
        "--flakehound-clock-phase=0.99",
    )


FROZEN = """
import datetime as dt
import importlib
import pickle
import time
from datetime import date, datetime

import pytest

import stamps


@pytest.fixture
def started():
    first = time.time()
    yield first
    assert time.time() == first, "the teardown reads the same instant"


def test_every_reading_is_the_same_instant(started):
    ticking = time.monotonic()
    time.sleep(0.02)
    now = time.time()
    assert now == started
    assert time.time_ns() / 1e9 == now
    assert stamps.time() == now, "a module that did 'from time import time'"
    assert datetime.now() == dt.datetime.now() == datetime.fromtimestamp(now)
    assert dt.datetime.today() == datetime.now()
    assert datetime.now(dt.timezone.utc) == dt.datetime.fromtimestamp(now, dt.timezone.utc)
    assert dt.datetime.utcnow() == datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert date.today() == dt.date.today() == dt.date.fromtimestamp(now)
    assert time.localtime() == time.localtime(now)
    assert time.gmtime() == time.gmtime(now)
    assert time.strftime("%Y-%m-%d %H:%M:%S") == time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
    assert time.ctime() == time.ctime(now) and time.ctime(0) != time.ctime()
    assert time.asctime() == time.asctime(time.localtime(now)) and time.asctime(time.gmtime(0)) != time.asctime()
    assert time.monotonic() > ticking, "the monotonic clock keeps running"


def test_values_are_still_dates_and_datetimes():
    now = datetime.now()
    assert isinstance(now, datetime) and isinstance(now, date) and isinstance(date.today(), dt.date)
    assert issubclass(type(now), datetime) and not issubclass(int, date)
    assert datetime(2028, 2, 28) + dt.timedelta(days=1) == datetime(2028, 2, 29)
    assert pickle.loads(pickle.dumps(now)) == now
    assert pickle.loads(pickle.dumps(date.today())) == date.today()
    assert pickle.loads(pickle.dumps(datetime(2020, 1, 1))) == datetime(2020, 1, 1)


def test_a_module_imported_during_the_test_sees_the_frozen_clock():
    late = importlib.import_module("late")
    assert late.datetime.now() == datetime.fromtimestamp(time.time())
"""
FROZEN_CHECKS = '''
import copyreg
import datetime
import json
import os
import sys
import time

REAL = (time.time, time.time_ns, time.ctime, time.asctime, datetime.datetime, datetime.date)
#: Names bound to the clock in the project's modules, and the real object each must be bound to between tests.
IMPORTED = (("stamps", "time", time.time), ("late", "datetime", datetime.datetime))
IMPORTED += (("tests_frozen", "datetime", datetime.datetime), ("tests_frozen", "date", datetime.date))


def pytest_runtest_logfinish(nodeid):
    """After each test's teardown: is every name of the clock real again?"""
    names = (time.time, time.time_ns, time.ctime, time.asctime, datetime.datetime, datetime.date)
    real = names == REAL and datetime.datetime not in copyreg.dispatch_table
    for module, name, value in IMPORTED:
        real = real and getattr(sys.modules.get(module), name, value) is value
    with open(os.environ["CLOCK_CHECKS"], "a") as file:
        file.write(json.dumps([nodeid, real]) + "\\n")
'''
WAITS_FOR_A_DEADLINE = """
import time


def test_waits_for_a_deadline():
    deadline = time.time() + 0.05
    while time.time() < deadline:
        time.sleep(0.01)
"""


def frozen_project(tmp_path: Path) -> Path:
    """A project whose tests read the clock every way, and a conftest that checks it is real after each test."""
    files = {
        "conftest.py": FROZEN_CHECKS,
        "stamps.py": "from time import time\n",
        "late.py": "from datetime import datetime\n",
        "tests_frozen.py": FROZEN,
        "pytest.ini": "[pytest]\npythonpath = .\npython_files = tests_*.py\n",
    }
    return make_project(tmp_path, files)


def test_frozen_clock_reads_one_instant_through_each_test_and_is_put_back(tmp_path, isolation):
    """With --flakehound-frozen-clock, time.time, datetime.now, date.today, ... read one instant; real after."""
    project = frozen_project(tmp_path)
    checks = tmp_path / "checks.jsonl"
    run = execute(tmp_path, project, tweaks=Tweaks(frozen_clock=True), isolation=isolation, CLOCK_CHECKS=str(checks))
    outcomes = {result.nodeid: result.outcome for result in run.results}
    assert outcomes == dict.fromkeys(
        (
            "tests_frozen.py::test_every_reading_is_the_same_instant",
            "tests_frozen.py::test_values_are_still_dates_and_datetimes",
            "tests_frozen.py::test_a_module_imported_during_the_test_sees_the_frozen_clock",
        ),
        Outcome.PASSED,
    ), [result.message for result in run.results]
    after = [json.loads(line) for line in checks.read_text(encoding="utf-8").splitlines()]
    assert [(nodeid.split("::")[1], real) for nodeid, real in after] == [
        ("test_every_reading_is_the_same_instant", True),
        ("test_values_are_still_dates_and_datetimes", True),
        ("test_a_module_imported_during_the_test_sees_the_frozen_clock", True),
    ]


def test_without_the_frozen_clock_the_same_tests_see_it_run(tmp_path):
    """The plugin loaded without --flakehound-frozen-clock leaves the clock running: the instant test fails."""
    project = frozen_project(tmp_path)
    run = execute(
        tmp_path,
        project,
        *PLUGIN,
        order=("tests_frozen.py::test_every_reading_is_the_same_instant",),
        CLOCK_CHECKS=str(tmp_path / "checks.jsonl"),
    )
    (result,) = run.results
    assert result.outcome is Outcome.ERROR or result.outcome is Outcome.FAILED


def test_a_wait_for_the_wall_clock_never_ends_frozen_and_the_run_times_out(tmp_path, isolation):
    """A loop until time.time() passes a deadline hangs under the frozen clock: the run ends by its timeout.

    The same test passes with the clock running, under the same timeout: the freeze is what held it.
    """
    project = make_project(tmp_path, {"test_deadline.py": WAITS_FOR_A_DEADLINE})
    base = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    executor = ProcessExecutor(
        python=sys.executable,
        cwd=project,
        pytest_args=("-p", "no:randomly", "-p", "no:cacheprovider"),
        env=base,
        workdir=tmp_path / "runs",
    )
    frozen = RunRequest(order=None, timeout=10, tweaks=Tweaks(frozen_clock=True))
    running = RunRequest(order=None, timeout=10, tweaks=Tweaks(clock_phase=0.5))
    if isolation == "fork":
        with ForkExecutor(executor) as forking:
            hung, ran = forking.run(frozen), forking.run(running)
        assert forking.fork_runs == 2, forking.unavailable
    else:
        hung, ran = executor.run(frozen), executor.run(running)
    assert hung.ended is RunEnd.TIMEOUT, "an experiment counts a run that did not complete as not finished"
    assert ran.ended is RunEnd.COMPLETED
    assert [result.outcome for result in ran.results] == [Outcome.PASSED]


def test_frozen_clock_tweak_asks_the_plugin_for_it():
    """The frozen-clock tweak becomes the plugin's --flakehound-frozen-clock option in a fresh process."""
    assert Tweaks(frozen_clock=True).args() == (*PLUGIN, "--flakehound-frozen-clock")
