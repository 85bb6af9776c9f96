"""Splitting an investigation into shards and merging the parts: plans, shares, loading and merging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flakehound.config import Settings
from flakehound.engine.gate import decide_gate
from flakehound.engine.shards import (
    PlanSettings,
    label_summary,
    merge_reports,
    plan_settings,
    plan_shards,
    read_part,
    read_plan,
    share_of,
)
from flakehound.errors import ConfigError
from flakehound.models import (
    FailureKind,
    Outcome,
    Report,
    RunEnd,
    RunPurpose,
    RunRecord,
    ShardOf,
    Summary,
    TestResult,
)

SETTINGS = PlanSettings(seed=7, reruns=1, replays=0, max_failures=50, min_pass_rate=100.0)


def result(nodeid: str, duration: float = 0.0, *, failed: bool = True) -> TestResult:
    """One original result."""
    return TestResult(nodeid=nodeid, outcome=Outcome.FAILED if failed else Outcome.PASSED, duration=duration)


def plan(original, count, **values):
    """A plan with fixed metadata."""
    return plan_shards(original, values.pop("settings", SETTINGS), count=count, created_at="t0", **values)


def test_longest_work_goes_first_onto_the_least_loaded_shard():
    """With reruns 1 and no replays a failure costs its run plus its prefix: LPT gives 304 s and 204 s."""
    original = [result("h.py::big", 100), result("x.py::a"), result("y.py::b"), result("z.py::c")]
    shards = plan(original, 2).shards
    assert [shard.failures for shard in shards] == [("h.py::big", "z.py::c"), ("x.py::a", "y.py::b")]
    assert [shard.estimated_seconds for shard in shards] == [304.0, 204.0]
    assert [shard.finds_latent for shard in shards] == [True, False]


def test_failures_of_one_module_stay_together():
    """Two failures of one module go to one shard while together they weigh no more than a fair share."""
    original = [result("a.py::one"), result("a.py::two"), result("b.py::x"), result("c.py::y"), result("d.py::z")]
    shards = plan(original, 2).shards
    together = [shard for shard in shards if "a.py::one" in shard.failures]
    assert together[0].failures[:2] == ("a.py::one", "a.py::two")


def test_a_module_heavier_than_a_fair_share_is_split():
    """A module whose failures outweigh a fair share is dealt out failure by failure."""
    original = [result("a.py::one", 50), result("a.py::two", 50), result("b.py::x")]
    shards = plan(original, 2).shards
    assert {shard.failures[0] for shard in shards} == {"a.py::one", "a.py::two"}


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ([result("a.py::ok", failed=False)], [()]),
        ([result("a.py::one"), result("b.py::two")], [("a.py::one",), ("b.py::two",)]),
    ],
    ids=["green", "two-failures"],
)
def test_fewer_units_than_shards_give_fewer_shards(original, expected):
    """A matrix never gets an idle job: a green suite gets one shard (it still looks for latent tests)."""
    made = plan(original, 5)
    assert [shard.failures for shard in made.shards] == expected
    assert made.matrix == {"shard": list(range(len(expected)))}


def test_only_the_failures_the_investigation_would_look_at_are_planned():
    """--max-failures applies to the whole plan: the rest is left to the report's skipped list."""
    original = [result(f"m{index}.py::t") for index in range(4)]
    made = plan(original, 4, settings=SETTINGS.model_copy(update={"max_failures": 2}))
    assert [shard.failures for shard in made.shards] == [("m0.py::t",), ("m1.py::t",)]
    assert share_of(made, 1).planned == ("m0.py::t", "m1.py::t")


def test_zero_shards_are_refused():
    """--shards 0 is one line naming the option and the value."""
    with pytest.raises(ConfigError, match=r"^--shards must be 1 or more, got 0; "):
        plan([result("a.py::t")], 0)


def test_the_plan_id_names_the_inputs():
    """The same inputs give the same plan id; another seed, commit or original run another."""
    original = [result("a.py::t"), result("b.py::t", failed=False)]
    first = plan(original, 2, commit="abc")
    assert plan(original, 2, commit="abc").plan_id == first.plan_id
    others = [
        plan(original, 2, commit="def"),
        plan(original, 2, commit="abc", settings=SETTINGS.model_copy(update={"seed": 8})),
        plan(original[:1], 2, commit="abc"),
    ]
    assert first.plan_id not in {other.plan_id for other in others}


def test_a_share_carries_its_failures_and_the_plan_order():
    """Shard 1's share names the plan, its failures, and every planned failure in the original order."""
    made = plan([result("h.py::big", 100), result("x.py::a"), result("y.py::b"), result("z.py::c")], 2)
    share = share_of(made, 1)
    assert share == ShardOf(
        plan_id=made.plan_id,
        index=1,
        count=2,
        failures=("x.py::a", "y.py::b"),
        planned=("h.py::big", "x.py::a", "y.py::b", "z.py::c"),
        finds_latent=False,
    )


@pytest.mark.parametrize("index", [-1, 2], ids=["negative", "past-the-end"])
def test_a_shard_outside_the_plan_is_refused(index):
    """--shard must be one of the plan's shards."""
    made = plan([result("a.py::t"), result("b.py::t")], 2)
    with pytest.raises(ConfigError, match=rf"^--shard must be one of the plan's shards 0 to 1, got {index}; "):
        share_of(made, index)


def test_plan_settings_keep_what_every_shard_shares():
    """The plan keeps the investigation options, not this machine's folder or interpreter."""
    settings = Settings(cwd=Path("/p"), seed=9, reruns=2, pytest_args=("tests",), timeout=10)
    shared = plan_settings(settings)
    assert (shared.seed, shared.reruns, shared.pytest_args, shared.timeout) == (9, 2, ("tests",), 10)
    assert "cwd" not in PlanSettings.model_fields


def test_a_plan_survives_its_json():
    """A plan read back from its JSON is the plan written."""
    made = plan([result("a.py::t", 1.5)], 1, commit="abc")
    assert read_plan(made.model_dump_json(), "plan.json") == made


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{", r"^--plan 'p.json' is not JSON \(.*\); pass the file `flakehound plan` wrote$"),
        ("[]", r"^--plan 'p.json' has schema_version None, and this flakehound reads 1; "),
        ('{"schema_version": 2}', r"^--plan 'p.json' has schema_version 2, and this flakehound reads 1; "),
        ('{"schema_version": 1}', r"^--plan 'p.json' does not match the schema \(\d+ error\(s\)\); "),
    ],
    ids=["not-json", "not-an-object", "newer-schema", "missing-fields"],
)
def test_what_is_not_a_plan_is_refused(text, expected):
    """A plan that cannot be read is one line naming the file and what was expected."""
    with pytest.raises(ConfigError, match=expected):
        read_plan(text, "p.json")


def test_a_part_of_another_schema_version_is_refused(make_report):
    """A partial report written by a flakehound with another schema version is named, not merged."""
    raw = json.loads(make_report().model_dump_json())
    raw["schema_version"] = 2
    with pytest.raises(ConfigError, match=r"^part 'part-1.json' has schema_version 2, and this flakehound reads 1; "):
        read_part(json.dumps(raw), "part-1.json")


def test_label_summary_counts_the_labels(make_failure):
    """The summary's label counts come from the failures and the latent tests."""
    failures = [make_failure("a"), make_failure("b", FailureKind.BRITTLE), make_failure("c", FailureKind.BRITTLE)]
    summary = label_summary(Summary(total=3), failures, [make_failure("d")])
    assert (summary.deterministic, summary.brittle, summary.intermittent, summary.latent) == (1, 2, 0, 1)


PLANNED = ("a.py::t", "b.py::t", "c.py::t")
SUMMARY = Summary(total=10, passed=7, failed=3, pass_rate=70.0)


def _record(number: int, purpose: RunPurpose = RunPurpose.ALONE) -> RunRecord:
    return RunRecord(id=number, purpose=purpose, tests=1, duration=0.1, ended=RunEnd.COMPLETED)


@pytest.fixture
def make_part(make_report, make_failure):
    """A partial report of plan 'p1' (3 shards), holding the given failures of PLANNED."""

    def make(index, nodeids=(), *, latent=(), **fields):
        share = ShardOf(plan_id="p1", index=index, count=3, failures=tuple(nodeids), planned=PLANNED)
        values = {"shard": share, "commit": "abc", "runs": (_record(1), _record(2)), "summary": SUMMARY, **fields}
        kinds = {"c.py::t": FailureKind.INTERMITTENT}
        failures = [make_failure(nodeid, kinds.get(nodeid, FailureKind.DETERMINISTIC)) for nodeid in nodeids]
        return make_report(failures, [make_failure(nodeid) for nodeid in latent], **values)

    return make


def test_merged_parts_read_as_one_investigation(make_part):
    """Failures in their original order, latent kept, runs renumbered, notes once, labels and gate recomputed."""
    parts = {
        "part-2.json": make_part(2, ["b.py::t"], notes=("seed 7", "two"), created_at="2026-01-01T00:05:00Z"),
        "part-0.json": make_part(0, ["c.py::t"], latent=["z.py::t"], notes=("seed 7",), skipped_investigations=("q",)),
        "part-1.json": make_part(1, ["a.py::t"]),
    }
    merged = merge_reports(parts, command=["flakehound", "merge"])
    assert [failure.nodeid for failure in merged.failures] == list(PLANNED)
    assert [failure.nodeid for failure in merged.latent] == ["z.py::t"]
    assert [record.id for record in merged.runs] == list(range(1, 7))
    assert merged.notes == ("seed 7", "two")
    assert merged.skipped_investigations == ("q",)
    assert (merged.summary.deterministic, merged.summary.intermittent, merged.summary.latent) == (2, 1, 1)
    assert merged.gate == decide_gate(
        merged.summary, merged.failures, merged.latent, min_pass_rate=100.0, fail_on_latent=False
    )
    assert merged.gate.reasons[0].startswith("pass rate 70.00% < 100.00%")
    assert (merged.created_at, merged.command, merged.commit, merged.shard) == (
        "2026-01-01T00:05:00Z",
        ("flakehound", "merge"),
        "abc",
        None,
    )
    assert merged.status == "investigated"


def test_an_interrupted_shard_makes_the_verdict_incomplete(make_part):
    """One interrupted part makes the merged report interrupted, and the gate says which shard."""
    parts = {"0": make_part(0), "1": make_part(1, status="interrupted"), "2": make_part(2)}
    merged = merge_reports(parts, command=["m"])
    assert merged.status == "interrupted"
    assert merged.gate.reasons[0].startswith("shard(s) 1 were interrupted: the labels rest on partial evidence")


def test_a_broken_original_run_stays_broken(make_part):
    """Parts of a broken run merge into a broken report blocked by the same reason."""
    broken = {"status": "broken", "broken_reason": "broken build: 1 error(s) during collection (x)"}
    parts = {str(index): make_part(index, **broken) for index in range(3)}
    parts["1"] = make_part(1, **{**broken, "status": "interrupted"})
    merged = merge_reports(parts, command=["m"])
    assert (merged.status, merged.gate.reasons[0]) == ("broken", broken["broken_reason"])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("none", r"^merge got no partial reports; "),
        ("whole", r"^report '1' is a whole investigation, not a shard's part; "),
        ("commit", r"^part '1' is from commit 'def' but '0' from 'abc'; merge the parts of one commit$"),
        ("plan", r"^part '1' belongs to plan p2 \(seed 1234\) but '0' to plan p1 \(seed 1234\); "),
        ("same-shard", r"^overlapping shards: '1' and 'again' are both shard 1; pass each once$"),
        ("same-failure", r"^overlapping shards: 'a.py::t' was investigated in both '0' and '1'; "),
        ("missing", r"^shard\(s\) 2 of plan p1 have no part among 2 given; pass all 3 parts$"),
    ],
    ids=["no-parts", "whole-report", "different-commit", "different-plan", "same-shard", "same-failure", "missing"],
)
def test_parts_that_do_not_belong_together_are_refused(make_part, change, expected):
    """Merging refuses other commits, other plans, overlapping shards and missing ones, in one line."""
    parts = {"0": make_part(0, ["a.py::t"]), "1": make_part(1, ["b.py::t"]), "2": make_part(2, ["c.py::t"])}
    if change == "none":
        parts = {}
    elif change == "whole":
        parts["1"] = parts["1"].model_copy(update={"shard": None})
    elif change == "commit":
        parts["1"] = parts["1"].model_copy(update={"commit": "def"})
    elif change == "plan":
        parts["1"] = parts["1"].model_copy(update={"shard": parts["1"].shard.model_copy(update={"plan_id": "p2"})})
    elif change == "same-shard":
        parts["again"] = make_part(1, ["b.py::t"])
    elif change == "same-failure":
        parts["1"] = make_part(1, ["a.py::t"])
    else:
        del parts["2"]
    with pytest.raises(ConfigError, match=expected):
        merge_reports(parts, command=["m"])


def test_a_merged_part_is_a_report(make_part):
    """A part read back from its JSON loads as a Report with its share."""
    part = make_part(0, ["a.py::t"])
    assert read_part(part.model_dump_json(), "p.json") == part
    assert isinstance(part, Report)
