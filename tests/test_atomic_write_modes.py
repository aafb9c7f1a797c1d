"""The atomic writer keeps a file's mode, gives a new file 0644 (or the mode asked for), makes missing folders,
and a failed save says so in words and leaves no temporary file (found by ``tools/mutation.py toml``)."""

import os

import pytest

from kbc_tui.errors import FileWriteError
from kbc_tui.store.toml_io import write_bytes_atomic


def mode(path):
    return path.stat().st_mode & 0o7777


def test_a_new_file_is_0644_in_new_folders(tmp_path):
    path = tmp_path / "a" / "b" / "new.toml"
    write_bytes_atomic(path, b'name = "x"\n')
    assert path.read_bytes() == b'name = "x"\n' and mode(path) == 0o644


def test_a_saved_file_keeps_its_mode_or_gets_the_one_asked_for(tmp_path):
    path = tmp_path / "kbc.toml"
    path.write_bytes(b"old\n")
    os.chmod(path, 0o640)
    write_bytes_atomic(path, b"new\n")
    assert path.read_bytes() == b"new\n" and mode(path) == 0o640
    write_bytes_atomic(path, b"newer\n", mode=0o660)
    assert mode(path) == 0o660


def test_a_failed_save_is_said_in_words_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "taken.toml"
    target.mkdir()  # the rename over it fails
    with pytest.raises(FileWriteError, match=r"^cannot save .*taken\.toml: .*; the file is unchanged$"):
        write_bytes_atomic(target, b"x\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.toml"]
