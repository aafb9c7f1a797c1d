"""Secrets (``#`` keys): never in plain text in a file; env references; masking; clear errors."""

import subprocess
import sys

import pytest

from kbc_tui.errors import SecretError
from kbc_tui.model import ComponentConfig
from kbc_tui.store import Project
from kbc_tui.store.secrets import Masker, Secrets


def test_saved_password_is_in_no_file_under_the_project(empty_project):
    project = Project.load(empty_project)
    plain = "s3cr3t-Pa55w0rd!"
    cfg = ComponentConfig("db-extractor", "pg", "Postgres",
                          parameters={"url": "postgresql+psycopg://app@db/prod", "#password": plain,
                                      "tables": [{"name": "t", "table": "t", "output": "in.c-x.t"}]})
    project.save_component(cfg)
    for path in empty_project.rglob("*"):
        if path.is_file():
            assert plain.encode() not in path.read_bytes(), f"plain secret found in {path}"
    loaded = Project.load(empty_project).components["db-extractor/pg"]
    assert loaded.parameters["#password"].startswith("KBC::Encrypted::")
    assert project.secrets.resolve(loaded.parameters["#password"]) == plain
    assert project.secrets.resolve_tree(loaded.parameters)["#password"] == plain


def test_env_reference_and_missing_variable(tmp_path, monkeypatch):
    secrets = Secrets(tmp_path / ".kbc")
    monkeypatch.setenv("PG_PASSWORD", "from-env")
    assert secrets.resolve("env:PG_PASSWORD") == "from-env"
    monkeypatch.delenv("PG_PASSWORD")
    with pytest.raises(SecretError, match="environment variable PG_PASSWORD is not set"):
        secrets.resolve("env:PG_PASSWORD", where="parameters.#password")


def test_missing_or_wrong_key_is_named(tmp_path, monkeypatch):
    token = Secrets(tmp_path / "a").encrypt("x-value")
    with pytest.raises(SecretError, match="no secret key"):
        Secrets(tmp_path / "b").resolve(token)
    Secrets(tmp_path / "b").encrypt("other")  # creates b's own key
    with pytest.raises(SecretError, match="encrypted with another key"):
        Secrets(tmp_path / "b").resolve(token)
    monkeypatch.setenv("KBC_SECRET_KEY", "not a key")
    with pytest.raises(SecretError, match="not a valid Fernet key"):
        Secrets(tmp_path / "c").encrypt("x")


def test_key_from_environment_works_across_folders(tmp_path, monkeypatch):
    from cryptography.fernet import Fernet

    monkeypatch.setenv("KBC_SECRET_KEY", Fernet.generate_key().decode())
    token = Secrets(tmp_path / "one").encrypt("shared")
    assert Secrets(tmp_path / "two").resolve(token) == "shared"
    assert not (tmp_path / "one" / "secret.key").exists()


def test_key_file_is_private(tmp_path):
    secrets = Secrets(tmp_path / ".kbc")
    secrets.encrypt("x")
    assert secrets.key_file.stat().st_mode & 0o077 == 0


def test_plain_text_secret_in_a_file_is_a_problem(empty_project):
    folder = empty_project / "components" / "db-writer"
    folder.mkdir()
    (folder / "w.toml").write_text('name = "w"\n[parameters]\nurl = "sqlite:///x.db"\n"#password" = "hunter2"\n')
    messages = [str(p) for p in Project.load(empty_project).problems]
    assert any("parameters.#password: plain-text secret" in m for m in messages)
    assert not any("hunter2" in m for m in messages)


def test_encrypt_command_encrypts_in_place(empty_project):
    folder = empty_project / "components" / "db-writer"
    folder.mkdir()
    path = folder / "w.toml"
    path.write_text('name = "w"\n[parameters]\nurl = "sqlite:///x.db"\n"#password" = "hunter2"\n')
    out = subprocess.run([sys.executable, "-m", "kbc_tui", "encrypt", "--project", str(empty_project)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "components/db-writer/w.toml: parameters.#password: encrypted" in out.stdout
    assert "hunter2" not in out.stdout and "hunter2" not in path.read_text()
    project = Project.load(empty_project)
    assert project.secrets.resolve(project.components["db-writer/w"].parameters["#password"]) == "hunter2"


def test_masker_hides_values():
    mask = Masker(["hunter2", "ab"])
    assert mask("login with hunter2 failed; ab") == "login with ***** failed; ab"
