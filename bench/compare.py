"""flakehound side by side with the tools it learns from, on generated suites with planted bugs.

    python bench/compare.py             # 200 and 2,000 tests, 2 s collection; installs the peers with pip
    python bench/compare.py --quick     # one small suite, 0.2 s collection: correctness, not speed
    python bench/compare.py --no-install --sizes 2000 --collection 2
    python bench/compare.py --collection-kind cpu   # the collection computes (as imports do) instead of sleeping

Each suite has a slow conftest import (the collection cost), quick tests in modules of 20, and
planted: two polluters far before their victims, a plain bug (with a body of ``--body`` seconds,
the test the rerun tools repeat), a test that flips on every other run (a counter outside the
project) and a brittle test that passes only after its state-setter. Every tool runs as its own
subprocess, timed with a monotonic clock (the fastest of ``--repeat`` runs: a shared machine only adds
time); its peak memory is the ``ru_maxrss`` that ``os.wait4``
reports for it and every process it waited for (the largest single process, not a sum).

Measured, per suite:

* polluter search: ``flakehound bisect`` against ``detect-test-pollution --failing-test``, and one
  ``pytest --collect-only`` of the suite beside them: the floor of any search that collects once
  (the best speed-up over detect-test-pollution any such tool can reach here);
* ten reruns of one test: flakehound's alone reruns (``run --junit`` with ``--reruns 10``) forked and
  in fresh processes, and the fork executor alone (start, ten runs, close: no CLI), against
  ``pytest-flakefinder --flake-runs=10`` and ``pytest-rerunfailures --reruns 9`` (both rerun inside
  one process: one collection, no isolation); every tool collects only the test's module;
* the full investigation (``flakehound run``) against one plain ``pytest`` run;
* a green suite (the same one with nothing planted): ``flakehound run`` with its defaults, coverage
  included, against one plain ``pytest`` run under ``coverage run --branch``.

It prints a markdown table and exits 1 if any tool found a different polluter or a planted failure
got another label. Speed is reported, never asserted.
"""
# ruff: noqa: INP001 - a script run by path, not a package module

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PEERS = ("detect-test-pollution", "pytest-rerunfailures", "pytest-flakefinder")
MODULE_SIZE = 20
#: The row of a green suite, investigated as a user runs it.
GREEN = "green suite, flakehound run with its defaults (coverage, fork)"
#: The row of one collection: no polluter search that collects the suite once can take less.
FLOOR = "one collection (pytest --collect-only), the floor of a search"
RERUNS = 10
EXPECTED_LABELS = {
    "victim_mode": "order-dependent",
    "victim_cache": "order-dependent",
    "bug": "deterministic",
    "counter": "intermittent",
    "brittle": "brittle",
}


@dataclass(frozen=True)
class Suite:
    """A generated suite: where it is and what was planted in it (node ids)."""

    root: Path
    tests: int
    collection_seconds: float
    planted: dict[str, str]
    polluters: dict[str, str]


def _module(index: int) -> str:
    return f"tests/test_mod_{index:03d}.py"


PLANTS = {
    # name: (position in the suite as a share of the modules, test source)
    "polluter_mode": (0.02, "def test_configure_mode():\n    state.MODE = 'test'\n"),
    "polluter_cache": (0.3, "def test_fill_cache():\n    state.CACHE['user'] = 'stale'\n"),
    "brittle": (0.4, "def test_needs_ready():\n    assert state.READY\n"),
    "bug": (0.5, "def test_bug():\n    time.sleep(BODY)\n    assert add(2, 2) == 4\n"),
    "counter": (
        0.6,
        (
            "def test_flips():\n"
            "    counter = Path(os.environ['BENCH_STATE']) / 'counter'\n"
            "    count = int(counter.read_text()) + 1 if counter.exists() else 1\n"
            "    counter.write_text(str(count))\n"
            "    assert count % 2 == 0\n"
        ),
    ),
    "setter": (0.7, "def test_make_ready():\n    state.READY = True\n"),
    "victim_mode": (0.85, "def test_default_mode():\n    assert state.MODE == 'production'\n"),
    "victim_cache": (0.95, "def test_empty_cache():\n    assert 'user' not in state.CACHE\n"),
}
POLLUTER_OF = {"victim_mode": "polluter_mode", "victim_cache": "polluter_cache"}

HEADER = """\
import os
import time
from pathlib import Path

from benchpkg import state

BODY = {body}


def add(a, b):
    return a - b

"""


#: The heavy import, by kind: waiting (a sleep) or computing (that much CPU time, however busy the machine).
HEAVY = {
    "sleep": "import time\n\ntime.sleep({seconds!r})  # a heavy import: the suite's collection cost\n",
    "cpu": (
        "import time\n\nuntil = time.process_time() + {seconds!r}\n"
        "while time.process_time() < until:  # a heavy import: the suite's collection cost, in CPU time\n"
        "    sum(range(1000))\n"
    ),
}


def generate_suite(
    root: Path,
    tests: int,
    collection_seconds: float,
    body_seconds: float = 0.1,
    *,
    kind: str = "sleep",
    green: bool = False,
) -> Suite:
    """Write a suite of about ``tests`` tests (planted ones included) whose collection takes ``collection_seconds``.

    ``kind`` says what the collection spends them on: a sleep, or CPU (as imports mostly do).
    A ``green`` suite has only the quick tests: nothing is planted, nothing fails.
    """
    modules = max(tests // MODULE_SIZE, 1)
    (root / "tests").mkdir(parents=True)
    (root / "benchpkg").mkdir()
    (root / "benchpkg" / "__init__.py").write_text("")
    (root / "benchpkg" / "state.py").write_text("MODE = 'production'\nCACHE = {}\nREADY = False\n")
    (root / "benchpkg" / "heavy.py").write_text(HEAVY[kind].format(seconds=collection_seconds))
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = tests\npythonpath = .\n")
    (root / "tests" / "conftest.py").write_text("import benchpkg.heavy  # noqa: F401\n")
    placed: dict[int, list[str]] = {}
    planted = {}
    plants = {} if green else PLANTS
    for name, (share, _) in plants.items():
        index = min(int(share * modules), modules - 1)
        placed.setdefault(index, []).append(name)
    quick = tests - len(plants)
    for index in range(modules):
        count = quick // modules + (1 if index < quick % modules else 0)
        body = [HEADER.format(body=body_seconds)]
        body += [f"def test_quick_{number}():\n    assert {number} >= 0\n\n" for number in range(count)]
        for name in placed.get(index, []):
            source = PLANTS[name][1]
            body.append(source + "\n")
            function = source.split("(", 1)[0].removeprefix("def ")
            planted[name] = f"{_module(index)}::{function}"
        (root / _module(index)).write_text("\n".join(body))
    polluters = {} if green else {planted[victim]: planted[polluter] for victim, polluter in POLLUTER_OF.items()}
    return Suite(root, tests, collection_seconds, planted, polluters)


@dataclass
class Measured:
    """One tool run: wall time, peak memory, exit code and what it printed."""

    seconds: float
    maxrss_mb: float
    returncode: int
    output: str


def measure(argv: list[str], cwd: Path, env: dict[str, str], repeat: int = 1) -> Measured:
    """The fastest of ``repeat`` runs of ``argv`` (a shared machine only ever adds time), with its peak memory."""
    runs = [_measure_once(argv, cwd, env) for _ in range(repeat)]
    return min(runs, key=lambda run: run.seconds)


def _measure_once(argv: list[str], cwd: Path, env: dict[str, str]) -> Measured:
    """Run ``argv`` to the end; its wall time and the peak RSS of it and every process it waited for."""
    with tempfile.TemporaryFile() as output:
        started = time.monotonic()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode("utf-8", errors="replace")
    return Measured(seconds, usage.ru_maxrss / 1024, process.returncode, text)


def environment(state: Path) -> dict[str, str]:
    """The tools' environment: no autoloaded plugins (each tool loads its own), a fresh counter folder."""
    state.mkdir(parents=True, exist_ok=True)
    for leftover in state.iterdir():
        leftover.unlink()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTEST_", "COVERAGE_"))}
    return {**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "BENCH_STATE": str(state)}


def install_peers() -> None:
    """Install the peers into this interpreter's environment with pip."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *PEERS], check=True)


def _junit(nodeid: str) -> str:
    path, name = nodeid.split("::")
    classname = path.removesuffix(".py").replace("/", ".")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<testsuites><testsuite name="pytest" tests="1" failures="1">'
        f'<testcase classname="{classname}" name="{name}" time="0.1"><failure message="assert 0 == 4">'
        f"{path}: AssertionError</failure></testcase></testsuite></testsuites>\n"
    )


@dataclass
class Row:
    """One line of the table."""

    suite: str
    what: str
    flakehound: Measured
    peer_name: str
    peer: Measured | None
    note: str = ""


@dataclass
class Findings:
    """Everything one suite's comparison measured and checked."""

    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _flakehound(*args: str) -> list[str]:
    return [sys.executable, "-m", "flakehound", *args]


def _detect_test_pollution(*args: str) -> list[str]:
    # Through this interpreter, like pytest and flakehound: its script may not be on PATH. Not with
    # `-m`: it loads itself into pytest by its module name, which `-m` would make `__main__`.
    return [sys.executable, "-c", "from detect_test_pollution import main; raise SystemExit(main())", *args]


def _pytest(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]


def compare_polluter_search(suite: Suite, work: Path, findings: Findings, label: str, repeat: int) -> None:
    """``flakehound bisect`` against ``detect-test-pollution`` on the far polluter of ``victim_mode``."""
    victim = suite.planted["victim_mode"]
    expected = suite.polluters[victim]
    env = environment(work / "state")
    ours = measure(_flakehound("bisect", "--victim", victim), suite.root, env, repeat)
    peer = measure(_detect_test_pollution("--failing-test", victim, "--tests", "tests"), suite.root, env, repeat)
    found_ours = f"fails only after {expected}" in ours.output
    found_peer = f"the polluting test is: {expected}" in peer.output
    if not found_ours:
        findings.problems.append(f"{label}: flakehound bisect did not name {expected}:\n{ours.output[-2000:]}")
    if not found_peer:
        findings.problems.append(f"{label}: detect-test-pollution did not name {expected}:\n{peer.output[-2000:]}")
    same = "same polluter" if found_ours and found_peer else "DIFFERENT ANSWERS"
    findings.rows.append(Row(label, "polluter search", ours, "detect-test-pollution", peer, same))
    floor = measure(_pytest("--collect-only", "-q"), suite.root, env, repeat)
    best = f"at best {peer.seconds / floor.seconds:.1f}x faster than detect-test-pollution"
    findings.rows.append(Row(label, FLOOR, floor, "detect-test-pollution", peer, best))


def compare_reruns(suite: Suite, work: Path, findings: Findings, label: str, repeat: int) -> None:
    """Ten reruns of the plain bug: flakehound alone reruns (forked, fresh) against flakefinder and rerunfailures.

    Every tool collects the bug's module only (flakehound gets it as its pytest arguments), so the
    rows compare rerunning, not how much each tool collects.
    """
    bug = suite.planted["bug"]
    module = bug.split("::")[0]
    junit = work / "bug.xml"
    junit.write_text(_junit(bug))
    base = ["run", "--junit", str(junit), "--reruns", str(RERUNS), "--replays", "0", "--orders", "0", "--no-coverage"]
    base += ["--seed", "1", "--quiet", "--report", str(work / "reruns.json")]
    env = environment(work / "state")
    fork = measure(_flakehound(*base, "--isolation", "fork", "--", module), suite.root, env, repeat)
    finder = measure(
        _pytest("-p", "pytest_flakefinder", "--flake-finder", f"--flake-runs={RERUNS}", bug), suite.root, env, repeat
    )
    reruns = measure(_pytest("-p", "pytest_rerunfailures", "--reruns", str(RERUNS - 1), bug), suite.root, env, repeat)
    alone = json.loads((work / "reruns.json").read_text())["failures"][0]["evidence"]["alone"]
    if alone["runs"] != RERUNS:
        findings.problems.append(f"{label}: flakehound made {alone['runs']} alone reruns, not {RERUNS}")
    executor = measure([sys.executable, __file__, "--executor-reruns", bug, "--", module], suite.root, env, repeat)
    what = f"{RERUNS} reruns of one test, fork executor alone"
    findings.rows.append(Row(label, what, executor, "pytest-flakefinder", finder, "no CLI, probe or report"))
    findings.rows.append(Row(label, f"{RERUNS} reruns of one test, forked", fork, "pytest-flakefinder", finder))
    findings.rows.append(Row(label, f"{RERUNS} reruns of one test, forked", fork, "pytest-rerunfailures", reruns))
    process = measure(_flakehound(*base, "--isolation", "process", "--", module), suite.root, env)
    what = f"{RERUNS} reruns of one test, fresh processes"
    findings.rows.append(Row(label, what, process, "pytest-flakefinder", finder, "measured once"))


def _check_report(suite: Suite, report_path: Path, label: str, findings: Findings) -> None:
    report = json.loads(report_path.read_text())
    labels = {failure["nodeid"]: failure for failure in report["failures"]}
    for name, expected in EXPECTED_LABELS.items():
        failure = labels.get(suite.planted[name])
        got = failure["classification"] if failure else "not failing"
        if got != expected:
            findings.problems.append(f"{label}: {suite.planted[name]} labelled {got}, planted as {expected}")
    for victim, polluter in suite.polluters.items():
        found = [tuple(p["nodeids"]) for p in labels.get(victim, {}).get("polluters", [])]
        if found != [(polluter,)]:
            findings.problems.append(f"{label}: flakehound run found polluters {found} for {victim}, not {polluter}")


def compare_investigation(suite: Suite, work: Path, findings: Findings, label: str, repeat: int) -> None:
    """The full investigation against one plain pytest run."""
    plain = measure(_pytest("-p", "no:randomly"), suite.root, environment(work / "state"), repeat)
    jobs = os.cpu_count() or 1
    for isolation, jobs_, times in (("fork", jobs, repeat), ("fork", 1, repeat), ("process", 1, 1)):
        report = work / f"investigation-{isolation}-{jobs_}.json"
        args = ["run", "--seed", "7", "--no-coverage", "--quiet", "--report", str(report)]
        args += ["--isolation", isolation, "--jobs", str(jobs_)]
        ours = measure(_flakehound(*args), suite.root, environment(work / "state"), times)
        _check_report(suite, report, f"{label} ({isolation}, --jobs {jobs_})", findings)
        runs_made = len(json.loads(report.read_text())["runs"])
        what = f"full investigation, {isolation}, --jobs {jobs_} ({runs_made} runs)"
        note = "5 planted failures labelled" + ("" if times > 1 else ", measured once")
        findings.rows.append(Row(label, what, ours, "one plain pytest run", plain, note))


def compare_green(suite: Suite, work: Path, findings: Findings, label: str, repeat: int) -> None:
    """A green suite: ``flakehound run`` as a user runs it (coverage, default orders) against a run under coverage."""
    env = environment(work / "state")
    coverage = [sys.executable, "-m", "coverage", "run", "--branch", f"--data-file={work / '.coverage'}", "-m"]
    plain = measure([*coverage, "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", "-q"], suite.root, env, repeat)
    report = work / "green.json"
    ours = measure(_flakehound("run", "--seed", "7", "--quiet", "--report", str(report)), suite.root, env, repeat)
    data = json.loads(report.read_text())
    if data["summary"]["failed"] or data["latent"]:
        findings.problems.append(f"{label}: the green suite was not green to flakehound: {data['summary']}")
    counts = Counter(run["purpose"] for run in data["runs"])
    ran = ", ".join(f"{count} {purpose}" for purpose, count in counts.items())
    findings.rows.append(Row(label, GREEN, ours, "one plain pytest run under coverage", plain, f"runs: {ran}"))


def _ratio(ours: float, peer: float) -> str:
    return f"{ours / peer:.2f}x" if peer else "n/a"


def render_table(rows: list[Row]) -> str:
    """The markdown table: times, the ratio flakehound/peer (below 1 is faster), peak memory of both."""
    lines = [
        (
            "| suite | measurement | flakehound | peer | peer time | flakehound / peer"
            " | memory (MB) flakehound / peer | notes |"
        ),
        "|---|---|---:|---|---:|---:|---:|---|",
    ]
    for row in rows:
        peer = row.peer
        peer_time = f"{peer.seconds:.2f} s" if peer else "-"
        ratio = _ratio(row.flakehound.seconds, peer.seconds) if peer else "-"
        memory = f"{row.flakehound.maxrss_mb:.0f} / {peer.maxrss_mb:.0f}" if peer else f"{row.flakehound.maxrss_mb:.0f}"
        lines.append(
            f"| {row.suite} | {row.what} | {row.flakehound.seconds:.2f} s | {row.peer_name} | {peer_time} "
            f"| {ratio} | {memory} | {row.note} |"
        )
    return "\n".join(lines)


def run_comparison(
    sizes: list[int], collection: float, work: Path, *, quick: bool, repeat: int, kind: str = "sleep"
) -> Findings:
    """Generate each suite and compare the tools on it."""
    findings = Findings()
    for size in sizes:
        label = f"{size} tests, {collection:g} s collection" + (" (CPU)" if kind == "cpu" else "")
        suite_work = work / f"suite-{size}"
        suite = generate_suite(suite_work / "project", size, collection, kind=kind)
        compare_polluter_search(suite, suite_work, findings, label, repeat)
        if not quick:
            compare_reruns(suite, suite_work, findings, label, repeat)
            compare_investigation(suite, suite_work, findings, label, repeat)
            green_work = work / f"green-{size}"
            green = generate_suite(green_work / "project", size, collection, kind=kind, green=True)
            compare_green(green, green_work, findings, label, repeat)
    return findings


def render_bars(rows: list[Row]) -> str:
    """The four targets, read from the rows of the largest suite."""
    largest = [row for row in rows if row.suite == rows[-1].suite]

    def find(what: str, peer: str) -> Row | None:
        return next((row for row in largest if row.what.startswith(what) and row.peer_name == peer), None)

    lines = [f"Targets (#22), on the {rows[-1].suite} suite:"]
    search = find("polluter search", "detect-test-pollution")
    floor = find(FLOOR, "detect-test-pollution")
    if search and search.peer and floor:
        speedup = search.peer.seconds / search.flakehound.seconds
        limit = search.peer.seconds / floor.flakehound.seconds
        lines.append(
            f"- polluter search >= 20x faster than detect-test-pollution: {speedup:.1f}x"
            f" (one collection alone allows {limit:.1f}x here)"
        )
    rerun = find(f"{RERUNS} reruns of one test, forked", "pytest-flakefinder")
    if rerun and rerun.peer:
        ratio = rerun.flakehound.seconds / rerun.peer.seconds
        lines.append(f"- {RERUNS} isolated reruns <= 0.9x pytest-flakefinder's in-process reruns: {ratio:.2f}x")
    for jobs, target in {os.cpu_count() or 1: 2.0, 1: 2.5}.items():
        full = find(f"full investigation, fork, --jobs {jobs} ", "one plain pytest run")
        if full and full.peer:
            ratio = full.flakehound.seconds / full.peer.seconds
            lines.append(f"- full investigation, --jobs {jobs} <= {target}x one plain run: {ratio:.2f}x")
    green = find(GREEN, "one plain pytest run under coverage")
    if green and green.peer:
        ratio = green.flakehound.seconds / green.peer.seconds
        lines.append(f"- a green suite <= 1.25x one plain run under coverage: {ratio:.2f}x")
    peaks = [row for row in largest if row.what.startswith("full investigation, fork") and row.peer]
    if peaks:
        memory = max(row.flakehound.maxrss_mb / row.peer.maxrss_mb for row in peaks if row.peer)
        lines.append(f"- peak memory <= 1.5x one plain run: {memory:.2f}x (the larger of the forked investigations)")
    return "\n".join(lines)


def executor_reruns(nodeid: str, pytest_args: list[str]) -> int:
    """Start a fork executor in this folder and rerun ``nodeid`` alone ``RERUNS`` times: the bare rerun cost."""
    from flakehound.execution.forking import ForkExecutor
    from flakehound.execution.runner import ProcessExecutor, RunRequest
    from flakehound.execution.snapshot import ProjectSnapshot

    with tempfile.TemporaryDirectory(prefix="flakehound-bench-") as temp:
        work = Path(temp)
        process = ProcessExecutor(
            python=sys.executable,
            cwd=Path.cwd(),
            pytest_args=tuple(pytest_args),
            env=dict(os.environ),
            workdir=work / "runs",
            snapshot=ProjectSnapshot.take(Path.cwd(), work / "backup"),
        )
        with ForkExecutor(process) as fork:
            runs = [fork.run(RunRequest(order=(nodeid,), timeout=600)) for _ in range(RERUNS)]
    return 0 if all(run.results and run.results[0].outcome.is_failure for run in runs) else 1


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the comparison, print the table; 1 if any tool disagreed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executor-reruns", metavar="NODEID", help=argparse.SUPPRESS)
    parser.add_argument("pytest_args", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="one 60-test suite, 0.2 s collection, polluter search")
    parser.add_argument("--no-install", action="store_true", help="do not pip install the peers")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="suite sizes (default 200 2000)")
    parser.add_argument("--collection", type=float, default=None, help="collection seconds (default 2)")
    parser.add_argument(
        "--collection-kind",
        choices=sorted(HEAVY),
        default="sleep",
        help="what the collection spends its seconds on: sleep (default) or cpu",
    )
    parser.add_argument("--keep", type=Path, default=None, help="generate the suites here and keep them")
    parser.add_argument("--repeat", type=int, default=None, help="runs per measurement, the fastest kept (default 3)")
    args = parser.parse_args(argv)
    if args.executor_reruns:
        return executor_reruns(args.executor_reruns, args.pytest_args)
    sizes = args.sizes or ([60] if args.quick else [200, 2000])
    collection = args.collection if args.collection is not None else (0.2 if args.quick else 2.0)
    if not args.no_install:
        install_peers()
    with tempfile.TemporaryDirectory(prefix="flakehound-bench-") as temp:
        work = args.keep or Path(temp)
        repeat = args.repeat or (1 if args.quick else 3)
        findings = run_comparison(sizes, collection, work, quick=args.quick, repeat=repeat, kind=args.collection_kind)
    sys.stdout.write(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {shlex.join(sys.argv[1:])}\n\n")
    sys.stdout.write(render_table(findings.rows) + "\n")
    if not args.quick:
        sys.stdout.write("\n" + render_bars(findings.rows) + "\n")
    for problem in findings.problems:
        sys.stdout.write(f"\nPROBLEM: {problem}\n")
    return 1 if findings.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
