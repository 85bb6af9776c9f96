from pkg.tags import tags_for


def test_tags_are_listed_in_order():
    assert tags_for("report") == ["draft", "urgent"]
