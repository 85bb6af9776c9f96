"""The bench script: its suite generator plants what it says, and its quick comparison agrees with the peer."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent.parent.parent / "bench" / "compare.py"


@pytest.fixture
def bench(monkeypatch):
    """The bench script loaded as a module (registered while the test runs, as dataclasses need)."""
    spec = importlib.util.spec_from_file_location("bench_compare", BENCH)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_compare", module)
    spec.loader.exec_module(module)
    return module


def _pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env |= {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "BENCH_STATE": str(root.parent / "state")}
    (root.parent / "state").mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_generated_suite_has_the_size_and_the_planted_failures(bench, tmp_path):
    """A generated suite collects the asked number of tests and fails exactly the planted five in its own order."""
    suite = bench.generate_suite(tmp_path / "project", 100, 0.0, body_seconds=0.0)
    collected = _pytest(suite.root, "--collect-only", "-q")
    assert "100 tests collected" in collected.stdout
    run = _pytest(suite.root, "-p", "no:randomly", "-q", "-rf")
    failed = {line.split()[1] for line in run.stdout.splitlines() if line.startswith("FAILED")}
    assert failed == {suite.planted[name] for name in bench.EXPECTED_LABELS}
    assert suite.polluters == {
        suite.planted["victim_mode"]: suite.planted["polluter_mode"],
        suite.planted["victim_cache"]: suite.planted["polluter_cache"],
    }
    alone = _pytest(suite.root, "-p", "no:randomly", "-q", suite.planted["victim_mode"])
    assert alone.returncode == 0


def test_a_green_suite_plants_nothing_and_passes(bench, tmp_path):
    """The green suite has the asked number of quick tests and nothing planted: one plain run passes."""
    suite = bench.generate_suite(tmp_path / "project", 60, 0.0, body_seconds=0.0, green=True)
    run = _pytest(suite.root, "-p", "no:randomly", "-q")
    assert run.returncode == 0, run.stdout
    assert "60 passed" in run.stdout
    assert (suite.planted, suite.polluters) == ({}, {})


@pytest.mark.parametrize(("kind", "least_cpu"), [("cpu", 0.3), ("sleep", 0.0)])
def test_a_cpu_collection_spends_its_seconds_computing(bench, tmp_path, kind, least_cpu):
    """The CPU kind's heavy import uses at least its seconds of CPU time (it computes until then); a sleep need not."""
    suite = bench.generate_suite(tmp_path / "project", 20, 0.3, body_seconds=0.0, kind=kind)
    heavy = suite.root / "benchpkg" / "heavy.py"
    code = (
        "import resource, runpy, sys; runpy.run_path(sys.argv[1]);"
        " usage = resource.getrusage(0); print(usage.ru_utime + usage.ru_stime)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code, str(heavy)], capture_output=True, text=True, timeout=60, check=True
    )
    assert float(completed.stdout) >= least_cpu
    assert ("time.sleep" in heavy.read_text()) is (kind == "sleep")


def test_quick_comparison_finds_the_same_polluter_as_detect_test_pollution():
    """`bench/compare.py --quick` finds the planted polluter with flakehound and detect-test-pollution alike."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "COVERAGE_"))}
    # The peers are the interpreter's, not whatever PATH finds: a virtual environment need not be activated.
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep) if part != scripts)
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--no-install"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "| polluter search |" in completed.stdout
    assert "same polluter" in completed.stdout
    assert "| one collection (pytest --collect-only), the floor of a search |" in completed.stdout
    assert "PROBLEM" not in completed.stdout


def test_the_targets_are_read_off_the_largest_suite_with_the_floor_of_a_search(bench):
    """The target lines compare the largest suite's rows, and say what one collection allows at best."""

    def row(suite: str, what: str, ours: float, peer_name: str, peer: float, memory: float = 40.0):
        return bench.Row(suite, what, bench.Measured(ours, memory, 0, ""), peer_name, bench.Measured(peer, 40.0, 0, ""))

    jobs = os.cpu_count() or 1
    rows = [
        row("small", "polluter search", 1.0, "detect-test-pollution", 100.0),
        row("big", "polluter search", 5.0, "detect-test-pollution", 50.0),
        row("big", bench.FLOOR, 2.5, "detect-test-pollution", 50.0),
        row("big", f"{bench.RERUNS} reruns of one test, forked", 3.0, "pytest-flakefinder", 4.0),
        row("big", f"full investigation, fork, --jobs {jobs} (99 runs)", 9.0, "one plain pytest run", 4.0, 60.0),
        row("big", "full investigation, fork, --jobs 1 (99 runs)", 12.0, "one plain pytest run", 4.0, 50.0),
        row("big", bench.GREEN, 6.0, "one plain pytest run under coverage", 5.0),
    ]
    bars = bench.render_bars(rows).splitlines()
    assert bars[0] == "Targets (#22), on the big suite:"
    assert bars[1].endswith(": 10.0x (one collection alone allows 20.0x here)")
    assert bars[2].endswith("in-process reruns: 0.75x")
    assert f"- full investigation, --jobs {jobs} <= 2.0x one plain run: 2.25x" in bars or jobs == 1
    assert "- full investigation, --jobs 1 <= 2.5x one plain run: 3.00x" in bars or jobs == 1
    assert "- a green suite <= 1.25x one plain run under coverage: 1.20x" in bars
    assert bars[-1].startswith("- peak memory <= 1.5x one plain run: 1.50x")


def test_the_green_comparison_runs_both_and_names_the_runs_flakehound_made(bench, tmp_path):
    """The green row times flakehound run against a run under coverage, and says which runs flakehound made."""
    suite = bench.generate_suite(tmp_path / "project", 40, 0.0, body_seconds=0.0, green=True)
    findings = bench.Findings()
    bench.compare_green(suite, tmp_path, findings, "40 tests", 1)
    (row,) = findings.rows
    assert findings.problems == []
    assert (row.what, row.peer_name) == (bench.GREEN, "one plain pytest run under coverage")
    assert row.note == "runs: 1 original, 2 permuted, 1 reversed"
    assert row.peer is not None
    assert row.peer.returncode == 0
    assert (tmp_path / ".coverage").is_file()


def test_the_false_claim_simulation_prints_both_kinds_of_row():
    """bench/false_claims.py runs flakehound's experiments on simulated tests and counts wrong and right claims."""
    script = BENCH.parent / "false_claims.py"
    result = subprocess.run(
        [sys.executable, str(script), "--seeds", "30", "--power-seeds", "10"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows = [line for line in result.stdout.splitlines() if line.startswith("| fails")]
    assert len(rows) == 6, result.stdout
    assert "| fails every other run | a factor claimed (wrong) | 0/30 (0%;" in rows[0]
    assert "| fails at random, half the runs | a factor claimed (wrong) | 0/30 (0%;" in rows[1]
    assert "never open | network found (right) | 10/10 (100%;" in rows[2], "a test that always fails refused is found"
