"""History in the comment and the terminal: new failures and old ones apart, watched tests, what was not read."""

from __future__ import annotations

from rich.console import Console

from flakehound.models import ConfigurationCount, FailureKind, HistorySummary, TestHistory, WatchedTest
from flakehound.render.markdown import render_comment
from flakehound.render.terminal import render_terminal

OLD = TestHistory(
    runs=30,
    failures=3,
    rate=0.1,
    interval=(0.03, 0.26),
    first_failed_commit="abc1234",
    first_failed_at="2026-11-30",
    labels={"intermittent": 3},
)
NEW = TestHistory(runs=30, failures=0, rate=0.0, interval=(0.0, 0.11))
CONCURRENCY = (
    "concurrency (no-effect): fails 0/3 with threads switching every microsecond vs 0/3 at the default switch"
    " interval (p = 1.00): not decided in 6 runs"
)


def with_history(make_report, make_failure, **summary):
    """A report with one old failure, one new one, a watched test and history read from main."""
    old = make_failure("tests/test_a.py::test_old", FailureKind.INTERMITTENT, history=OLD)
    new = make_failure("tests/test_a.py::test_new", history=NEW)
    watched = WatchedTest(
        nodeid="tests/test_b.py::test_w",
        alone=ConfigurationCount(runs=5, failures=0),
        shuffled=ConfigurationCount(runs=3, failures=0),
        experiments=(CONCURRENCY,),
        history=OLD,
    )
    bare = WatchedTest(nodeid="tests/test_b.py::test_v", alone=ConfigurationCount(runs=2, failures=1), history=OLD)
    values = {"source": "on main", "runs": 30, "notes": ("the check run on bbbbbbb is left out: corrupt",), **summary}
    return make_report([old, new]).model_copy(update={"history": HistorySummary(**values), "watched": (watched, bare)})


def terminal(report) -> str:
    """The terminal text, wide enough for one line per sentence."""
    console = Console(width=300, record=True, file=None, force_terminal=False)
    with console.capture() as captured:
        console.print(render_terminal(report), crop=False)
    return captured.get()


def test_the_comment_separates_new_failures_from_old_ones_and_lists_watched_tests(make_report, make_failure):
    """A History section: counts of new and old, the old ones named, the watched tests' table, the notes."""
    comment = render_comment(with_history(make_report, make_failure))
    assert "### History" in comment
    assert (
        "From 30 earlier runs on main: 1 new in this change, 1 already failed there (`tests/test_a.py::test_old`)."
        in comment
    )
    assert (
        "| `tests/test_b.py::test_w` | on main: failed in 3 of the last 30 runs (first seen at abc1234, 2026-11-30),"
        " labelled intermittent each time | passed 5/5 alone here; passed 3/3 in shuffled orders; 1 experiment"
        " (below) |"
    ) in comment
    assert "| `tests/test_b.py::test_v` | on main: failed in 3 of the last 30 runs" in comment
    assert "labelled intermittent each time | failed 1/2 alone here |" in comment
    assert (
        f"`tests/test_b.py::test_w`, which failed on main but never here, under each experiment:\n\n- {CONCURRENCY}\n"
    ) in comment
    assert "- the check run on bbbbbbb is left out: corrupt" in comment


def test_watched_tests_without_notes_end_the_section_with_their_sentence(make_report, make_failure):
    """Every earlier run read cleanly: the watched tests' sentence is the section's last line, no empty list."""
    comment = render_comment(with_history(make_report, make_failure, notes=()))
    section = comment.split("### History", 1)[1].split("\n### ", 1)[0]
    assert section.rstrip().endswith(
        "These passed every run here but failed earlier; each was investigated all the same (reruns alone,"
        " shuffled orders, experiments), and one that fails here is listed as a latent failure instead."
    )
    assert "\n- the check run" not in section


def test_each_failures_details_carry_its_history_line(make_report, make_failure):
    """The old failure says since when it fails on main; the new one says it never did."""
    comment = render_comment(with_history(make_report, make_failure))
    assert (
        "History: on main: failed in 3 of the last 30 runs (first seen at abc1234, 2026-11-30), labelled"
        " intermittent each time." in comment
    )
    assert "History: new: never failed on main in the last 30 runs." in comment


def test_no_run_read_says_so_and_gives_no_lines(make_report, make_failure):
    """History asked for but nothing read (a refusal): one sentence, no per-failure lines."""
    comment = render_comment(with_history(make_report, make_failure, runs=0))
    assert "No earlier run could be read on main." in comment
    assert "History: " not in comment


def test_without_history_the_comment_has_no_history_section(make_report, make_failure):
    """History off: nothing about it."""
    comment = render_comment(make_report([make_failure()]))
    assert "History" not in comment


def test_the_terminal_says_the_same(make_report, make_failure):
    """Each failure's history line, the watched tests with what was run on them (the same counts), and the notes."""
    shown = terminal(with_history(make_report, make_failure))
    assert "  history: new: never failed on main in the last 30 runs" in shown
    assert (
        "tests/test_b.py::test_w passed here (rerun alone: 0/5 failed; in shuffled orders: 0/3 failed); on main:"
        " failed in 3 of the last 30 runs" in shown
    )
    assert f"labelled intermittent each time\n  experiment {CONCURRENCY}\n" in shown
    assert "tests/test_b.py::test_v passed here (rerun alone: 1/2 failed); on main: failed in 3" in shown
    assert "note: the check run on bbbbbbb is left out: corrupt" in shown
