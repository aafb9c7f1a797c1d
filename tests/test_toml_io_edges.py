"""``toml_io`` called directly, on what the store's tests do not reach (found by ``tools/mutation.py toml``): a file
that cannot be read or parsed is said as ``path:line:col: message`` with the right line, the atomic writer's
links and modes, key location in odd layouts, and ``update_toml`` on the layouts users write by hand, each
checked on the exact text saved."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from kbc_tui.errors import ConfigError, Problem
from kbc_tui.store.toml_io import (dumps_toml, edit_toml, locate_key, parse_toml, read_toml, update_toml, with_lines,
                                  write_bytes_atomic, write_toml_atomic)


def problem(path: Path) -> tuple:
    with pytest.raises(ConfigError) as caught:
        read_toml(path)
    [p] = caught.value.problems
    return p.line, p.column, p.message


# -- reading -------------------------------------------------------------------------------------------------------

def test_a_file_that_cannot_be_read_is_said_in_words(tmp_path):
    assert problem(tmp_path / "missing.toml") == (None, None, "cannot read file: No such file or directory")


def test_a_bad_utf8_byte_names_its_line(tmp_path):
    path = tmp_path / "x.toml"
    path.write_bytes(b"a = 1\n\nb = 'caf\xe9'\n")
    assert problem(path) == (3, None, "file is not valid UTF-8 text")
    path.write_bytes(b"\xff = 1\n")
    assert problem(path) == (1, None, "file is not valid UTF-8 text")


def test_invalid_toml_names_line_and_column_and_the_message_has_no_position_left(tmp_path):
    path = tmp_path / "x.toml"
    path.write_bytes(b"a = 1\nb = = 2\n")
    assert problem(path) == (2, 5, "invalid TOML: Invalid value")


def test_pathological_nesting_is_invalid_toml_not_a_crash(tmp_path):
    path = tmp_path / "x.toml"
    path.write_bytes(b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n")
    line, column, message = problem(path)
    assert (line, column) == (None, None) and message.startswith("invalid TOML: ")


def test_a_good_file_reads_as_its_table_and_its_bytes(tmp_path):
    path = tmp_path / "x.toml"
    path.write_bytes(b"\xef\xbb\xbfa = 1\n")
    assert read_toml(path) == ({"a": 1}, b"\xef\xbb\xbfa = 1\n")


# -- the atomic writer -------------------------------------------------------------------------------------------

def test_a_write_with_a_mode_replaces_a_link_and_leaves_its_target_alone(tmp_path):
    """Private files (a mode is asked for) are never written through a link: the link is replaced."""
    target = tmp_path / "elsewhere.json"
    target.write_bytes(b"theirs\n")
    link = tmp_path / "private.json"
    link.symlink_to(target)
    write_bytes_atomic(link, b"mine\n", mode=0o600)
    assert not link.is_symlink() and link.read_bytes() == b"mine\n"
    assert target.read_bytes() == b"theirs\n"
    assert link.stat().st_mode & 0o777 == 0o600


def test_a_dangling_link_is_replaced_by_the_file(tmp_path):
    link = tmp_path / "x.toml"
    link.symlink_to(tmp_path / "gone" / "x.toml")
    write_bytes_atomic(link, b"a = 1\n")
    assert not link.is_symlink() and link.read_bytes() == b"a = 1\n"
    assert not (tmp_path / "gone").exists()


def test_a_linked_file_is_written_where_it_points_and_stays_a_link(tmp_path):
    target = tmp_path / "shared" / "x.toml"
    target.parent.mkdir()
    target.write_bytes(b"a = 1\n")
    os.chmod(target, 0o640)
    link = tmp_path / "x.toml"
    link.symlink_to(target)
    write_bytes_atomic(link, b"a = 2\n")
    assert link.is_symlink() and target.read_bytes() == b"a = 2\n"
    assert target.stat().st_mode & 0o7777 == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["x.toml"]


def test_a_write_leaves_no_file_descriptor_open(tmp_path):
    def open_fds():
        return len(os.listdir("/proc/self/fd"))

    write_bytes_atomic(tmp_path / "warm.toml", b"a = 1\n")
    before = open_fds()
    for i in range(5):
        write_bytes_atomic(tmp_path / "x.toml", f"a = {i}\n".encode())
    assert open_fds() == before


def test_write_toml_atomic_returns_the_bytes_it_wrote(tmp_path):
    path = tmp_path / "x.toml"
    written = write_toml_atomic(path, {"name": "x", "sql": "select 1\nfrom t\n"})
    assert written == path.read_bytes() and parse_toml(written.decode()) == {"name": "x", "sql": "select 1\nfrom t\n"}


# -- key location --------------------------------------------------------------------------------------------------

LAYOUT = '''\
# the orchestration
name = "Sales"
"quoted key" = 1
Xmax = 2
site . "url" = 'x'

[[phases]]  # first
name = "Extract"

[[phases.tasks]]
component = "db-extractor"

[[phases]]
name = "Load"
tasks = [{ component = "a" }, { component = "b" }]

[notifications]
error = [
    "a@example.com",
]
warning = ["b@example.com"]
'''


@pytest.mark.parametrize(("key", "line"), [
    ("name", 2), ("quoted key", 3), ("Xmax", 4), ("site.url", 5),
    ("phases", 7), ("phases[0]", 7), ("phases[0].name", 8), ("phases[0].tasks[0]", 10),
    ("phases[0].tasks[0].component", 11), ("phases[0].tasks[0].config", 10),
    ("phases[1]", 13), ("phases[1].name", 14), ("phases[1].tasks[1].component", 15), ("phases[2]", None),
    ("notifications", 17), ("notifications.error", 18), ("notifications.error[0]", 18),
    ("notifications.success", 17), ("notifications.warning", 21), ("schedule.cron", None), ("", None),
])
def test_a_key_is_located_on_its_line_or_its_table_header(key, line):
    assert locate_key(LAYOUT, key) == line


def test_a_key_deep_in_a_long_file_is_found_under_its_table():
    text = "# notes\n" * 30 + "[t]\ne = [\n  1,\n  2,\n]\nf = 3\n"
    assert locate_key(text, "t.e[1]") == 32 and locate_key(text, "t.f") == 36 and locate_key(text, "t.g") == 31


def test_a_header_naming_nothing_is_no_table():
    text = "a = 1\n[ ]\nb = 2\n"  # (not TOML, but a problem's line is still looked for)
    assert locate_key(text, "b") == 3 and locate_key(text, "a") == 1


STRINGS = '''\
[t]
query = """
SELECT *
FROM
  [dbo].[orders]
WHERE
status = 'x'
"""
table = "orders"
notes = \'\'\'
a """ b
[[phases]]
\'\'\'
c = 1
d = """one line"""
e = 2
# a comment with """ opens nothing
f = "it\'\'\'s"  # nor a one-line string with \'\'\'
g = ""
h = ["#", """
[x]
"""]
i = 3
j = \'\'\'a\'\'\'# a comment right after a string: """
k = 4
'''


@pytest.mark.parametrize(("key", "line"), [("t.table", 9), ("t.status", 1), ("t.query", 2), ("t.notes", 10),
                                           ("t.c", 14), ("t.d", 15), ("t.e", 16), ("phases", None), ("t.f", 18),
                                           ("t.g", 19), ("t.h", 20), ("x", None), ("t.i", 23),
                                           ("t.k", 25)])
def test_lines_inside_a_multi_line_string_are_text_not_keys_or_tables(key, line):
    """A SQL Server name on a line of its own ([dbo].[orders]) once read as a table header: keys after it were
    not found, so their problems pointed at line 1."""
    assert locate_key(STRINGS, key) == line


def test_problems_get_the_line_of_their_key_or_line_1():
    path = Path("x.toml")
    problems = with_lines([Problem(path, "bad", key="phases[1].name"), Problem(path, "missing", key="schedule"),
                           Problem(path, "kept", line=9, key="name"), Problem(path, "no key")], LAYOUT)
    assert [(p.line, p.key, p.message) for p in problems] == [(14, "phases[1].name", "bad"), (1, "schedule", "missing"),
                                                             (9, "name", "kept"), (None, None, "no key")]


# -- update_toml: the file says the new data, and only the changed lines change -----------------------------------

def edit(text: str, new: dict, base: dict | None = None, **options) -> str:
    """``text`` edited to say ``new`` (``base``: what it says now; by default all of it)."""
    return update_toml(text, tomllib.loads(text) if base is None else base, new, **options).decode()


def test_a_table_added_to_a_file_that_ends_in_a_line_break_still_ends_in_one():
    assert edit("a = 1\n", {"a": 1, "t": {"c": 1}}) == "a = 1\n\n[t]\nc = 1\n"


def test_a_dropped_table_goes_with_its_header_unless_empty_tables_are_kept():
    text = "a = 1\n\n[t]  # tee\n# c\nb = 1\n"
    assert edit(text, {"a": 1}) == "a = 1\n\n"
    assert edit(text, {"a": 1}, keep_empty_tables=True) == "a = 1\n\n[t]  # tee\n# c\n"


def test_a_sub_table_dropped_from_an_array_of_tables_entry_goes_with_its_header():
    text = '[[p]]\nname = "a"\n[p.extra]  # x\nk = 1\n\n[[p]]\nname = "b"\n'
    assert edit(text, {"p": [{"name": "a2"}, {"name": "b"}]}) == '[[p]]\nname = "a2"\n\n[[p]]\nname = "b"\n'
    text = '[[p]]  # first\nname = "a"\nn = 1\n[p.extra]  # x\nk = 1\n\n[[p]]\nname = "b"\n'
    new = {"p": [{"name": "a", "n": 2}, {"name": "b"}]}  # the same entry, edited in place
    saved = edit(text, new)
    assert tomllib.loads(saved) == new and saved.startswith('[[p]]  # first\nname = "a"\nn = 2\n')
    assert "[p.extra]" not in saved and "# x" not in saved


def test_a_table_added_to_an_inline_table_is_inline():
    text = 's = { cron = "x" }  # inline\nb = 1\n'
    assert edit(text, {"s": {"cron": "x", "extra": {"a": 1}}, "b": 1}) \
        == 's = { cron = "x", extra = {a = 1} }  # inline\nb = 1\n'


def test_a_table_the_model_left_out_as_empty_is_filled_where_it_is_and_later_keys_follow():
    text = "a = 1\n\n[t]  # tee\n\n[u]\nc = 1\n"
    assert edit(text, {"a": 1, "t": {"b": 2}, "u": {"c": 1}, "z": 3}, base={"a": 1, "u": {"c": 1}}) \
        == "a = 1\nz = 3\n\n[t]  # tee\nb = 2\n\n[u]\nc = 1\n"


def test_explicit_values_the_model_left_out_stay_as_written_when_unchanged():
    text = "x = [ 1,2 ]  # c\ny = 1_000\n"
    assert edit(text, {"x": [1, 2], "y": 1000}, base={}) == text
    assert edit(text + "z = 1\n", {"x": [1, 2], "y": 1000, "z": 2}, base={"z": 1}) == text + "z = 2\n"


def test_an_entry_the_model_dropped_at_the_end_of_an_array_of_tables_goes():
    text = '[[p]]\nname = "a"\n\n[[p]]  # keep me\nname = "b"\nn = 1\n\n[[p]]  # empty\n'
    new = {"p": [{"name": "a"}, {"name": "b", "n": 2}]}
    saved = edit(text, new, base={"p": [{"name": "a"}, {"name": "b", "n": 1}]})
    assert tomllib.loads(saved) == new
    assert saved.startswith('[[p]]\nname = "a"\n\n[[p]]  # keep me\nname = "b"\nn = 2\n') and "# empty" not in saved


def test_a_value_that_changes_kind_is_written_anew():
    assert edit("a = 1\n[t]\nb = 1\n", {"a": 1, "t": 5}) == "a = 1\nt = 5\n"
    assert edit("x = 1  # c\n", {"x": [1, 2]}) == "x = [1, 2]  # c\n"
    assert edit("x = [1, 2]  # c\n", {"x": 3}) == "x = 3  # c\n"


def test_an_edited_inline_table_keeps_its_own_style():
    assert edit('n = {error = ["x"]}  # c\n', {"n": {"error": ["x"], "warning": ["y"]}}) \
        == 'n = {error = ["x"], warning = ["y"]}  # c\n'
    assert edit('n = {error = ["x"], "warn" = 1}\n', {"n": {"error": ["x"]}}) == 'n = {error = ["x"]}\n'
    assert edit('n = { a = 1 }\n', {"n": {}}) == "n = {}\n"


def test_entries_of_an_array_of_inline_tables_are_added_and_edited_like_their_neighbours():
    assert edit("t = [{ a = 1 }, { a = 2 }]\n", {"t": [{"a": 1}, {"a": 2}, {"a": 3}]}) \
        == "t = [{ a = 1 }, { a = 2 }, { a = 3 }]\n"
    assert edit("t = [{a = 1, b = 1}, {a = 2}]\n", {"t": [{"a": 1, "b": 2}, {"a": 2}]}) \
        == "t = [{a = 1, b = 2}, {a = 2}]\n"
    assert edit("t = [1, 2, 3]  # c\n", {"t": [1, 3]}) == "t = [1, 3]  # c\n"
    first = edit("t = [{a = 1}, {a = 2}]\n", {"t": [{"a": 3}, {"a": 1}, {"a": 2}]})
    assert tomllib.loads(first) == {"t": [{"a": 3}, {"a": 1}, {"a": 2}]} and "{a = 3}" in first


def test_values_added_inside_an_inline_table_are_inline_all_the_way_down():
    assert edit("n = {a = 1}  # c\n", {"n": {"a": 1, "b": {"c": {"d": 1}}}}) == "n = {a = 1, b = {c = {d = 1}}}  # c\n"
    assert edit("n = {a = 1}  # c\n", {"n": {"a": 1, "t": [{"x": 1}, [{"y": 2}]]}}) \
        == "n = {a = 1, t = [{x = 1}, [{y = 2}]]}  # c\n"


def test_an_array_mixing_values_and_tables_is_edited():
    assert edit("t = [1, {a = 1}]  # c\n", {"t": [{"a": 2}, 2]}) == "t = [{a = 2}, 2]  # c\n"


def test_an_entry_with_nothing_in_common_replaces_the_old_one_and_its_comment():
    assert edit('[[p]]  # old\nc = "a"\ntags = ["x"]\n', {"p": [{"c": "b", "tags": ["y"]}]}) \
        == '[[p]]\nc = "b"\ntags = ["y"]\n'


def test_an_entry_alike_in_its_scalars_or_its_list_is_edited_in_place_and_keeps_its_comment():
    assert edit('[[p]]  # keep\nname = "a"\ntags = ["x"]\nn = 1\n', {"p": [{"name": "a", "n": 2}]}) \
        == '[[p]]  # keep\nname = "a"\nn = 2\n'
    assert edit('[[p]]  # keep\nname = "a"\nto = ["x", "y"]\n', {"p": [{"name": "b", "to": ["x", "y", "z"]}]}) \
        == '[[p]]  # keep\nname = "b"\nto = ["x", "y", "z"]\n'


def test_the_most_alike_old_entry_is_the_one_edited_a_shared_list_item_counting_as_an_equal_key():
    two_shared = '[[p]]  # A\nname = "n"\nto = ["p"]\n\n[[p]]  # B\nname = "m"\nto = ["x", "y"]\n'
    assert edit(two_shared, {"p": [{"name": "n", "to": ["x", "y", "z"]}]}) \
        == '[[p]]  # B\nname = "n"\nto = ["x", "y", "z"]\n'
    one_each = '[[p]]  # A\nname = "n"\nto = ["p"]\n\n[[p]]  # B\nname = "m"\nto = ["x"]\n'  # a tie: the nearer
    assert edit(one_each, {"p": [{"name": "n", "to": ["x", "z"]}]}) \
        .startswith('[[p]]  # A\nname = "n"\nto = ["x", "z"]\n')


def test_entries_whose_sub_entries_are_alike_are_alike():
    text = '[[p]]  # keep\nname = "A"\n\n[[p.t]]\nc = "x"\nn = 1\n'
    assert edit(text, {"p": [{"name": "B", "t": [{"c": "x", "n": 2}]}]}) \
        == '[[p]]  # keep\nname = "B"\n\n[[p.t]]\nc = "x"\nn = 2\n'


def test_an_entry_in_its_place_stays_there_even_when_an_earlier_one_becomes_its_copy():
    assert edit('[[p]]\nname = "x"\n\n[[p]]  # y\nname = "y"\n', {"p": [{"name": "y"}, {"name": "y"}]}) \
        == '[[p]]\nname = "y"\n\n[[p]]  # y\nname = "y"\n'


def test_moved_values_of_a_multi_line_array_take_their_comments_along():
    text = 'to = [\n    "a",  # first\n    "b",  # second\n    "c",\n]\n'
    assert edit(text, {"to": ["b", "a", "c"]}) == 'to = [\n    "b",  # second\n    "a",  # first\n    "c",\n]\n'
    assert edit(text, {"to": ["c", "a", "b"]}) == 'to = [\n    "c",\n    "a",  # first\n    "b",  # second\n]\n'


def test_of_two_equally_alike_old_entries_the_nearer_one_is_edited():
    text = '[[p]]  # A\nname = "n"\nto = ["p"]\n\n[[p]]  # K\nname = "k"\n\n[[p]]  # B\nname = "m"\nto = ["x"]\n'
    assert edit(text, {"p": [{"name": "z"}, {"name": "k"}, {"name": "n", "to": ["x", "z"]}]}) \
        == '[[p]]\nname = "z"\n\n[[p]]  # K\nname = "k"\n\n[[p]]  # B\nname = "n"\nto = ["x", "z"]\n'


# -- edit_toml: an edit that would not read back as the data is never saved ---------------------------------------

def test_a_file_of_mixed_line_endings_keeps_each_line_as_it_was():
    assert edit_toml(b"a = 1\r\nb = 2\n", {"a": 5, "b": 2, "t": {"c": 1}}, lambda p: p) \
        == b"a = 5\r\nb = 2\n\n[t]\nc = 1\n"
    assert edit_toml(b"a = 1\nb = 2\n", {"a": 5, "b": 2}, lambda p: p) == b"a = 5\nb = 2\n"


@pytest.mark.parametrize(("current", "data", "meaning"), [
    (b"x = 1.0  # c\n", {"x": 1.5}, lambda p: {"x": 0.5}),  # another number
    (b"[t]  # c\na = 1\n", {"t": {"a": 2}}, lambda p: {"t": {**p["t"], "z": 1}}),  # another key
    (b"x = [1]  # c\n", {"x": [2]}, lambda p: {"x": p["x"] + [3]}),  # a longer list
    (b"x = [1]  # c\n", {"x": [2]}, lambda p: {"x": [p["x"][0] * 10]}),  # another item
])
def test_an_edit_the_meaning_reads_otherwise_is_written_canonically(current, data, meaning):
    assert edit_toml(current, data, meaning) == dumps_toml(data)


def test_an_emptied_table_that_must_go_goes_in_place():
    assert edit_toml(b"a = 1  # one\n\n[t]\n# keep me\nb = 1\n", {"a": 1}, lambda p: p) == b"a = 1  # one\n\n"


@pytest.mark.parametrize("reads_otherwise", [lambda b: {"v": b}, lambda b: [b]])
def test_a_crlf_file_gets_lf_lines_where_crlf_lines_would_read_otherwise(reads_otherwise):
    def meaning(parsed):  # (rtoml keeps a CRLF inside a multi-line string: here that changes what b means)
        return {**parsed, "b": reads_otherwise(parsed["b"])} if "\r" in parsed.get("s", "") else parsed

    assert edit_toml(b"b = 1\r\n", {"b": 2, "s": "x\ny\n"}, meaning) == b'b = 2\r\ns = """x\ny\n"""\n'


def test_a_value_added_next_to_an_inline_table_is_written_as_a_value():
    assert edit("t = [{ a = 1 }]\n", {"t": [{"a": 1}, 5]}) == "t = [{ a = 1 }, 5]\n"


def test_the_first_entry_moved_to_the_end_keeps_its_comment():
    text = '[[p]]  # A\nname = "a"\n\n[[p]]\nname = "b"\n\n[[p]]\nname = "c"\n'
    new = {"p": [{"name": "b"}, {"name": "c"}, {"name": "a"}]}
    saved = edit(text, new)
    assert tomllib.loads(saved) == new and '[[p]]  # A\nname = "a"\n' in saved


@pytest.mark.parametrize("sub", [{}, {"s": {"k": 1}}])
def test_a_new_entry_with_sub_tables_gets_the_blank_line_after_its_last_one(sub):
    text = '[[p]]\nname = "a"\n\n[[p.t]]\nc = "x"\n\n[[p]]\nname = "z"\n'
    new = {"p": [{"name": "a", "t": [{"c": "x"}]}, {"name": "b", "t": [{"c": "y"}], **sub}, {"name": "z"}]}
    added = '[[p]]\nname = "b"\n\n[[p.t]]\nc = "y"\n\n' + ("[p.s]\nk = 1\n\n" if sub else "")
    assert edit(text, new) == text.replace('[[p]]\nname = "z"', added + '[[p]]\nname = "z"')


def test_entries_the_model_reads_without_their_explicit_defaults_still_line_up():
    text = '[[p]]\nname = "a"\nactive = true  # explicit\n\n[[p]]\nname = "b"\n\n[[p]]  # empty\n'
    saved = edit(text, {"p": [{"name": "a"}, {"name": "b2"}]}, base={"p": [{"name": "a"}, {"name": "b"}]})
    assert saved.startswith('[[p]]\nname = "a"\nactive = true  # explicit\n\n[[p]]\nname = "b2"\n')
    assert "# empty" not in saved


def test_a_shorthand_value_the_model_reads_as_a_table_is_replaced_in_place():
    def meaning(parsed):  # "x" is short for { c = "x" }
        return {"t": [x if isinstance(x, dict) else {"c": x} for x in parsed["t"]]}

    data = {"t": [{"c": "x", "n": 2}, {"c": "y", "n": 1}]}
    saved = edit_toml(b't = ["x", { c = "y", n = 1 }]  # c\n', data, meaning).decode()
    assert meaning(tomllib.loads(saved)) == data and saved.endswith("]  # c\n")
