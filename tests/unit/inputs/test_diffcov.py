import pytest
from hypothesis import given
from hypothesis import strategies as st

from flakehound.inputs.diffcov import ExecutableLines, format_ranges, measure_diff, parse_diff
from flakehound.models import DiffCoverage, UncoveredFile

MODIFIED = """\
diff --git a/pkg/mod.py b/pkg/mod.py
index 1111111..2222222 100644
--- a/pkg/mod.py
+++ b/pkg/mod.py
@@ -3 +3 @@ def f():
-    return 1
+    return 2
@@ -10,0 +11,3 @@ def g():
+def h():
+    x = 1
+    return x
"""

ADDED_AND_DELETED = """\
diff --git a/new.py b/new.py
new file mode 100644
--- /dev/null
+++ b/new.py
@@ -0,0 +1,2 @@
+a = 1
+b = 2
diff --git a/gone.py b/gone.py
deleted file mode 100644
--- a/gone.py
+++ /dev/null
@@ -1,2 +0,0 @@
-a = 1
-b = 2
"""

ONLY_DELETIONS = """\
diff --git a/m.py b/m.py
--- a/m.py
+++ b/m.py
@@ -4,2 +3,0 @@
-x = 1
-y = 2
"""

RENAMED = """\
diff --git a/old/name.py b/new/name.py
similarity index 90%
rename from old/name.py
rename to new/name.py
--- a/old/name.py
+++ b/new/name.py
@@ -7 +7,2 @@
-z = 0
+z = 1
+w = 2
"""

BINARY = """\
diff --git a/img.png b/img.png
Binary files a/img.png and b/img.png differ
"""

QUOTED = """\
diff --git "a/caf\\303\\251 \\"x\\".py" "b/caf\\303\\251 \\"x\\".py"
--- "a/caf\\303\\251 \\"x\\".py"
+++ "b/caf\\303\\251 \\"x\\".py"
@@ -1 +1 @@
-a = 0
+a = 1
"""

SPACED = """\
--- a/with space.py\t
+++ b/with space.py\t
@@ -0,0 +5 @@
+q = 1
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(MODIFIED, {"pkg/mod.py": (3, 11, 12, 13)}, id="modified-hunks"),
        pytest.param(ADDED_AND_DELETED, {"new.py": (1, 2)}, id="new-file-and-deleted-file"),
        pytest.param(ONLY_DELETIONS, {}, id="deletions-only"),
        pytest.param(RENAMED, {"new/name.py": (7, 8)}, id="renamed-uses-new-path"),
        pytest.param(BINARY, {}, id="binary"),
        pytest.param(QUOTED, {'café "x".py': (1,)}, id="c-quoted-path"),
        pytest.param(SPACED, {"with space.py": (5,)}, id="path-with-space-and-tab"),
        pytest.param("", {}, id="empty"),
        pytest.param("@@ -1 +1 @@\n+stray\n", {}, id="hunk-before-any-file"),
        pytest.param(MODIFIED + ADDED_AND_DELETED, {"new.py": (1, 2), "pkg/mod.py": (3, 11, 12, 13)}, id="many"),
    ],
)
def test_parse_diff(text, expected):
    """Each file maps to the post-change line numbers its hunks add or replace."""
    assert parse_diff(text) == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param([], (), id="none"),
        pytest.param([9], ("9",), id="single"),
        pytest.param([5, 3, 4, 9], ("3-5", "9"), id="unsorted-run-and-single"),
        pytest.param([1, 1, 2], ("1-2",), id="duplicates"),
        pytest.param([2, 4, 6], ("2", "4", "6"), id="gaps"),
    ],
)
def test_format_ranges(lines, expected):
    """Consecutive numbers collapse into first-last ranges, in order."""
    assert format_ranges(lines) == expected


@pytest.mark.parametrize(
    ("lines", "statements", "expected"),
    [
        pytest.param([16, 18], [15, 16, 18], ("16-18",), id="comment-between-statements"),
        pytest.param([16, 20], [16, 18, 20], ("16", "20"), id="covered-statement-between"),
        pytest.param([4, 5], [], ("4-5",), id="lines-not-in-statements"),
    ],
)
def test_format_ranges_over_statements(lines, statements, expected):
    """With statements, ranges run on over non-statement lines but stop at a statement not in the set."""
    assert format_ranges(lines, statements) == expected


@given(st.sets(st.integers(min_value=1, max_value=300)))
def test_format_ranges_round_trips(lines):
    """Expanding the ranges gives back exactly the input lines."""
    expanded = set()
    for part in format_ranges(lines):
        first, _, last = part.partition("-")
        expanded.update(range(int(first), int(last or first) + 1))
    assert expanded == lines


def test_measure_diff_counts_only_changed_statements():
    """Changed non-statements are ignored; changed missing statements are reported as ranges per file."""
    changed = {"a.py": [1, 2, 3, 4, 5, 9], "b.py": [2], "README.md": [1]}
    measured = {
        "a.py": ExecutableLines(statements=frozenset({1, 3, 4, 5, 7, 9}), missing=frozenset({4, 5, 9})),
        "b.py": ExecutableLines(statements=frozenset({1, 2}), missing=frozenset()),
        "c.py": ExecutableLines(statements=frozenset({1}), missing=frozenset({1})),
    }
    assert measure_diff("main", changed, measured) == DiffCoverage(
        base="main",
        percent=50.0,
        changed_lines=6,
        uncovered=(UncoveredFile(path="a.py", ranges=("4-5", "9")),),  # 7 ran, so 5 and 9 stay apart
    )


def test_measure_diff_without_changed_statements_has_no_percent():
    """A change that touches no statement leaves nothing for the gate to compare."""
    measured = {"a.py": ExecutableLines(statements=frozenset({1}), missing=frozenset())}
    assert measure_diff("main", {"a.py": [2]}, measured) == DiffCoverage(base="main", percent=None, changed_lines=0)
