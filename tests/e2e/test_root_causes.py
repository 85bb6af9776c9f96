"""The real `flakehound run` on the hints sample suite: every planted cause comes out as the top hint, with evidence.

``tests/signatures/`` fails on every run; ``tests/experiments/`` passes on a quiet machine, so each of
its tests is first run once as "the CI run that failed" under the condition that breaks it (a hash
seed, a random seed, threads switching often, a second boundary, a service that is down, a busy
CPU, a leap day), and flakehound investigates that run's JUnit XML, as it would in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flakehound import cli
from flakehound.execution.lab import busy_cores, busy_process_count, find_libfaketime
from flakehound.models import FailureKind, Report, RunPurpose
from flakehound.render.markdown import render_comment

FIXTURES = Path(__file__).parents[1] / "fixture_projects"
SIGNATURES = "tests/signatures"
EXPERIMENTS = "tests/experiments"
#: A hash seed that orders {"urgent", "draft"} the wrong way, and a random seed that draws a losing ticket.
FAILING_HASH_SEED = "2"
FAILING_RANDOM_SEED = "5"
#: The tests that fail at FAILING_RANDOM_SEED.
SEEDED = ("test_tags.py", "test_lottery.py", "test_replicas.py", "test_retry.py")
#: The timing test must pass alone on an idle machine; other tests' busy processes would fail it.
pytestmark = pytest.mark.quiet_machine


def sample_environment(state: Path) -> dict[str, str]:
    """Our environment (with coverage's subprocess settings), no pytest variables, no autoloaded plugins."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["FLAKEHOUND_SAMPLE_STATE"] = str(state)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def flakehound(args: list[str], project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``python -m flakehound ARGS`` in the project, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "flakehound", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _pytest_junit(
    project: Path, junit: str, tests: list[str], env: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={project / junit}"]
    return subprocess.run(
        [*command, *extra, *tests], cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def ci_run(project: Path, junit: str, tests: list[str], env: dict[str, str], *extra: str) -> None:
    """The CI run that failed: plain pytest with JUnit output, under the given conditions."""
    completed = _pytest_junit(project, junit, tests, env, *extra)
    assert completed.returncode == 1, completed.stdout + completed.stderr


#: CI runs of the race test made at most, to get the red one that the investigation starts from.
RACE_ATTEMPTS = 20


def race_run(project: Path, junit: str, env: dict[str, str]) -> None:
    """The CI run that failed on the planted race, with threads switching every microsecond.

    The race needs the waiting threads to get a core while a worker's one or two milliseconds of
    increments run; on a machine whose cores are all taken (this suite's other workers) the OS may
    not run them in time, and the CI run passes. The scenario is a red CI run, so it is made until
    it is red (it is red at the first attempt on an idle machine).
    """
    fast = ("-p", "flakehound.execution._experiment_plugin", "--flakehound-switch-interval=1e-6")
    for _ in range(RACE_ATTEMPTS):
        completed = _pytest_junit(project, junit, [f"{EXPERIMENTS}/test_hits.py"], env, *fast)
        if completed.returncode == 1:
            return
        assert completed.returncode == 0, completed.stdout + completed.stderr
    pytest.fail(f"the planted race never showed in {RACE_ATTEMPTS} CI runs")


@pytest.fixture(scope="session")
def signatures(tmp_path_factory):
    """One investigation of tests/signatures (seed 1, two reruns, one replay, no shuffled orders)."""
    root = tmp_path_factory.mktemp("hints-signatures")
    project = root / "hints"
    shutil.copytree(FIXTURES / "hints", project)
    (root / "state").mkdir()
    report_path = root / "report.json"
    args = ["run", "--seed", "1", "--reruns", "2", "--replays", "1", "--orders", "0", "--no-coverage"]
    args += ["--budget-seconds", "900"]  # a busy machine must not run out of the default minute
    completed = flakehound(
        [*args, "--report", str(report_path), "--", SIGNATURES], project, sample_environment(root / "state")
    )
    assert completed.returncode == cli.ExitCode.GATE_FAILED, completed.stderr
    return completed, Report.model_validate_json(report_path.read_text())


def investigate_experiments(root: Path, seed: int, reruns: int) -> tuple[subprocess.CompletedProcess[str], Report]:
    """The CI runs that failed, then one investigation of their JUnit XML (``reruns`` reruns, two replays)."""
    project = root / "hints"
    shutil.copytree(FIXTURES / "hints", project)
    (root / "state").mkdir()
    env = sample_environment(root / "state")
    seeded = ["-p", "flakehound.execution._experiment_plugin", f"--flakehound-random-seed={FAILING_RANDOM_SEED}"]
    seeded += ["--flakehound-switch-interval=1e-6", "--flakehound-clock-phase=0.99"]
    outage = {**env, "PYTHONHASHSEED": FAILING_HASH_SEED, "SAMPLE_SERVICE_DOWN": "1"}
    tests = [f"{EXPERIMENTS}/{name}" for name in (*SEEDED, "test_stamps.py", "test_service.py")]
    ci_run(project, "ci-seeds.xml", tests, outage, *seeded)
    race_run(project, "ci-race.xml", env)
    with busy_cores(busy_process_count()):
        ci_run(project, "ci-busy.xml", [f"{EXPERIMENTS}/test_render.py"], env)
    junit = ["--junit", "ci-seeds.xml", "--junit", "ci-race.xml", "--junit", "ci-busy.xml"]
    library = find_libfaketime()
    if library is not None:
        leap_day = {**env, "LD_PRELOAD": library, "FAKETIME": "@2028-02-29 09:00:00"}
        ci_run(project, "ci-leap-day.xml", [f"{EXPERIMENTS}/test_renewal.py"], leap_day)
        junit += ["--junit", "ci-leap-day.xml"]
    report_path = root / "report.json"
    args = ["run", "--seed", str(seed), "--reruns", str(reruns), "--replays", "2", "--orders", "0", "--no-coverage"]
    args += [*junit, "--budget-seconds", "900"]
    completed = flakehound([*args, "--report", str(report_path), "--", EXPERIMENTS], project, env)
    assert completed.returncode == cli.ExitCode.GATE_FAILED, completed.stderr
    return completed, Report.model_validate_json(report_path.read_text())


@pytest.fixture(scope="session")
def experiments(tmp_path_factory):
    """One investigation of the failed CI runs of tests/experiments: seed 1, eight reruns."""
    return investigate_experiments(tmp_path_factory.mktemp("hints-experiments"), seed=1, reruns=8)


def failure_named(report: Report, nodeid: str):
    """The failure (or latent failure) with this node id."""
    return next(failure for failure in (*report.failures, *report.latent) if failure.nodeid == nodeid)


COUNTS = r"fails \d+/\d+"


@pytest.mark.parametrize(
    ("name", "kind", "category", "evidence"),
    [
        ("test_code_bug.py::test_add", FailureKind.DETERMINISTIC, "code-bug", r"^fails 2/2 alone, 2/2 in the original"),
        (
            "test_floats.py::test_total_price",
            FailureKind.DETERMINISTIC,
            "floating-point",
            r"^fails 2/2 alone.*; matched: 0\.30000000000000004 and 0\.3 are 1 ulp\(s\) apart$",
        ),
        (
            "test_database.py::test_sign_up_twice_is_harmless",
            FailureKind.DETERMINISTIC,
            "database",
            r"^fails 2/2 alone.*; matched: .*UNIQUE constraint failed: users\.email$",
        ),
        (
            "test_resources.py::test_open_every_report",
            FailureKind.DETERMINISTIC,
            "resource-leak",
            r"^fails 2/2 alone.*; matched: \[Errno 24\] Too many open files",
        ),
        (
            "test_threads.py::test_snapshot_while_a_writer_runs",
            FailureKind.DETERMINISTIC,
            "concurrency",
            r"matched: dictionary changed size during iteration$",
        ),
        ("test_env.py::test_default_mode", FailureKind.ORDER_DEPENDENT, "environment", rf"^{COUNTS} right after "),
        ("test_files.py::test_export_starts_fresh", FailureKind.ORDER_DEPENDENT, "filesystem", rf"^{COUNTS} right"),
        ("test_loop.py::test_uses_the_current_loop", FailureKind.ORDER_DEPENDENT, "async-event-loop", rf"^{COUNTS} "),
        (
            "test_patch.py::test_convert_with_the_real_rate",
            FailureKind.ORDER_DEPENDENT,
            "monkeypatch",
            rf"^{COUNTS} right after tests/signatures/test_patch.py::test_convert_with_a_fixed_rate, fails 0/2 alone$",
        ),
        (
            "test_registry.py::test_register_exporter[json]",
            FailureKind.ORDER_DEPENDENT,
            "shared-state",
            # decided by the repetition experiment: it breaks itself, as its sibling parametrization does
            r"^run 3 times in one process: fails \d+/\d+ when run again in the same process vs 0/\d+ the first time",
        ),
    ],
    ids=[
        "code-bug",
        "floating-point",
        "database",
        "resource-leak",
        "concurrency",
        "environment",
        "filesystem",
        "async-event-loop",
        "monkeypatch",
        "shared-state",
    ],
)
def test_planted_cause_is_the_top_hint(signatures, name, kind, category, evidence):
    """Each failure of tests/signatures is labelled as planted and its top hint names the planted cause."""
    _, report = signatures
    failure = failure_named(report, f"{SIGNATURES}/{name}")
    assert failure.classification is kind
    top = failure.hints[0]
    assert (top.category, top.confidence) == (category, "high"), failure.hints
    assert re.search(evidence, top.evidence), top.evidence


def test_polluter_hint_names_the_state_it_leaves(signatures):
    """An order-dependent failure's top hint names its polluter and the state, and the report renders it."""
    _, report = signatures
    failure = failure_named(report, f"{SIGNATURES}/test_env.py::test_default_mode")
    assert failure.hints[0].title == (
        "fails after tests/signatures/test_env.py::test_debug_mode_is_honoured,"
        " which sets the environment variable APP_MODE=debug"
    )
    assert "teardown" in failure.hints[0].detail
    rendered = (
        "fails after tests/signatures/test\\_env.py::test\\_debug\\_mode\\_is\\_honoured, which sets the environment"
        " variable APP\\_MODE=debug"
    )
    assert rendered in render_comment(report)


def test_self_polluting_test_is_found_by_running_it_again(signatures):
    """The registry victim, whose polluter is its own sibling, also fails every later time in one process."""
    _, report = signatures
    failure = failure_named(report, f"{SIGNATURES}/test_registry.py::test_register_exporter[json]")
    repeated = next(hint for hint in failure.hints if hint.title.startswith("passes the first time"))
    assert repeated.evidence == (
        "run 3 times in one process: fails 10/10 when run again in the same process vs 0/5 the first time in each"
        " process (p = 0.0003); replicated in fresh runs: fails 10/10 vs 0/5 (p = 0.0003)"
    )
    assert [run.purpose for run in report.runs].count(RunPurpose.EXPERIMENT) >= 2


def test_deterministic_failures_name_their_failing_line(signatures):
    """A deterministic failure's code-bug hint shows where it failed and the source line."""
    _, report = signatures
    failure = failure_named(report, f"{SIGNATURES}/test_code_bug.py::test_add")
    assert failure.hints[0].detail == (
        "AssertionError: assert 0 == 4 at tests/signatures/test_code_bug.py:5: assert add(2, 2) == 4"
    )


#: What a decisive comparison of a factor that decides the outcome ends with: five fresh pairs split alike.
REPLICATED = r"; replicated in fresh runs: fails 5/5 vs 0/5 \(p = 0\.008\)$"
SEED_EVIDENCE = (
    r"^fails 7/7 at {fixed}\d+\)? vs 0/7 at {fixed}\d+\)? \(p = 0\.0006\)"
    r"; replicated in fresh runs: fails 5/5 vs 0/5 \(p = 0\.008\); fails \d+/\d+ with {varied} varied"
)
HASH_SEED = SEED_EVIDENCE.format(fixed="PYTHONHASHSEED=", varied="PYTHONHASHSEED")
RANDOM_SEED = SEED_EVIDENCE.format(fixed=r"random\.seed\(", varied="the random seed")
#: What each intermittent test of tests/experiments is, and the evidence of its top hint.
EXPLAINED = {
    "test_tags.py::test_tags_are_listed_in_order": ("unordered-collection", HASH_SEED),
    "test_lottery.py::test_ticket_wins": ("randomness", RANDOM_SEED),
    "test_replicas.py::test_read_sees_fresh_data": ("randomness", RANDOM_SEED),
    "test_retry.py::test_third_retry_waits_within_the_limit": ("randomness", RANDOM_SEED),
    "test_hits.py::test_every_hit_is_counted": (
        "concurrency",
        r"^fails \d+/\d+ with threads switching every microsecond vs \d+/\d+ at the default switch interval \(p = ",
    ),
    "test_stamps.py::test_created_and_saved_in_the_same_second": (
        "clock",
        r"^fails 7/7 started 10 ms before a second boundary vs 0/7 started mid-second \(p = 0\.0006\)" + REPLICATED,
    ),
    "test_service.py::test_service_answers": (
        "network",
        r"^fails 7/7 with outbound connections refused vs 0/7 with the network as is \(p = 0\.0006\)" + REPLICATED,
    ),
}


@pytest.mark.parametrize("name", list(EXPLAINED), ids=[name.split("::")[0][5:-3] for name in EXPLAINED])
def test_experiment_explains_the_failure(experiments, name):
    """Each intermittent failure's top hint comes from the experiment whose factor its outcome follows."""
    _, report = experiments
    category, evidence = EXPLAINED[name]
    failure = failure_named(report, f"{EXPERIMENTS}/{name}")
    assert failure.classification is FailureKind.INTERMITTENT
    assert failure.hints, failure.notes
    top = failure.hints[0]
    assert (top.category, top.confidence) == (category, "high"), (failure.hints, failure.notes)
    assert re.search(evidence, top.evidence), top.evidence
    record = top.comparison
    assert record is not None, "the report records the comparison behind the hint"
    split = record.split
    assert top.evidence.startswith(
        f"fails {split.treatment_failures}/{split.treatment_runs} {record.treatment}"
        f" vs {split.control_failures}/{split.control_runs} {record.control}"
    ), (record, top.evidence)


def test_a_tracked_seed_is_pinned_in_the_reproduce_command(experiments):
    """The hash-seed and random-seed failures come with a command that fails again at the seed found."""
    _, report = experiments
    tags = failure_named(report, f"{EXPERIMENTS}/test_tags.py::test_tags_are_listed_in_order")
    assert re.fullmatch(r"PYTHONHASHSEED=\d+ python -m pytest -p no:randomly -p no:cacheprovider \S+", tags.reproduce)
    lottery = failure_named(report, f"{EXPERIMENTS}/test_lottery.py::test_ticket_wins")
    assert "-p flakehound.execution._experiment_plugin --flakehound-random-seed=" in lottery.reproduce


def planted_categories() -> dict[str, str]:
    """The planted cause of every test of tests/experiments, by node id."""
    planted = {f"{EXPERIMENTS}/{name}": category for name, (category, _) in EXPLAINED.items()}
    planted[f"{EXPERIMENTS}/test_render.py::test_report_renders_within_its_time_budget"] = "timing"
    planted[f"{EXPERIMENTS}/test_renewal.py::test_renewal_is_a_year_later"] = "clock"
    return planted


def false_claims(report: Report) -> dict[str, set[str]]:
    """Per failure, the factors a decided experiment hint claims that were not planted."""
    planted = planted_categories()
    claims = {
        failure.nodeid: {hint.category for hint in failure.hints if hint.comparison is not None}
        - {planted[failure.nodeid]}
        for failure in (*report.failures, *report.latent)
    }
    return {nodeid: claimed for nodeid, claimed in claims.items() if claimed}


def test_no_experiment_claims_a_factor_that_is_not_involved(experiments):
    """Every decided experiment hint of every failure names the planted factor: no false causal claim."""
    _, report = experiments
    assert false_claims(report) == {}


def test_investigated_again_and_again_no_run_claims_a_wrong_factor(tmp_path_factory):
    """Two more investigations with other seeds (fewer reruns): no false claim in any, the top hint right in all.

    Once more than once: a comparison that decides by chance would show up as a wrong claim here.
    """
    reports = [
        investigate_experiments(tmp_path_factory.mktemp(f"hints-again-{seed}"), seed=seed, reruns=4)[1]
        for seed in (2, 3)
    ]
    planted = planted_categories()
    assert [false_claims(report) for report in reports] == [{}, {}]
    wrong_tops = [
        (failure.nodeid, failure.hints[0].category if failure.hints else None)
        for report in reports
        for failure in report.failures
        if not failure.hints or failure.hints[0].category != planted[failure.nodeid]
    ]
    assert len(wrong_tops) <= 1, wrong_tops  # the goal: the top hint right for 95% of failures


def test_busy_cpu_explains_the_timing_failure(experiments):
    """The render test fails under every-core load and passed every idle rerun: timing."""
    _, report = experiments
    failure = failure_named(report, f"{EXPERIMENTS}/test_render.py::test_report_renders_within_its_time_budget")
    if failure.evidence.alone.failures:
        pytest.skip("the machine was already busy: the test failed in idle reruns too, so load cannot be compared")
    top = failure.hints[0]
    assert top.category == "timing", failure.hints
    assert re.fullmatch(
        r"fails \d+/\d+ with every core busy \(\d+ busy processes\) vs \d+/\d+ on an idle machine \(p = [\d.]+\)"
        r"; replicated in fresh runs: fails \d+/\d+ vs \d+/\d+ \(p = [\d.]+\)",
        top.evidence,
    )


def test_moved_clock_explains_the_leap_day_failure(experiments):
    """With libfaketime, the renewal test fails again on a leap day only: clock; without it, a note says why not."""
    _, report = experiments
    if find_libfaketime() is None:
        assert "the clock experiment was skipped: libfaketime is not installed here (apt-get install faketime)" in (
            report.notes
        )
        return
    failure = failure_named(report, f"{EXPERIMENTS}/test_renewal.py::test_renewal_is_a_year_later")
    top = failure.hints[0]
    assert top.category == "clock", failure.hints
    assert top.evidence == (
        "fails 7/7 with the clock at 2028-02-29 12:00:00 vs 0/7 with the real clock (p = 0.0006)"
        "; replicated in fresh runs: fails 5/5 vs 0/5 (p = 0.008)"
    )


def test_ruled_out_experiments_are_noted(experiments):
    """Experiments that did not explain a failure are listed in its notes, with their counts."""
    _, report = experiments
    failure = failure_named(report, f"{EXPERIMENTS}/test_render.py::test_report_renders_within_its_time_budget")
    network = r"experiment network \(no-effect\): fails \d+/\d+ with outbound connections refused vs \d+/\d+ with"
    network += r" the network as is \(p = [\d.]+\): not decided in \d+ runs"
    assert any(re.fullmatch(network, note) for note in failure.notes), failure.notes


def test_budget_runs_out_and_the_report_says_what_was_skipped(copy_project, sample_env, run_cli, tmp_path):
    """With --budget-seconds 0 every experiment is skipped, the report says which, and the core still labels."""
    project = copy_project("hints")
    report_path = tmp_path / "r.json"
    args = ["run", "--seed", "1", "--reruns", "2", "--replays", "1", "--orders", "0", "--no-coverage"]
    args += ["--budget-seconds", "0", "--report", str(report_path), "--", f"{SIGNATURES}/test_registry.py"]
    completed = run_cli(args, project, sample_env)
    report = Report.model_validate_json(report_path.read_text())
    assert completed.returncode == cli.ExitCode.GATE_FAILED, completed.stderr
    victim = f"{SIGNATURES}/test_registry.py::test_register_exporter[json]"
    assert f"experiment(s) skipped: repetition for {victim}" in report.notes[-1]
    assert report.notes[-1].startswith("the investigation budget (0 s, --budget-seconds) ran out:")
    assert RunPurpose.EXPERIMENT not in [run.purpose for run in report.runs]
    assert failure_named(report, victim).hints[0].category == "shared-state"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--hints-file", "mine.toml"],
            (
                "flakehound: error: --hints-file '{project}/mine.toml' is not a signature catalog:"
                " signature 1 (id 'x'): category: Input should be"
            ),
        ),
        (
            ["--budget-seconds", "soon"],
            "flakehound: error: --budget-seconds must be a number of seconds, 0 or more, got 'soon'",
        ),
        (["--budget-seconds", "-5"], "flakehound: error: --budget-seconds must be a number of seconds, 0 or more"),
    ],
    ids=["broken-hints-file", "budget-not-a-number", "negative-budget"],
)
def test_bad_hint_options_are_one_line_and_exit_2(tmp_path, capsys, args, message):
    """A broken --hints-file or --budget-seconds is one clear line on stderr and exit code 2, before any run."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "mine.toml").write_text(
        '[[signature]]\nid = "x"\ncategory = "db"\ntitle = "t"\nadvice = "a"\nmessage = "m"\n', encoding="utf-8"
    )
    code = cli.main(["run", "--cwd", str(project), *args, "--report", str(tmp_path / "r.json")], environ={})
    err = capsys.readouterr().err
    assert code == cli.ExitCode.USAGE
    assert err.startswith(message.format(project=project))
    assert err.count("\n") == 1
