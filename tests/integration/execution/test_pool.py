"""The worker pool against real pytest: runs side by side in project copies, the clock worker, isolation and jobs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from executorkit import (
    CLOCKED,
    FIXTURES,
    LEAP_DAY,
    PLAIN,
    STAND_IN,
    clock_project,
    comparable,
    environment,
    pool_over,
    process_executor,
    write_files,
)
from signalkit import interrupt_the_waiting_main_thread

from flakehound.errors import ConfigError
from flakehound.execution.forking import ForkExecutor
from flakehound.execution.pool import WorkerPool, open_executor, run_batch
from flakehound.execution.runner import FakeClock, ProcessExecutor, RunRequest
from flakehound.models import Outcome, Report, RunEnd, RunPurpose

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize("isolation", ["fork", "process"])
def test_collecting_needs_no_test_run(tmp_path, isolation):
    """The pool lists what pytest collects: the server's collection, or a fresh --collect-only run."""
    root = shutil.copytree(FIXTURES / "all_green", tmp_path / "project")
    with pool_over(root, tmp_path, environment(tmp_path, "f"), isolation=isolation, jobs=1) as pool:
        collected = pool.collect(60)
    expected = process_executor(root, tmp_path / "plain", environment(tmp_path, "p")).run(
        RunRequest(order=None, timeout=60)
    )
    assert collected.collected == expected.collected
    assert collected.results == ()


WRITERS = {
    "pytest.ini": "[pytest]\ntestpaths = tests\n",
    "tests/test_write.py": """
        import os
        import time
        from pathlib import Path

        import pytest

        ROOT = Path(__file__).parent.parent


        @pytest.mark.parametrize("n", range(4))
        def test_takes_lock(n):
            os.close(os.open(ROOT / "run.lock", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            time.sleep(0.5)


        def test_names_its_file():
            assert False, __file__
    """,
    ".venv/pyvenv.cfg": "home = /usr\n",
    "build.egg-info/PKG-INFO": "x\n",
    ".git/HEAD": "ref: refs/heads/main\n",
}


@pytest.mark.parametrize("isolation", ["fork", "process"])
def test_parallel_runs_use_their_own_project_copy_and_report_project_paths(tmp_path, isolation):
    """Runs that write into the project do not collide in parallel, and results name the project, not a copy."""
    root = write_files(tmp_path / "project", WRITERS)
    module = "tests/test_write.py"
    requests = [RunRequest(order=(f"{module}::test_takes_lock[{n}]",), timeout=60) for n in range(4)]
    requests.append(RunRequest(order=(f"{module}::test_names_its_file",), timeout=60))
    with pool_over(root, tmp_path, environment(tmp_path, "f"), isolation=isolation, jobs=3) as pool:
        runs = run_batch(pool, requests)
        copies = pool.roots[1:]
    assert [run.results[0].outcome for run in runs] == [Outcome.PASSED] * 4 + [Outcome.FAILED]
    assert all(run.restored == ("run.lock",) for run in runs[:4])
    assert str(root / "tests" / "test_write.py") in (runs[4].results[0].message or "")
    assert len(copies) == 2
    assert all(not (copy / name).exists() for copy in copies for name in (".venv", "build.egg-info", ".git"))
    assert (copies[0] / "tests" / "test_write.py").exists()


def waiting_project(tmp_path: Path, waiting: str, rest: str, then: str = "pass") -> tuple[Path, Path]:
    """A project: test ``waiting`` touches ``started``, waits for ``go``, runs ``then``; then the ``rest``."""
    signals = tmp_path / "signals"
    signals.mkdir()
    source = (
        f"import time\nfrom pathlib import Path\n\nSIGNALS = Path({str(signals)!r})\n\n\n"
        f"def {waiting}():\n    (SIGNALS / 'started').touch()\n    while not (SIGNALS / 'go').exists():\n"
        f"        time.sleep(0.02)\n    {then}\n\n\n{rest}"
    )
    return signals, write_files(tmp_path / "project", {"test_x.py": source})


def test_threads_share_the_workers_and_never_one_at_once(tmp_path):
    """While one thread's run holds the project's worker, another thread's run goes to the free copy."""
    signals, root = waiting_project(
        tmp_path, "test_waits", "def test_where():\n    assert Path.cwd().name == 'nowhere', str(Path.cwd())\n"
    )
    with pool_over(root, tmp_path, environment(tmp_path, "f"), isolation="fork", jobs=2) as pool:
        with ThreadPoolExecutor(max_workers=1) as thread:
            held = thread.submit(pool.run, RunRequest(order=("test_x.py::test_waits",), timeout=60))
            while not (signals / "started").exists():
                time.sleep(0.02)
            (beside,) = pool.run_many([RunRequest(order=("test_x.py::test_where",), timeout=60)])
            (signals / "go").touch()
            waited = held.result()
        runs = [worker.fork_runs for worker in pool.workers]
    assert runs == [1, 1]
    assert waited.results[0].outcome is Outcome.PASSED
    assert str(root) in (beside.results[0].message or "")  # the copy's path, given back as the project's


def test_a_thread_waits_for_the_worker_another_thread_holds(tmp_path):
    """With one job, a second thread's run waits until the first thread's run has ended."""
    signals, root = waiting_project(
        tmp_path,
        "test_first",
        "def test_second():\n    assert (SIGNALS / 'first-done').exists()\n",
        then="(SIGNALS / 'first-done').touch()",
    )
    with (
        pool_over(root, tmp_path, environment(tmp_path, "f"), isolation="fork", jobs=1) as pool,
        ThreadPoolExecutor(max_workers=2) as threads,
    ):
        first = threads.submit(pool.run, RunRequest(order=("test_x.py::test_first",), timeout=60))
        while not (signals / "started").exists():
            time.sleep(0.02)
        second = threads.submit(pool.run_many, [RunRequest(order=("test_x.py::test_second",), timeout=60)])
        while pool.waiting == 0:
            time.sleep(0.02)
        (signals / "go").touch()
        runs = [first.result(), *second.result()]
    assert [run.results[0].outcome for run in runs] == [Outcome.PASSED, Outcome.PASSED]
    assert pool.waiting == 0


def test_a_copy_that_collects_other_node_ids_is_retired(tmp_path):
    """A project whose rootdir is above it cannot run in a copy: those runs are made in the project itself."""
    repo = write_files(
        tmp_path / "repo",
        {"pytest.ini": "[pytest]\n", "sub/tests/test_x.py": "def test_a():\n    pass\n\ndef test_b():\n    pass\n"},
    )
    requests = [RunRequest(order=(f"sub/tests/test_x.py::test_{name}",), timeout=60) for name in "ab"]
    with pool_over(repo / "sub", tmp_path, environment(tmp_path, "f"), isolation="fork", jobs=2) as pool:
        first = pool.run_many(requests)
        second = pool.run_many(requests)
        retired = set(pool.retired)
    assert retired == {1}
    assert [run.results[0].outcome for run in first + second] == [Outcome.PASSED] * 4
    assert not any(run.missing for run in first + second)


def test_one_job_runs_everything_in_the_project(tmp_path):
    """With --jobs 1 no copy is made; a plain executor runs a batch one by one."""
    root = shutil.copytree(FIXTURES / "all_green", tmp_path / "project")
    requests = [RunRequest(order=None, timeout=60)] * 2
    env = environment(tmp_path, "f")
    with pool_over(root, tmp_path, env, isolation="fork", jobs=1) as pool:
        runs = pool.run_many(requests)
        assert pool.roots == [root]
    plain = run_batch(process_executor(root, tmp_path / "plain", env), requests)
    assert [comparable(run) for run in runs] == [comparable(run) for run in plain]


@pytest.mark.parametrize(
    ("isolation", "jobs", "fork_available", "message"),
    [
        ("fork", 0, True, "--jobs must be at least 1, got 0"),
        ("fork", 1, False, "--isolation fork needs os.fork, which this platform lacks; pass --isolation process"),
    ],
    ids=["no-jobs", "no-fork"],
)
def test_impossible_executor_settings_are_one_sentence(tmp_path, isolation, jobs, fork_available, message):
    """Zero jobs, or fork where the platform cannot fork, is a ConfigError naming the option."""
    with (
        pytest.raises(ConfigError, match=message),
        open_executor(
            isolation=isolation,
            jobs=jobs,
            python=sys.executable,
            cwd=tmp_path,
            pytest_args=(),
            env={},
            workdir=tmp_path / "work",
            fork_available=fork_available,
        ),
    ):
        pass


def test_warm_servers_collect_side_by_side_before_the_first_run(tmp_path):
    """Warming a fork pool makes every worker and starts its server in the background; runs wait for it."""
    root = shutil.copytree(FIXTURES / "all_green", tmp_path / "project")
    env = environment(tmp_path, "f")
    requests = [RunRequest(order=None, timeout=60)] * 2
    with pool_over(root, tmp_path, env, isolation="fork", jobs=2) as pool:
        pool.warm()
        assert len(pool.workers) == 2
        runs = pool.run_many(requests)
        servers = [worker.server for worker in pool.workers]
        pool.warm()  # again: nothing new starts
        assert [worker.server for worker in pool.workers] == servers
    assert all(server is not None and server.process.returncode is not None for server in servers)
    assert all(worker.fork_runs == 1 for worker in pool.workers)
    plain = run_batch(process_executor(root, tmp_path / "plain", env), requests)
    assert [comparable(run) for run in runs] == [comparable(run) for run in plain]


def test_warming_the_copies_only_leaves_the_project_alone_while_it_runs(tmp_path):
    """The copies' servers collect in their own folders; the project's worker starts nothing until asked."""
    root = shutil.copytree(FIXTURES / "all_green", tmp_path / "project")
    env = environment(tmp_path, "f")
    with pool_over(root, tmp_path, env, isolation="fork", jobs=2) as pool:
        pool.warm(copies_only=True)
        pool.warming[1].result()
        home, copy = pool.workers
        assert home.server is None
        assert copy.server is not None
        assert copy.server.process.returncode is None  # collected, waiting for runs
        assert pool.roots[1] != root
        runs = pool.run_many([RunRequest(order=None, timeout=60)] * 2)
    plain = run_batch(process_executor(root, tmp_path / "plain", env), [RunRequest(order=None, timeout=60)] * 2)
    assert [comparable(run) for run in runs] == [comparable(run) for run in plain]


@pytest.mark.usefixtures("ctrl_c")
@pytest.mark.parametrize("isolation", ["fork", "process"])
def test_an_interrupt_stops_the_runs_of_every_thread_and_every_later_run(tmp_path, isolation):
    """Ctrl-C or SIGTERM reaches the main thread only: the runs the other threads wait for are killed at once.

    Each hanging test leaves its pid; once both are inside their test, the main thread is interrupted.
    The children are gone when the interrupt comes out, and a run asked for afterwards does not start at all
    (a child forked or spawned and then killed could begin its test first, on a loaded machine it did).
    """
    state = tmp_path / "pids"
    state.mkdir()
    root = write_files(
        tmp_path / "project",
        {
            "test_hang.py": """
                import os, time
                from pathlib import Path

                def test_hang():
                    Path(os.environ["PIDS"], str(os.getpid())).touch()
                    time.sleep(600)
            """,
        },
    )
    env = {**environment(tmp_path, "f"), "PIDS": str(state)}
    hang = RunRequest(order=("test_hang.py::test_hang",), timeout=600)

    def interrupt_once_both_hang() -> None:
        while len(list(state.iterdir())) < 2:
            time.sleep(0.05)
        interrupt_the_waiting_main_thread()  # a real signal: it wakes the main thread where it waits

    with pool_over(root, tmp_path, env, isolation=isolation, jobs=2) as pool:
        pool.warm()
        with ThreadPoolExecutor(max_workers=1) as watcher:
            watcher.submit(interrupt_once_both_hang)
            with pytest.raises(KeyboardInterrupt):
                pool.run_many([hang, hang])
        for pid in (int(path.name) for path in state.iterdir()):
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        later = pool.run_many([hang, hang])
        pool.halt()  # again, with nothing running: nothing to kill, and no error
    assert [run.ended for run in later] == [RunEnd.CANCELLED] * 2
    assert all(run.detail is not None and run.detail.startswith("not started") for run in later)
    assert len(list(state.iterdir())) == 2  # no test of the later runs began


def test_closing_stops_servers_that_are_still_collecting(tmp_path):
    """A cancelled investigation does not wait for warming servers: their hung collections are killed."""
    state = tmp_path / "pids"
    state.mkdir()
    root = write_files(
        tmp_path / "project",
        {
            "conftest.py": """
                import os, time
                from pathlib import Path

                Path(os.environ["PIDS"], str(os.getpid())).touch()
                time.sleep(600)
            """,
            "test_x.py": "def test_x():\n    pass\n",
        },
    )
    env = {**environment(tmp_path, "f"), "PIDS": str(state)}
    with pool_over(root, tmp_path, env, isolation="fork", jobs=2) as pool:
        pool.warm()
        while len(list(state.iterdir())) < 2:  # both servers are inside their collection
            time.sleep(0.05)
    pids = [int(path.name) for path in state.iterdir()]
    assert [worker.unavailable for worker in pool.workers] == [
        "the fork server was stopped before it was ready; every run is a fresh process"
    ] * 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_warming_a_fresh_process_pool_only_makes_the_copies(tmp_path):
    """Fresh-process workers have nothing to start: warming makes their project copies, which runs then use."""
    root = shutil.copytree(FIXTURES / "all_green", tmp_path / "project")
    with pool_over(root, tmp_path, environment(tmp_path, "p"), isolation="process", jobs=2) as pool:
        pool.warm()
        assert pool.roots[1].is_dir()
        runs = pool.run_many([RunRequest(order=None, timeout=60)] * 2)
    assert [run.ended for run in runs] == [RunEnd.COMPLETED] * 2


@pytest.mark.parametrize("isolation", ["fork", "process"])
def test_clock_requests_go_to_the_clock_worker_and_only_they_do(tmp_path, isolation):
    """A forking pool makes one clock worker (warmed ahead, or at the first clock run); fresh-process pools, none."""
    root = clock_project(tmp_path / "project", STAND_IN)
    clocked = replace(CLOCKED, clock=FakeClock(library=STAND_IN, moment=LEAP_DAY))
    with pool_over(root, tmp_path, environment(tmp_path, "f"), isolation=isolation, jobs=2) as pool:
        pool.warm_clock(STAND_IN)
        runs = pool.run_many([clocked, PLAIN, clocked, PLAIN])
        clock_worker = pool.workers[pool.clock_index] if pool.clock_index is not None else None
        general = [worker for worker in pool.workers if worker is not clock_worker]
    assert [run.results[0].outcome for run in runs] == [Outcome.PASSED] * 4
    assert all(str(tmp_path / "work") not in run.output_tail for run in runs)  # the copies' paths are the project's
    if isolation == "process":
        assert clock_worker is None
        assert not (tmp_path / "work" / "worker-clock").exists()
        return
    assert isinstance(clock_worker, ForkExecutor)
    assert clock_worker.fork_runs == 2
    assert len(general) == 2
    assert sum(worker.fork_runs for worker in general if isinstance(worker, ForkExecutor)) == 2


def test_a_clock_worker_that_collects_other_node_ids_is_retired(tmp_path):
    """Clock runs that cannot run in a copy start fresh under the library in the project itself, then and after."""
    repo = write_files(tmp_path / "repo", {"pytest.ini": "[pytest]\n"})
    clock_project(repo / "sub", STAND_IN)
    clocked = RunRequest(
        order=("sub/test_x.py::test_clock",), timeout=60, clock=FakeClock(library=STAND_IN, moment=LEAP_DAY)
    )
    with pool_over(repo / "sub", tmp_path, environment(tmp_path, "f"), isolation="fork", jobs=1) as pool:
        runs = [*pool.run_many([clocked]), *pool.run_many([clocked])]
        assert pool.clock_index is not None
        assert pool.retired == {pool.clock_index}
    assert [run.results[0].outcome for run in runs] == [Outcome.PASSED] * 2
    assert not any(run.missing for run in runs)


def test_a_pool_that_is_never_used_closes_quietly(tmp_path):
    """Closing a pool whose workers never ran starts and stops nothing."""
    made = []

    def make_worker(root, home, snapshot):
        made.append(ForkExecutor(ProcessExecutor(sys.executable, root, (), {}, home / "runs", snapshot=snapshot)))
        return made[-1]

    with WorkerPool(home=tmp_path, workdir=tmp_path / "work", jobs=2, make_worker=make_worker):
        pass
    assert len(made) == 1
    assert made[0].server is None


def _cli_report(root: Path, name: str, options: list[str]) -> Report:
    project = shutil.copytree(FIXTURES / "planted", root / name / "planted")
    env = environment(root / name, "cli")
    out = root / name / "report.json"
    args = ["run", "--seed", "7", "--no-coverage", "--budget-seconds", "900", *options, "--report", str(out)]
    completed = subprocess.run(
        [sys.executable, "-m", "flakehound", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    return Report.model_validate_json(out.read_text())


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The planted suite investigated the slow, obvious way: a fresh process per run, one at a time."""
    return _cli_report(tmp_path_factory.mktemp("baseline"), "baseline", ["--isolation", "process", "--jobs", "1"])


#: It flips on every run of the whole investigation (a counter outside the project), so which of the
#: runs made at the same time sees which count is up to the scheduler; its label is still compared.
#: It is also the only failure the root-cause experiments run on, so their runs follow its count too.
COUNTER = "tests/test_f_counter.py::test_flips_every_other_run"


def _essence(report: Report):
    failures = [
        (
            failure.nodeid,
            failure.classification,
            [polluter.nodeids for polluter in failure.polluters],
            [setter.nodeids for setter in failure.state_setters],
            failure.evidence if failure.nodeid != COUNTER else None,
            [(hint.category, hint.evidence) for hint in failure.hints] if failure.nodeid != COUNTER else None,
        )
        for failure in report.failures
    ]
    runs = (  # searches side by side record their runs as they end, so only their order may differ
        (
            run.purpose,
            run.seed,
            run.tests,
            {nodeid: outcome for nodeid, outcome in run.outcomes.items() if nodeid != COUNTER},
            run.ended,
            run.restored,
        )
        for run in report.runs
        if run.purpose is not RunPurpose.EXPERIMENT  # only the counter's experiments, which follow its count
    )
    return failures, sorted(runs, key=repr)


@pytest.mark.parametrize(
    ("isolation", "jobs"), [("fork", "1"), ("fork", "2"), ("process", "2")], ids=["fork-1", "fork-2", "process-2"]
)
def test_labels_and_polluters_do_not_depend_on_isolation_or_jobs(baseline, tmp_path, isolation, jobs):
    """The planted suite gets the same labels, polluters, setters and runs forked or fresh, on 1 or 2 jobs."""
    report = _cli_report(tmp_path, "other", ["--isolation", isolation, "--jobs", jobs])
    assert _essence(report) == _essence(baseline)
    experiments = [run for run in report.runs if run.purpose is RunPurpose.EXPERIMENT]
    assert experiments
    assert all(set(run.outcomes) == {COUNTER} for run in experiments)
    assert {failure.classification.value for failure in report.failures} == {
        "deterministic",
        "intermittent",
        "order-dependent",
        "brittle",
    }
