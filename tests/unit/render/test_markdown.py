"""The comment and job-summary renderers, checked against golden files and hostile input."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import pytest

from flakehound.models import (
    ClassifiedFailure,
    Configuration,
    ConfigurationCount,
    CoverageFile,
    CoverageSummary,
    DiffCoverage,
    Evidence,
    EvidenceStrength,
    FailureKind,
    FailureRate,
    GateResult,
    Hint,
    Original,
    Outcome,
    Polluter,
    Report,
    ReportSettings,
    RunPurpose,
    StateChange,
    Summary,
    TestResult,
    Tool,
    UncoveredFile,
)
from flakehound.render.digest import Digest, make_digest, make_marker, parse_digest
from flakehound.render.markdown import render_comment, render_summary

GOLDEN = Path(__file__).parent.parent.parent / "golden"
RUN_URL = "https://github.com/o/r/actions/runs/7"


def file_url(path: str, line: int | None) -> str:
    """Link a file at a fixed head SHA, as the shell does."""
    anchor = f"#L{line}" if line is not None else ""
    return f"https://github.com/o/r/blob/abc123/{path}{anchor}"


def make_report(**update: object) -> Report:
    """Build a green report with fixed settings; tests override fields with ``update``."""
    report = Report(
        tool=Tool(version="0.1.0"),
        created_at="2024-05-01T12:00:00Z",
        command=("flakehound", "run"),
        settings=ReportSettings(
            seed=1234,
            reruns=3,
            replays=3,
            orders=5,
            max_failures=20,
            min_pass_rate=100.0,
            timeout=600.0,
            cwd=".",
        ),
        summary=Summary(total=120, passed=118, skipped=2),
        gate=GateResult(passed=True),
    )
    return report.model_copy(update=update)


def deterministic() -> ClassifiedFailure:
    """Build a test that fails every time, alone and in order."""
    return ClassifiedFailure(
        nodeid="tests/test_math.py::test_add",
        classification=FailureKind.DETERMINISTIC,
        original=Original(
            outcome=Outcome.FAILED,
            exception="AssertionError",
            message="assert 3 == 4\n +  where 3 = add(1, 2)",
            path="tests/test_math.py",
            line=12,
        ),
        evidence=Evidence(
            alone=ConfigurationCount(runs=3, failures=3),
            original_order=ConfigurationCount(runs=3, failures=3),
            strip={"alone": "FFF", "original-order": "FFF"},
        ),
        hints=(
            Hint(
                category="assertion",
                title="Plain assertion failure",
                detail="The test fails the same way every time; the code or the test is wrong.",
                evidence="6/6 runs failed with the same message",
                confidence="high",
            ),
        ),
        reproduce="python -m pytest 'tests/test_math.py::test_add'",
    )


def intermittent() -> ClassifiedFailure:
    """Build a test that flips under identical conditions."""
    return ClassifiedFailure(
        nodeid="tests/test_net.py::test_fetch",
        classification=FailureKind.INTERMITTENT,
        original=Original(outcome=Outcome.ERROR, exception="TimeoutError", message="timed out after 1.0s"),
        evidence=Evidence(
            alone=ConfigurationCount(runs=5, failures=2),
            original_order=ConfigurationCount(runs=5, failures=1),
            strip={"alone": ".F.F.", "original-order": "..F..", "odd": "?T"},
        ),
        failure_rate=FailureRate(estimate=0.3, low=0.108, high=0.603, runs=10, failures=3),
        strength=EvidenceStrength(unseen_single_polluter_chance=0.0, clean_runs=7, sentence="7 clean runs."),
        hints=(
            Hint(category="timing", title="Timeout", detail="A wall-clock limit in the test.", confidence="low"),
            Hint(category="network", title="Network access", evidence="socket.connect in the traceback"),
        ),
        notes=("One run hit the per-run timeout.",),
        reproduce="flakehound replay --test 'tests/test_net.py::test_fetch' --runs 10",
    )


def order_dependent() -> ClassifiedFailure:
    """Build a victim that fails after a polluter that changes a module global."""
    return ClassifiedFailure(
        nodeid="tests/test_cache.py::test_empty",
        classification=FailureKind.ORDER_DEPENDENT,
        original=Original(outcome=Outcome.FAILED, exception="AssertionError", path="tests/test_cache.py", line=30),
        evidence=Evidence(
            alone=ConfigurationCount(runs=3, failures=0),
            original_order=ConfigurationCount(runs=3, failures=3),
            permuted=ConfigurationCount(runs=5, failures=2),
            strip={"alone": "...", "original-order": "FFF", "seed 1234": "F.F.."},
        ),
        found_in=Configuration(purpose=RunPurpose.ORIGINAL),
        polluters=(
            Polluter(
                nodeids=("tests/test_cache.py::test_fill",),
                confirmed_runs=3,
                confirmed_failures=3,
                search_runs=4,
                state_changes=(
                    StateChange(kind="module-attribute", name="cache.STORE", before="{}", after="{'k': 1}"),
                    StateChange(kind="env", name="CACHE_DIR", before=None, after="/srv/cache"),
                ),
            ),
        ),
        hints=(
            Hint(
                category="state",
                title="Shared module state",
                cause="fails after tests/test_cache.py::test_fill, which changes cache.STORE from {} to {'k': 1}",
                detail="cache.STORE is never reset.",
            ),
        ),
        reproduce="flakehound bisect --victim 'tests/test_cache.py::test_empty' --seed 1234",
    )


def brittle() -> ClassifiedFailure:
    """Build a test that passes only when another test sets state first."""
    return ClassifiedFailure(
        nodeid="tests/test_db.py::test_query",
        classification=FailureKind.BRITTLE,
        original=Original(outcome=Outcome.FAILED, message="no such table: users"),
        evidence=Evidence(
            alone=ConfigurationCount(runs=3, failures=3),
            original_order=ConfigurationCount(runs=3, failures=0),
            strip={"alone": "FFF", "original-order": "..."},
        ),
        state_setters=(
            Polluter(
                nodeids=("tests/test_db.py::test_migrate",),
                confirmed_runs=3,
                confirmed_failures=0,
                search_runs=2,
            ),
        ),
        reproduce="python -m pytest 'tests/test_db.py::test_query'",
    )


def latent() -> ClassifiedFailure:
    """Build a test that fails only in a shuffled order."""
    return ClassifiedFailure(
        nodeid="tests/test_env.py::test_locale",
        classification=FailureKind.ORDER_DEPENDENT,
        original=Original(outcome=Outcome.FAILED),
        evidence=Evidence(permuted=ConfigurationCount(runs=5, failures=1), strip={"seed 99": "F...."}),
        polluters=(
            Polluter(
                nodeids=("tests/test_env.py::test_set_locale", "tests/test_env.py::test_reset"),
            ),
            Polluter(nodeids=("tests/test_env.py::test_other",)),
        ),
        reproduce="flakehound bisect --victim 'tests/test_env.py::test_locale' --seed 99",
    )


def blocked(*failures: ClassifiedFailure, **update: object) -> Report:
    """Build a blocked report carrying ``failures``."""
    return make_report(
        summary=Summary(total=120, passed=115, failed=len(failures), skipped=2, pass_rate=95.83),
        failures=failures,
        gate=GateResult(passed=False, reasons=(f"pass rate 95.83% < 100.00%: {len(failures)} of 120 tests failed",)),
        **update,
    )


COVERAGE = CoverageSummary(
    total_percent=87.5,
    line_percent=88.0,
    files=(
        CoverageFile(path="src/pkg/a.py", percent=50.0, statements=10, missing=("3-5", "9")),
        CoverageFile(path="src/pkg/b.py", percent=100.0, statements=4),
        CoverageFile(path="src/pkg/c.py", percent=75.0, statements=12, missing=tuple(f"{n}" for n in range(1, 15))),
    ),
    diff=DiffCoverage(
        base="origin/main",
        percent=75.0,
        changed_lines=8,
        uncovered=(UncoveredFile(path="src/pkg/a.py", ranges=("3-4",)),),
    ),
)

GOLDEN_CASES = {
    "green": lambda: render_comment(make_report(), run_url=RUN_URL),
    "deterministic": lambda: render_comment(
        blocked(deterministic()), marker_key="flakehound py3.12", file_url=file_url
    ),
    "intermittent": lambda: render_comment(blocked(intermittent()), run_url=RUN_URL),
    "order_dependent": lambda: render_comment(
        blocked(order_dependent(), latent=(latent(),), commit="4f2c9e1b7a3d5f60819e2b4c6d8fa0b1c2d3e4f5"),
        check_name="tests",
        file_url=file_url,
        run_url=RUN_URL,
    ),
    "brittle": lambda: render_comment(blocked(brittle())),
    "coverage": lambda: render_comment(
        make_report(
            coverage=COVERAGE.model_copy(update={"threshold": 90.0}),
            settings=make_report().settings.model_copy(update={"min_coverage": 90.0, "min_diff_coverage": 100.0}),
            gate=GateResult(passed=False, reasons=("coverage 87.50% < 90.00%",)),
        ),
        file_url=file_url,
    ),
    "broken": lambda: render_comment(
        make_report(
            status="broken",
            broken_reason="pytest could not collect 2 files",
            first_errors=(
                TestResult(
                    nodeid="tests/test_a.py",
                    outcome=Outcome.ERROR,
                    message="ImportError: no module named 'foo'",
                    traceback="tests/test_a.py:1: in <module>\n    import foo",
                ),
                TestResult(nodeid="tests/test_b.py", outcome=Outcome.ERROR),
            ),
            gate=GateResult(passed=False, reasons=("pytest could not collect 2 files",)),
        )
    ),
    "changes": lambda: render_comment(
        blocked(deterministic(), intermittent(), latent=(latent(),)),
        previous_digest=Digest(
            passed=True,
            status="investigated",
            labels={
                "tests/test_net.py::test_fetch": "deterministic",
                "tests/test_gone.py::test_fixed": "intermittent",
                "sha256:0123456789abcdef": "brittle",
            },
        ),
    ),
    "trimmed_latent": lambda: render_comment(
        blocked(deterministic(), latent=(latent(),)),
        limit=len(render_comment(blocked(deterministic())).encode()) + 600,
    ),
    "trimmed_counts": lambda: render_comment(
        blocked(deterministic(), order_dependent(), latent=(latent(),)), run_url=RUN_URL, limit=1000
    ),
    "trimmed_rows": lambda: render_comment(
        blocked(deterministic(), order_dependent(), latent=(latent(),)), run_url=RUN_URL, limit=1300
    ),
    "summary": lambda: render_summary(blocked(order_dependent()), run_url=RUN_URL),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES), ids=sorted(GOLDEN_CASES))
def test_golden(name: str, update_goldens: bool) -> None:
    """Each hand-made report renders exactly as its golden file (``--update-goldens`` rewrites them)."""
    rendered = GOLDEN_CASES[name]()
    path = GOLDEN / f"comment_{name}.md"
    if update_goldens:
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8")


HOSTILE_NAMES = {
    "details": "tests/t.py::test_x[</details><details><summary>pwned</summary>]",
    "marker": "tests/t.py::test_x[<!-- flakehound:report -->]",
    "mention": "tests/t.py::test_ping[@octocat and @org/team]",
    "issue": "tests/t.py::test_fix[#123 and GH-4 and o/r#5]",
    "backticks": "tests/t.py::test_code[``` `` `]",
    "bidi": "tests/t.py::test_\u202eevil\u202c_\u2066x\u2069_\u200f",
    "control": "tests/t.py::test_\x1b[31mred\x07\x00",
    "newline": "tests/t.py::test_x[a\n# heading\r\n- item]",
    "pipe": "tests/t.py::test_x[a|b]",
    "link": "tests/t.py::test_x[[click](javascript:alert(1))]",
    "entities": "tests/t.py::test_x['&#64;x' &amp; \"q\"]",
}


def hostile_report(name: str) -> Report:
    """Build a blocked report where every untrusted field carries ``name``."""
    failure = deterministic().model_copy(
        update={
            "nodeid": name,
            "original": Original(outcome=Outcome.FAILED, exception=name, message=f"{name}\n```\n{name}", path=name),
            "hints": (Hint(category="x", title=name, detail=name, evidence=name),),
            "polluters": (Polluter(nodeids=(name,), state_changes=(StateChange(kind=name, name=name, after=name),)),),
            "evidence": Evidence(alone=ConfigurationCount(runs=1, failures=1), strip={name: "F"}),
            "notes": (name,),
            "reproduce": f"pytest {name}",
        }
    )
    return blocked(
        failure,
        latent=(failure,),
        status="broken",
        broken_reason=name,
        first_errors=(TestResult(nodeid=name, outcome=Outcome.ERROR, message=name, traceback=name),),
    )


CODE_BLOCK = re.compile(r"^(`{3,})[^\n]*\n.*?\n\1$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)")


def prose(body: str) -> str:
    """Drop code blocks and code spans, keeping the markdown where GitHub parses HTML, links and mentions."""
    return CODE_SPAN.sub("", CODE_BLOCK.sub("", body))


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_hostile_names_cannot_break_out(name: str) -> None:
    """Untrusted test names cannot close our HTML, forge the marker, ping people or hide text."""
    body = render_comment(hostile_report(name), marker_key="ci")
    outside = prose(body)
    assert outside.count("<details>") == outside.count("</details>") == 2
    assert outside.count("<!--") == 2  # the marker and the digest, nothing forged
    assert body.startswith("<!-- flakehound:report ci -->\n")
    assert re.search(r"[@#](octocat|org|123|5)", outside) is None
    assert re.search(r"(?<!\\)\]\(", outside) is None
    assert not any(char in body for char in "\u202e\u202c\u2066\u2069\u200f\x1b\x07\x00\r")
    assert parse_digest(body) == make_digest(hostile_report(name))
    summary = re.search(r"<summary><code>(.*?)</code>", body)
    assert summary is not None
    shown = html.unescape(summary.group(1)).replace("\N{ZERO WIDTH JOINER}", "")
    assert shown == " ".join(name.replace("\r\n", "\n").split()).translate(
        {ord(char): "\N{REPLACEMENT CHARACTER}" for char in "\u202e\u202c\u2066\u2069\u200f\x1b\x07\x00"}
    )


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_table_rows_keep_their_columns(name: str) -> None:
    """A pipe or newline in a test name never adds a table column or row."""
    body = render_comment(hostile_report(name).model_copy(update={"status": "investigated"}))
    table = body.split("### Failures\n\n")[1].split("\n\n")[0].splitlines()
    assert len(table) == 3
    for row in table:
        assert row.replace("\\|", "").count("|") == 4


@pytest.mark.parametrize(
    ("message", "fence"),
    [("plain", "```"), ("a ``` b", "````"), ("```\nx\n`````", "``````")],
    ids=["plain", "triple", "quintuple"],
)
def test_code_block_fence_outlasts_backticks(message: str, fence: str) -> None:
    """A message is fenced with more backticks than any run inside it, so it cannot close the block."""
    failure = deterministic().model_copy(update={"original": Original(outcome=Outcome.FAILED, message=message)})
    body = render_comment(blocked(failure))
    assert f"\n{fence}\n{message}\n{fence}\n" in body


@pytest.mark.parametrize(
    ("name", "span"),
    [("a`b", "``a`b``"), ("`x`", "`` `x` ``"), ("a``b```c", "````a``b```c````")],
    ids=["single", "edges", "runs"],
)
def test_code_span_fence_outlasts_backticks(name: str, span: str) -> None:
    """A test name with backticks gets a longer code-span fence (padded when it starts with one)."""
    failure = deterministic().model_copy(update={"nodeid": name})
    assert f"| {span} | deterministic |" in render_comment(blocked(failure))


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("- not a list", "\\- not a list"),
        ("12. not a list", "12\\. not a list"),
        ("= not a heading", "\\= not a heading"),
        ("a <b> & *c*", "a &lt;b&gt; &amp; \\*c\\*"),
    ],
    ids=["dash", "number", "equals", "inline"],
)
def test_reasons_are_inline_text(reason: str, expected: str) -> None:
    """Reason text at a paragraph start cannot become a list or heading, and HTML is escaped."""
    report = make_report(status="broken", broken_reason=reason, gate=GateResult(passed=False))
    assert f"\n\n{expected}\n\n" in render_comment(report)


@pytest.mark.parametrize(
    ("key", "marker"),
    [
        ("", "<!-- flakehound:report -->"),
        ("flakehound (3.12, ubuntu)", "<!-- flakehound:report flakehound%20%283.12%2C%20ubuntu%29 -->"),
        ("a--b-->", "<!-- flakehound:report a-%2Db-%2D%3E -->"),
        ("é", "<!-- flakehound:report %C3%A9 -->"),
    ],
    ids=["empty", "matrix", "comment-end", "unicode"],
)
def test_marker_is_a_safe_html_comment(key: str, marker: str) -> None:
    """The marker quotes its key so no key can end the comment early."""
    assert make_marker(key) == marker
    assert "--" not in marker.removeprefix("<!--").removesuffix("-->")


def test_digest_round_trips() -> None:
    """The digest parsed from a rendered comment equals the one made from its report."""
    report = blocked(deterministic(), latent=(latent(),))
    digest = parse_digest(render_comment(report))
    assert digest == Digest(
        passed=False,
        status="investigated",
        labels={"tests/test_math.py::test_add": "deterministic", "tests/test_env.py::test_locale": "latent"},
    )


def test_digest_hashes_long_names() -> None:
    """When naming every test would make the digest long, node ids are replaced by short hashes."""
    failures = tuple(
        deterministic().model_copy(update={"nodeid": f"tests/test_{n}.py::test_{'x' * 100}"}) for n in range(30)
    )
    digest = make_digest(blocked(*failures))
    assert len(digest.labels) == 30
    assert all(key.startswith("sha256:") and len(key) == 23 for key in digest.labels)
    body = render_comment(blocked(*failures[1:]), previous_digest=digest)
    assert "- Fixed (1): 1 test named only by hash\n" in body
    assert "- Still failing (29): " in body


@pytest.mark.parametrize(
    "body",
    [
        "no digest here",
        "<!-- flakehound:digest v1 !!! -->",
        "<!-- flakehound:digest v1 abc -->",
        "<!-- flakehound:digest v1 " + base64.b64encode(b"not json").decode() + " -->",
        "<!-- flakehound:digest v1 " + base64.b64encode(b'{"passed": "maybe"}').decode() + " -->",
    ],
    ids=["missing", "alphabet", "padding", "json", "schema"],
)
def test_parse_digest_rejects_damage(body: str) -> None:
    """A missing or damaged digest reads as None rather than raising."""
    assert parse_digest(body) is None


def test_unchanged_push_says_so() -> None:
    """With the same labels as the last push the comment says nothing changed."""
    report = blocked(deterministic())
    body = render_comment(report, previous_digest=make_digest(report))
    assert "### What changed since the last push\n\nNo change since the last push.\n" in body


def test_now_passing_push_reports_the_verdict_flip() -> None:
    """A push that fixes everything lists the fixed test and the verdict going from blocked to passed."""
    previous = make_digest(blocked(deterministic()))
    body = render_comment(make_report(), previous_digest=previous)
    assert "- Verdict: was **blocked**, now **passed**.\n- Fixed (1): `tests/test_math.py::test_add`\n" in body


def test_tiny_limit_keeps_the_verdict() -> None:
    """Below the size of the counts, the comment keeps marker and verdict and drops the digest."""
    body = render_comment(blocked(deterministic()), marker_key="k", limit=10)
    assert body.startswith("<!-- flakehound:report k -->\n## flakehound\n\n**\N{CROSS MARK} Blocked**: ")
    assert parse_digest(body) is None


def test_every_rung_fits_its_limit() -> None:
    """Each trimmed comment is within the limit it was rendered for."""
    report = blocked(deterministic(), order_dependent(), intermittent(), latent=(latent(), latent()))
    full = len(render_comment(report).encode())
    for limit in range(1200, full + 1, 500):
        assert len(render_comment(report, limit=limit).encode()) <= limit


def test_summary_has_no_marker_or_digest() -> None:
    """The job summary is the same markdown without the hidden marker and digest."""
    body = render_summary(blocked(deterministic()))
    assert "<!--" not in body
    assert "### Failures" in body


def test_crashed_report_says_pytest_crashed() -> None:
    """A crashed report blocks and says pytest crashed, with no reason paragraph of its own."""
    body = render_comment(make_report(status="crashed", gate=GateResult(passed=False)))
    assert "**\N{COLLISION SYMBOL} Blocked**: pytest crashed.\n" in body
    assert "### Why the suite could not run\n\n<sub>" in body


def test_coverage_without_thresholds_or_diff() -> None:
    """Without thresholds or a diff base, coverage shows the total and the five worst files, then a count."""
    files = tuple(
        CoverageFile(path=f"src/m{n}.py", percent=90.0 - n, statements=10, missing=(str(n),)) for n in range(7)
    )
    report = make_report(coverage=CoverageSummary(total_percent=91.0, line_percent=91.0, files=files))
    body = render_comment(report)
    assert "### Coverage\n\nTotal **91.00%**.\n\n| File | Coverage | Missing lines |\n" in body
    assert "| `src/m6.py` | 84.00% | 6 |\n" in body
    assert "src/m1.py" not in body
    assert "\n\n2 more files with missing lines.\n" in body


def test_coverage_of_a_diff_without_measurable_lines() -> None:
    """A diff that touches no measurable line says so and lists no files."""
    coverage = CoverageSummary(
        total_percent=100.0, line_percent=100.0, diff=DiffCoverage(base="main", percent=None, changed_lines=0)
    )
    body = render_comment(make_report(coverage=coverage))
    assert "Total **100.00%** · changed lines no measurable lines of 0 against `main`.\n\n<sub>" in body


def test_green_report_at_a_tiny_limit_has_no_label_table() -> None:
    """A green report trimmed to counts has no empty label table."""
    body = render_comment(make_report(), limit=10)
    assert "| Label |" not in body
    assert "**\N{WHITE HEAVY CHECK MARK} Passed**: 120 tests.\n" in body


def test_failure_without_runs_has_no_outcome_table() -> None:
    """A failure that was never rerun shows 'not rerun' and no empty outcome table."""
    failure = deterministic().model_copy(update={"evidence": Evidence()})
    body = render_comment(blocked(failure))
    assert "\n\nReruns: not rerun.\n\n" in body
    assert "Outcomes per configuration" not in body


def test_interrupted_report_says_so_without_a_broken_section() -> None:
    """An interrupted investigation blocks, says why, and shows no 'could not run' section."""
    body = render_comment(make_report(status="interrupted", gate=GateResult(passed=False, reasons=("stopped",))))
    assert "**\N{COLLISION SYMBOL} Blocked**: the investigation was interrupted.\n\n- stopped.\n" in body
    assert "### Why the suite could not run" not in body


def test_failure_with_an_empty_evidence_sentence_has_no_evidence_paragraph() -> None:
    """A deterministic failure whose evidence sentence is empty (no unseen chance) gets no empty paragraph."""
    strength = EvidenceStrength(unseen_single_polluter_chance=0.5, clean_runs=0, sentence="")
    body = render_comment(blocked(deterministic().model_copy(update={"strength": strength})))
    assert "\n\n\n" not in body
    assert "chance of going unseen" not in body


@pytest.mark.parametrize(
    ("hints", "experiments_run", "cell"),
    [
        pytest.param(
            (), 0, "| cause not decided: no experiment ran and no known error signature matched |", id="no-experiments"
        ),
        pytest.param((), 1, "| cause not decided: 1 experiment ran, none changed the rate |", id="one"),
        pytest.param((), 5, "| cause not decided: 5 experiments ran, none changed the rate |", id="five"),
        pytest.param((Hint(category="timing", title="Timeout", detail="d"),), 5, "| Timeout |", id="hint-wins"),
    ],
)
def test_undecided_cause_says_how_many_experiments_ran(
    hints: tuple[Hint, ...], experiments_run: int, cell: str
) -> None:
    """A failure without a hint says no experiment decided its cause, with the real count, instead of a dash."""
    failure = intermittent().model_copy(update={"hints": hints, "experiments_run": experiments_run})
    assert cell in render_comment(blocked(failure))


SHA = "4f2c9e1b7a3d5f60819e2b4c6d8fa0b1c2d3e4f5"


def many_failures(count: int) -> tuple[ClassifiedFailure, ...]:
    """``count`` failures with long parametrized node ids and multi-line tracebacks, all four labels mixed."""
    makers = (deterministic, intermittent, order_dependent, brittle)
    failures = []
    for n in range(count):
        nodeid = (
            f"tests/integration/api/v2/test_orders_endpoint_{n // 10}.py::TestOrderLifecycle::"
            f"test_order_transitions_between_states_with_concurrent_updates[postgres-async-{n}-retry-backoff]"
        )
        message = "\n".join(f"E   AssertionError: frame {line} of a long traceback for case {n}" for line in range(12))
        original = Original(outcome=Outcome.FAILED, exception="AssertionError", message=message, path="tests/x.py")
        failures.append(makers[n % 4]().model_copy(update={"nodeid": nodeid, "original": original}))
    return tuple(failures)


@pytest.mark.parametrize(
    ("count", "everything_shown"),
    [(10, True), (40, False), (50, False), (200, False), (400, False)],
    ids=["10", "40", "50", "200", "400"],
)
def test_large_reports_fit_and_name_what_they_leave_out(count: int, everything_shown: bool) -> None:
    """Every test keeps its row while rows fit (50, the default max_failures, and more); each cut says so."""
    failures = many_failures(count)
    body = render_comment(blocked(*failures), run_url=RUN_URL)
    assert len(body.encode()) <= 65536
    named = [failure.nodeid for failure in failures if f"| `{failure.nodeid}` |" in body]
    detailed = body.count("<details>")
    where = f"to fit GitHub's size limit; the [job summary]({RUN_URL}) and the JSON report"
    if count <= 200:  # 200 rows of long node ids still fit
        assert len(named) == count
        assert 0 < detailed <= count
    else:
        assert 100 < len(named) < count  # rows are kept as long as they fit
        assert detailed == 0
        assert f"_Details are left out, and {count - len(named)} more failing tests are only counted" in body
        assert f"| deterministic | {count // 4} |" in body
    if everything_shown:
        assert "left out" not in body
    elif detailed:
        assert f"_Details of {count - detailed} failing tests are left out {where}" in body
    assert where in body or everything_shown


def test_trimmed_details_go_to_the_failures_that_need_them_most() -> None:
    """When details are cut, intermittent and order-dependent failures keep theirs before deterministic ones."""
    failures = many_failures(60)
    body = render_comment(blocked(*failures))
    shown = re.findall(r"<details><summary><code>.*?</code> · ([a-z-]+)</summary>", body)
    assert 0 < len(shown) < 30  # fewer than the 30 intermittent and order-dependent ones
    assert set(shown) == {"intermittent", "order-dependent"}


def test_latent_failures_come_after_blocking_ones() -> None:
    """Blocking failures keep their details before latent ones, whatever their label."""
    report = blocked(deterministic(), latent=(latent(),))
    detailed_only_first = render_comment(report, limit=len(render_comment(report).encode()) - 1)
    assert "<summary><code>tests/test_math.py::test_add</code>" in detailed_only_first
    assert "<summary><code>tests/test_env.py::test_locale</code>" not in detailed_only_first


def test_heading_and_footer_name_the_check_commit_run_and_version() -> None:
    """The heading names the check and the short commit; the footer the commit, the run and the version."""
    body = render_comment(make_report(commit=SHA), check_name="tests", run_url=RUN_URL)
    assert "\n## flakehound · tests @ 4f2c9e1\n" in body
    assert f"<sub>flakehound 0.1.0 · commit 4f2c9e1 · [workflow run]({RUN_URL}) · seed 1234</sub>" in body
    assert SHA not in body
    summary = render_summary(make_report(commit=SHA))
    assert summary.startswith("## flakehound @ 4f2c9e1\n")
    head = render_summary(make_report(commit=SHA), commit="a" * 40)
    assert head.startswith("## flakehound @ aaaaaaa\n")
    assert "commit aaaaaaa" in head


def test_diff_base_given_as_a_commit_is_shortened() -> None:
    """A changed-lines base that is a full commit id is shown as 7 characters."""
    coverage = CoverageSummary(
        total_percent=100.0, line_percent=100.0, diff=DiffCoverage(base=SHA, percent=100.0, changed_lines=2)
    )
    body = render_comment(make_report(coverage=coverage))
    assert "against `4f2c9e1`" in body
    assert SHA not in body


@pytest.mark.parametrize(
    ("update", "headline"),
    [
        pytest.param(
            {"coverage": COVERAGE.model_copy(update={"threshold": 90.0})},
            "**\N{WHITE HEAVY CHECK MARK} Passed**: 120 tests, coverage 87.50%.",
            id="passed-with-coverage",
        ),
        pytest.param(
            {"summary": Summary(total=120, passed=118, failed=2, pass_rate=98.33)},
            "**\N{WHITE HEAVY CHECK MARK} Passed**: 120 tests, 2 failing tests within the minimum pass rate.",
            id="passed-with-tolerated-failures",
        ),
        pytest.param(
            {
                "coverage": COVERAGE.model_copy(update={"threshold": 90.0}),
                "summary": Summary(total=120, passed=115, failed=4, errors=1, pass_rate=95.83),
                "gate": GateResult(passed=False, reasons=("pass rate low", "coverage 87.50% < 90.00%")),
            },
            "**\N{CROSS MARK} Blocked**: 5 failing tests, coverage 87.50% &lt; 90.00%.\n\n- pass rate low.\n"
            "- coverage 87.50% &lt; 90.00%.\n",
            id="blocked-two-reasons",
        ),
        pytest.param(
            {"gate": GateResult(passed=False, reasons=("1 test fails only in a shuffled order",))},
            "**\N{CROSS MARK} Blocked**: 1 test fails only in a shuffled order.\n\n- 1 test fails",
            id="blocked-latent-only",
        ),
        pytest.param(
            {"gate": GateResult(passed=False)},
            "**\N{CROSS MARK} Blocked**: blocked.\n\n120 tests",
            id="blocked-without-reasons",
        ),
    ],
)
def test_verdict_is_a_headline_and_one_bullet_per_reason(update: dict[str, object], headline: str) -> None:
    """The verdict's headline gives the numbers that decide it; the reasons follow as bullets."""
    assert headline in render_comment(make_report(**update))


def test_cause_names_the_state_setter_and_the_hint() -> None:
    """A brittle failure's cause names the test it needs first, then the top hint's title."""
    failure = brittle().model_copy(update={"hints": (Hint(category="state", title="Missing setup"),)})
    body = render_comment(blocked(failure))
    assert "| brittle | passes only after `tests/test_db.py::test_migrate`: Missing setup |" in body


def test_skipped_experiments_are_said_once_in_the_comment() -> None:
    """A report note (the clock experiment skipped without libfaketime) appears once, not once per failure."""
    note = "the clock experiment was skipped: libfaketime is not installed"
    first = intermittent()
    second = intermittent().model_copy(update={"nodeid": "tests/test_net.py::test_other"})
    body = render_comment(blocked(first, second, notes=(note,)))
    assert body.count(note) == 1
    assert f"### Notes\n\n- {note}\n" in body


def test_a_report_without_notes_has_no_notes_section() -> None:
    """No notes, no empty 'Notes' heading."""
    assert "### Notes" not in render_comment(blocked(deterministic()))


def test_a_run_cancelled_midway_lists_the_failures_it_had_seen() -> None:
    """A report cancelled during the original run names the failures seen, under a heading that says so."""
    seen = TestResult(nodeid="tests/t.py::test_a", outcome=Outcome.FAILED, message="assert 1 == 2")
    report = make_report(
        status="interrupted",
        first_errors=(seen,),
        gate=GateResult(passed=False, reasons=("cancelled during the original run",)),
    )
    body = render_comment(report)
    assert "### Failures seen before it was cancelled\n\n- `tests/t.py::test_a`: assert 1 == 2\n" in body
    assert "### Why the suite could not run" not in body


def test_latent_heading_names_reruns_when_a_watched_test_failed_in_an_experiment() -> None:
    """A latent failure found in an experiment (a watched test) widens the latent section's heading."""
    found = latent().model_copy(update={"found_in": Configuration(purpose=RunPurpose.EXPERIMENT)})
    comment = render_comment(make_report(latent=(found,), summary=Summary(total=10, passed=10, latent=1)))
    assert "### Latent: fail only in shuffled orders, reruns alone or experiments\n" in comment
    assert "### Latent: fail only in shuffled orders\n" in render_comment(
        make_report(latent=(latent(),), summary=Summary(total=10, passed=10, latent=1))
    )
