"""The data that flows through flakehound: test results, runs, verdicts and the report.

Every model is frozen; variants are made with ``model_copy(update=...)``. ``Report`` is the
stable contract (``schema_version`` 1): renderers, publishers and the gate read only it.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ClassifiedFailure",
    "Comparison",
    "Configuration",
    "ConfigurationCount",
    "CoverageFile",
    "CoverageSummary",
    "DiffCoverage",
    "Evidence",
    "EvidenceStrength",
    "FailureKind",
    "FailureRate",
    "GateResult",
    "Hint",
    "Original",
    "Outcome",
    "Phase",
    "Polluter",
    "Report",
    "ReportSettings",
    "Run",
    "RunEnd",
    "RunPurpose",
    "RunRecord",
    "ShardOf",
    "Split",
    "StateChange",
    "Summary",
    "TestResult",
    "Tool",
    "UncoveredFile",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Outcome(str, Enum):
    """How one test ended in one run, as pytest reports it."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    XFAILED = "xfailed"
    XPASSED = "xpassed"

    @property
    def is_failure(self) -> bool:
        """Whether this outcome counts against the pass rate."""
        return self in {Outcome.FAILED, Outcome.ERROR}


class Phase(str, Enum):
    """The pytest phase in which a test's outcome was decided."""

    SETUP = "setup"
    CALL = "call"
    TEARDOWN = "teardown"


class RunEnd(str, Enum):
    """How an executor run ended."""

    COMPLETED = "completed"
    TIMEOUT = "timeout"
    CRASH = "crash"
    #: flakehound itself was stopped (SIGTERM, Ctrl-C) while the run went on: its results are the ones finished.
    CANCELLED = "cancelled"


class RunPurpose(str, Enum):
    """Why flakehound made a run."""

    ORIGINAL = "original"
    ALONE = "alone"
    ORIGINAL_ORDER = "original-order"
    PERMUTED = "permuted"
    REVERSED = "reversed"
    BISECT = "bisect"
    EXPERIMENT = "experiment"


class FailureKind(str, Enum):
    """The label flakehound gives a failing test."""

    DETERMINISTIC = "deterministic"
    INTERMITTENT = "intermittent"
    ORDER_DEPENDENT = "order-dependent"
    BRITTLE = "brittle"


class TestResult(_Frozen):
    """One test's result in one run."""

    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: Outcome
    phase: Phase = Phase.CALL
    duration: float = 0.0
    exception: str | None = None
    message: str | None = None
    path: str | None = None
    line: int | None = None
    traceback: str | None = None
    output: str | None = None


class Run(_Frozen):
    """What an executor returns: per-test results in execution order and how the run ended."""

    results: tuple[TestResult, ...]
    ended: RunEnd = RunEnd.COMPLETED
    duration: float = 0.0
    collected: tuple[str, ...] = ()
    collection_errors: tuple[TestResult, ...] = ()
    missing: tuple[str, ...] = ()
    restored: tuple[str, ...] = ()
    detail: str | None = None
    exit_code: int | None = None
    output_tail: str = ""

    def result_of(self, nodeid: str) -> TestResult | None:
        """The result of ``nodeid`` in this run, or None if it did not run."""
        for result in self.results:
            if result.nodeid == nodeid:
                return result
        return None


class RunRecord(_Frozen):
    """One executor run as the report lists it."""

    id: int
    purpose: RunPurpose
    seed: int | None = None
    tests: int
    outcomes: dict[str, Outcome] = Field(default_factory=dict)
    duration: float
    ended: RunEnd
    restored: tuple[str, ...] = ()


class Configuration(_Frozen):
    """The conditions one group of identical runs shared (alone, original order, one permuted order)."""

    purpose: RunPurpose
    seed: int | None = None


class ConfigurationCount(_Frozen):
    """How often a test failed in the runs of one configuration."""

    runs: int = 0
    failures: int = 0


class Evidence(_Frozen):
    """Counts per configuration for one failing test."""

    alone: ConfigurationCount = ConfigurationCount()
    original_order: ConfigurationCount = ConfigurationCount()
    permuted: ConfigurationCount = ConfigurationCount()
    failing_orders: tuple[str, ...] = ()
    passing_orders: tuple[str, ...] = ()
    strip: dict[str, str] = Field(default_factory=dict)


class FailureRate(_Frozen):
    """A failure-rate estimate with its 95% Wilson interval."""

    estimate: float
    low: float
    high: float
    runs: int
    failures: int


class EvidenceStrength(_Frozen):
    """How far the evidence can be trusted, in plain numbers."""

    unseen_single_polluter_chance: float
    clean_runs: int
    failure_rate_upper_bound: float | None = None
    clean_runs_needed: int | None = None
    sentence: str


class StateChange(_Frozen):
    """One piece of state a polluter or state-setter leaves behind."""

    kind: str
    name: str
    before: str | None = None
    after: str | None = None
    #: The shown values are equal, but the fingerprint changed: replaced, or mutated beyond the part shown.
    beyond_shown: bool = False


class Polluter(_Frozen):
    """A minimal set of tests whose presence before a victim flips its outcome."""

    nodeids: tuple[str, ...]
    confirmed_runs: int = 0
    confirmed_failures: int = 0
    search_runs: int = 0
    alone_runs: int = 0
    alone_failures: int = 0
    state_changes: tuple[StateChange, ...] = ()


class Split(_Frozen):
    """A controlled comparison's runs so far, every look's: the failures and finished runs per side, and Fisher's p."""

    treatment_failures: int
    treatment_runs: int
    control_failures: int
    control_runs: int
    p: float
    #: Runs that did not finish (a timeout, a crash of the runner) and are not counted on either side.
    lost: int = 0


class Comparison(_Frozen):
    """The controlled comparison that decided a hint: the factor, both sides, and the fresh runs that replicated it."""

    factor: str
    #: The two conditions, as the evidence words them: "with outbound connections refused", "with the network as is".
    treatment: str
    control: str
    split: Split
    replication: Split


class Hint(_Frozen):
    """A root-cause hint with the evidence behind it."""

    category: str
    title: str
    #: The comparison that ties a signature to this failure: "fails after X, which leaves ..." (empty if none).
    cause: str = ""
    detail: str = ""
    evidence: str = ""
    confidence: Literal["high", "medium", "low"] = "medium"
    #: The experiment's comparison that decided this hint, counted; None when the hint rests on other evidence
    #: (the reruns, a polluter's confirmation runs, a matched signature).
    comparison: Comparison | None = None


class Original(_Frozen):
    """The failing test's result in the run that found it."""

    outcome: Outcome
    phase: Phase = Phase.CALL
    exception: str | None = None
    message: str | None = None
    path: str | None = None
    line: int | None = None
    traceback: str | None = None
    output: str | None = None


class TestHistory(_Frozen):
    """One test in earlier runs: how often it failed there, when first and last, and under which labels."""

    __test__ = False  # not a pytest test class

    runs: int
    failures: int
    #: The failure rate over those runs and its 95% Wilson interval.
    rate: float
    interval: tuple[float, float]
    first_failed_commit: str | None = None
    first_failed_at: str | None = None
    last_failed_commit: str | None = None
    last_failed_at: str | None = None
    #: Each label the test had when it failed there, with how many runs gave it.
    labels: dict[str, int] = {}


class HistorySummary(_Frozen):
    """Where the earlier runs came from and what could not be read."""

    #: Where the runs were, as a phrase: "on main" (the base branch's last runs), "in the reports in DIR".
    source: str
    runs: int
    notes: tuple[str, ...] = ()


class WatchedTest(_Frozen):
    """A test that passed in this run but failed in earlier ones: investigated anyway, and it passed every run here."""

    nodeid: str
    #: Its reruns alone.
    alone: ConfigurationCount
    #: Its runs in the shuffled whole-suite orders (the seeded permutations and the reversed order).
    shuffled: ConfigurationCount = ConfigurationCount()
    #: The root-cause experiments run on it, each "factor (outcome): both sides' counts", in the order run.
    experiments: tuple[str, ...] = ()
    history: TestHistory


class ClassifiedFailure(_Frozen):
    """One failing test, its label and the evidence for it."""

    nodeid: str
    classification: FailureKind
    original: Original
    evidence: Evidence
    failure_rate: FailureRate | None = None
    strength: EvidenceStrength | None = None
    found_in: Configuration = Configuration(purpose=RunPurpose.ORIGINAL)
    notes: tuple[str, ...] = ()
    polluters: tuple[Polluter, ...] = ()
    state_setters: tuple[Polluter, ...] = ()
    hints: tuple[Hint, ...] = ()
    #: How many root-cause experiments were run on this failure (not counting ones deduced from reruns).
    experiments_run: int = 0
    reproduce: str
    #: The test in earlier runs (the base branch's, or a folder of reports), when they were read.
    history: TestHistory | None = None


class Summary(_Frozen):
    """Counts over the original run and the labels."""

    total: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    xfailed: int = 0
    xpassed: int = 0
    #: Percent of the tests that ran and passed; None when no test ran (a broken build), never a made-up 100.
    pass_rate: float | None = 100.0
    deterministic: int = 0
    intermittent: int = 0
    order_dependent: int = 0
    brittle: int = 0
    latent: int = 0


class UncoveredFile(_Frozen):
    """Changed lines of one file that no test ran."""

    path: str
    ranges: tuple[str, ...]


class DiffCoverage(_Frozen):
    """Coverage of the lines a change added or modified."""

    base: str
    percent: float | None
    changed_lines: int
    uncovered: tuple[UncoveredFile, ...] = ()


class CoverageFile(_Frozen):
    """Coverage of one source file."""

    path: str
    percent: float
    statements: int
    missing: tuple[str, ...] = ()
    partial_branches: tuple[str, ...] = ()


class CoverageSummary(_Frozen):
    """Coverage measured on the original run (or read from an earlier step's data)."""

    total_percent: float
    line_percent: float
    branch_percent: float | None = None
    files: tuple[CoverageFile, ...] = ()
    diff: DiffCoverage | None = None
    threshold: float = 100.0
    diff_threshold: float = 100.0
    source: str = "measured"


class GateResult(_Frozen):
    """Whether the change may merge, and why not."""

    passed: bool
    reasons: tuple[str, ...] = ()


class Tool(_Frozen):
    """Which flakehound wrote the report."""

    name: str = "flakehound"
    version: str


class ReportSettings(_Frozen):
    """Every option in force for the investigation."""

    seed: int
    reruns: int
    replays: int
    orders: int
    max_failures: int
    min_pass_rate: float
    min_coverage: float | None = None
    min_diff_coverage: float | None = None
    coverage: Literal["measured", "files", "off"] = "off"
    base: str | None = None
    fail_on_latent: bool = False
    timeout: float
    pytest_args: tuple[str, ...] = ()
    junit: tuple[str, ...] = ()
    cwd: str
    #: The interpreter that ran pytest; reproduce commands say plain ``python``.
    python: str = ""
    disabled_plugins: tuple[str, ...] = ()


class ShardOf(_Frozen):
    """Which share of a plan a partial report covers (``flakehound investigate --plan``)."""

    plan_id: str
    index: int = Field(ge=0)
    count: int = Field(ge=1)
    failures: tuple[str, ...] = ()
    planned: tuple[str, ...] = ()
    finds_latent: bool = False


class Report(_Frozen):
    """Everything flakehound found, in one document (schema_version 1)."""

    schema_version: Literal[1] = 1
    tool: Tool
    created_at: str
    command: tuple[str, ...]
    settings: ReportSettings
    status: Literal["investigated", "broken", "crashed", "interrupted"] = "investigated"
    broken_reason: str | None = None
    first_errors: tuple[TestResult, ...] = ()
    summary: Summary
    failures: tuple[ClassifiedFailure, ...] = ()
    latent: tuple[ClassifiedFailure, ...] = ()
    skipped_investigations: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    runs: tuple[RunRecord, ...] = ()
    coverage: CoverageSummary | None = None
    gate: GateResult
    commit: str | None = None
    shard: ShardOf | None = None
    #: Earlier runs read for history, and the tests that failed there but passed every run here.
    history: HistorySummary | None = None
    watched: tuple[WatchedTest, ...] = ()
