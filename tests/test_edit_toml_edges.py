"""``edit_toml`` contracts, called directly: a new or unreadable file is written canonically, a byte order mark and
a missing final line break stay, a NaN does not force a canonical rewrite, an emptied table keeps its comment only
where the meaning allows, and the saved bytes always read back as the data."""

from __future__ import annotations

import math

from kbc_tui.store.toml_io import BOM, dumps_toml, edit_toml, parse_toml


def same_dict(parsed: dict) -> dict:
    return parsed


def test_no_file_or_no_meaning_or_an_unreadable_file_is_written_canonically():
    data = {"name": "x", "tags": ["a"]}
    assert edit_toml(None, data, same_dict) == dumps_toml(data)
    assert edit_toml(b"name = 'y'  # c\n", data, None) == dumps_toml(data)
    assert edit_toml(b"name = \xff\n", data, same_dict) == dumps_toml(data)
    assert edit_toml(b"name = = 1\n", data, same_dict) == dumps_toml(data)


def test_a_byte_order_mark_and_comments_stay():
    current = (BOM + "# top\nname = 'a'  # why\n").encode()
    assert edit_toml(current, {"name": "b"}, same_dict) == (BOM + "# top\nname = 'b'  # why\n").encode()
    assert edit_toml(b"# top\nname = \"a\"\n", {"name": "b"}, same_dict) == b'# top\nname = "b"\n'


def test_the_quotes_the_user_chose_stay_where_the_new_value_fits_them():
    """A 'literal' string stays literal (tomlkit >= 0.15); a value it cannot hold falls back to "basic"."""
    assert edit_toml(b"name = 'a'\n", {"name": "C:\\data\\x"}, same_dict) == b"name = 'C:\\data\\x'\n"
    assert edit_toml(b"name = 'a'\n", {"name": "it's"}, same_dict) == b'name = "it\'s"\n'
    assert edit_toml(b'name = "a"\n', {"name": "b"}, same_dict) == b'name = "b"\n'


def test_a_file_without_a_final_line_break_gets_a_new_table_on_its_own_line():
    saved = edit_toml(b"a = 1  # one", {"a": 1, "t": {"b": 2}}, same_dict).decode()
    assert parse_toml(saved) == {"a": 1, "t": {"b": 2}}
    assert saved.startswith("a = 1  # one\n") and not saved.endswith("\n")
    crlf = edit_toml(b"a = 1  # one\r\nc = 3", {"a": 1, "c": 3, "t": {"b": 2}}, same_dict).decode()
    assert parse_toml(crlf) == {"a": 1, "c": 3, "t": {"b": 2}}
    assert crlf.count("\n") == crlf.count("\r\n")  # (it gains a final CRLF: harmless)


def test_a_nan_is_the_same_value_so_the_file_is_still_edited_in_place():
    saved = edit_toml(b"x = nan  # not a number\ny = 1  # one\n", {"x": math.nan, "y": 2}, same_dict)
    assert saved == b"x = nan  # not a number\ny = 2  # one\n"
    nested = edit_toml(b"[t]  # t\nx = [nan]\ny = 1\n", {"t": {"x": [math.nan], "y": 2}}, same_dict)
    assert nested == b"[t]  # t\nx = [nan]\ny = 2\n"


def test_a_change_the_in_place_edit_gets_wrong_falls_back_to_a_canonical_file_that_says_the_data():
    def drops_b(parsed: dict) -> dict:  # a meaning that cannot tell b = 1 from no b
        return {k: v for k, v in parsed.items() if k != "b"}

    data = {"a": 2}
    saved = edit_toml(b"a = 1  # c\nb = 1\n", data, drops_b)
    assert drops_b(parse_toml(saved.decode())) == data


def test_an_emptied_table_keeps_its_comment_only_where_empty_means_none():
    current = b"a = 1\n\n[t]\n# keep me\nb = 1\n"
    kept = edit_toml(current, {"a": 1}, lambda p: {k: v for k, v in p.items() if v != {}}).decode()
    assert "# keep me" in kept and "b = 1" not in kept and parse_toml(kept) == {"a": 1, "t": {}}
    gone = edit_toml(current, {"a": 1}, same_dict).decode()  # here an empty [t] would mean something
    assert parse_toml(gone) == {"a": 1}
