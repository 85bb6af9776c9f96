"""The signature catalog: the built-in file validates, and broken user files are named in one line."""

from __future__ import annotations

import pytest

from flakehound.engine.signatures import CATEGORIES, Catalog, Signature, load_catalog, parse_catalog
from flakehound.errors import ConfigError

GOOD = """
[[signature]]
id = "mine"
category = "database"
title = "our test database is shared"
advice = "use the per-test schema"
message = 'tenant .* missing'
"""


def test_builtin_catalog_is_valid_and_covers_every_category():
    """The shipped signatures.toml loads, has unique ids, and names every category of the vocabulary but code-bug."""
    catalog = load_catalog()
    categories = {signature.category for signature in catalog.signatures}
    assert len(catalog.signatures) >= 40
    assert categories == set(CATEGORIES)
    assert len({signature.id for signature in catalog.signatures}) == len(catalog.signatures)


@pytest.mark.parametrize(
    "kind",
    [
        "event-loop-closed",
        "different-event-loop",
        "coroutine-never-awaited",
        "task-destroyed-pending",
        "timeout-exception",
        "connection-refused",
        "dns-failure",
        "ssl-error",
        "database-locked",
        "unique-constraint",
        "already-exists",
        "unexpected-rows",
        "file-exists",
        "temp-file-missing",
        "resource-warning",
        "too-many-open-files",
        "same-items-other-order",
        "datetime-differs",
        "floats-a-few-ulps-apart",
        "literal-timeout",
    ],
)
def test_builtin_catalog_has_the_promised_signatures(kind):
    """Each kind of failure the issue lists has a built-in signature."""
    assert kind in {signature.id for signature in load_catalog().signatures}


def test_user_signatures_come_first_and_replace_builtin_ids(tmp_path):
    """A --hints-file's signatures are tried before the built-in ones; one with a built-in id replaces it."""
    first = tmp_path / "first.toml"
    first.write_text(GOOD, encoding="utf-8")
    second = tmp_path / "second.toml"
    second.write_text(
        GOOD.replace('"mine"', '"database-locked"').replace("our test database is shared", "ours is locked"),
        encoding="utf-8",
    )
    catalog = load_catalog([first, second])
    ids = [signature.id for signature in catalog.signatures]
    assert ids[:2] == ["mine", "database-locked"]
    assert ids.count("database-locked") == 1
    assert catalog.signatures[1].title == "ours is locked"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[[signature]\n", "it is not TOML"),
        (GOOD.replace('"database"', '"databases"'), "signature 1 (id 'mine'): category: Input should be"),
        (GOOD.replace("'tenant .* missing'", "'tenant ('"), "signature 1 (id 'mine'): message: 'tenant (' is not a"),
        (GOOD.replace("message = 'tenant .* missing'", ""), "needs at least one of exceptions, message"),
        (GOOD + GOOD, "the file: the id 'mine' is used twice"),
        (GOOD + "colour = 'red'\n", "signature 1 (id 'mine'): colour: Extra inputs are not permitted"),
        (GOOD.replace('id = "mine"', 'id = "Mine!"'), "signature 1 (id 'Mine!'): id: String should match"),
        ('signature = "x"\n', "the file: signature: Input should be a valid tuple"),
        ("[[signature]]\nid = 3\n", "signature 1: id: Input should be a valid string"),
        ("other = 1\n", "the file: other: Extra inputs are not permitted"),
    ],
    ids=[
        "not-toml",
        "unknown-category",
        "bad-regex",
        "no-condition",
        "duplicate-id",
        "unknown-field",
        "bad-id",
        "signature-not-a-table",
        "id-not-a-string",
        "unknown-top-level-key",
    ],
)
def test_broken_catalog_text_is_one_line_naming_the_problem(text, reason):
    """parse_catalog turns a broken file into one ValueError line naming the signature and the field."""
    with pytest.raises(ValueError, match=r".") as raised:
        parse_catalog(text)
    message = str(raised.value)
    assert reason in message
    assert "\n" not in message


def test_broken_hints_file_is_a_config_error_naming_it(tmp_path):
    """A broken --hints-file is a ConfigError with the path, the reason and where to see the format."""
    path = tmp_path / "mine.toml"
    path.write_text(GOOD.replace('"database"', '"db"'), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_catalog([path])
    message = str(raised.value)
    assert message.startswith(
        f"--hints-file {str(path)!r} is not a signature catalog: signature 1 (id 'mine'): category"
    )
    assert message.endswith("see flakehound's own signatures.toml for the format")


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "No such file or directory"), (b"\xff\xfe\x00bad", "it is not UTF-8 text")],
    ids=["missing", "not-utf8"],
)
def test_unreadable_hints_file_is_a_config_error(tmp_path, content, reason):
    """A --hints-file that cannot be read as text is a ConfigError saying why."""
    path = tmp_path / "hints.toml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=rf"^--hints-file '.*hints.toml' cannot be read \({reason}\)"):
        load_catalog([path])


def test_catalog_is_built_from_signatures_by_field_name():
    """Code builds a Catalog with ``signatures=``; TOML spells the tables ``[[signature]]``."""
    signature = Signature(id="x", category="clock", title="t", advice="a", exceptions=("ValueError",), message=None)
    assert Catalog(signatures=(signature,)).signatures == (signature,)
