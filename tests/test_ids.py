"""Ids proposed from names: transliterated, not mangled (issue 12)."""

import pytest

from kbc_tui.model.component import check_id
from kbc_tui.model.ids import slug, unique_id


@pytest.mark.parametrize("name, expected", [
    ("Přehled tržeb", "prehled-trzeb"),
    ("売上", "maishang"),
    ("Продажи за месяц", "prodazhi-za-mesyats"),
    ("Ärger über Größe", "arger-uber-grosse"),
    ("Nightly sales", "nightly-sales"),
    ("  --Sales (copy)--  ", "sales-copy"),
    ("!!!", "orchestration"),
    ("", "orchestration"),
])
def test_slug_transliterates(name, expected):
    assert slug(name) == expected


def test_slug_is_always_a_valid_id():
    for name in ("x" * 200, "a" + "-" * 70 + "b", "Ⅻ", "😀😀", "日本語のテキスト" * 20, "_lead"):
        assert check_id(slug(name)) is None, (name, slug(name))


def test_unique_id_counts_up_and_stays_short():
    assert unique_id("sales", {"other"}) == "sales"
    assert unique_id("sales", {"sales", "sales-2"}) == "sales-3"
    long = "a" * 64
    assert unique_id(long, {long}) == "a" * 62 + "-2"
    assert unique_id("x", lambda i: i in ("x", "x-2")) == "x-3"
