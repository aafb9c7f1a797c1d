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


# -- one key for every value -------------------------------------------------------------------------------------
def encrypted_component(root, plain="old-pass"):
    """components/db-writer/w.toml with '#password' encrypted under the project's key (created now)."""
    folder = root / "components" / "db-writer"
    folder.mkdir(exist_ok=True)
    token = Secrets(root / ".kbc").encrypt(plain)
    (folder / "w.toml").write_text(f'name = "w"\n[parameters]\nurl = "sqlite:///x.db"\n"#password" = "{token}"\n'
                                   '[[parameters.tables]]\nsource = "in.c-x.t"\ntable = "t"\n')
    return folder / "w.toml"


def encrypt_cli(root, **env):
    import os

    return subprocess.run([sys.executable, "-m", "kbc_tui", "encrypt", "--project", str(root)],
                          capture_output=True, text=True, timeout=60, env={**os.environ, **env})


def test_encrypt_with_the_key_missing_refuses_to_make_a_new_one(empty_project):
    encrypted_component(empty_project)
    (empty_project / ".kbc" / "secret.key").unlink()  # lost, e.g. a fresh clone on another machine
    settings = empty_project / "kbc.toml"
    settings.write_text(settings.read_text() + '[smtp]\nhost = "mail"\n"#password" = "new-pass"\n')
    before = settings.read_bytes()
    out = encrypt_cli(empty_project)
    assert out.returncode == 1
    [line] = out.stderr.splitlines()
    assert "components/db-writer/w.toml: parameters.#password" in line
    assert "restore .kbc/secret.key or set KBC_SECRET_KEY" in line
    assert not (empty_project / ".kbc" / "secret.key").exists()  # no second key
    assert settings.read_bytes() == before  # nothing encrypted under a key that would strand the old value


def test_encrypt_refuses_a_key_that_cannot_open_the_values_already_there(empty_project):
    from cryptography.fernet import Fernet

    path = encrypted_component(empty_project)
    before = path.read_bytes()
    other = Fernet.generate_key().decode()
    (empty_project / "components" / "db-writer" / "v.toml").write_text(
        'name = "v"\n[parameters]\nurl = "sqlite:///x.db"\n"#password" = "plain"\n')
    out = encrypt_cli(empty_project, KBC_SECRET_KEY=other)
    assert out.returncode == 1
    assert ("not encrypting with this key (KBC_SECRET_KEY): it cannot open 1 encrypted value "
            "(components/db-writer/w.toml: parameters.#password)") in out.stderr
    assert "plain" in (empty_project / "components" / "db-writer" / "v.toml").read_text()
    assert path.read_bytes() == before


def test_saving_a_password_never_makes_a_second_key(empty_project):
    encrypted_component(empty_project)
    (empty_project / ".kbc" / "secret.key").unlink()
    project = Project.load(empty_project)
    settings = project.settings
    settings.smtp.host, settings.smtp.password = "mail", "typed-in-the-app"
    with pytest.raises(SecretError, match="not creating a new secret key: the key of 1 encrypted value"):
        project.save_settings(settings)
    assert not (empty_project / ".kbc" / "secret.key").exists()
    assert "typed-in-the-app" not in (empty_project / "kbc.toml").read_text()


def test_validate_checks_every_encrypted_value_opens(empty_project):
    from cryptography.fernet import Fernet

    encrypted_component(empty_project)
    out = subprocess.run([sys.executable, "-m", "kbc_tui", "validate", "--project", str(empty_project)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout
    (empty_project / ".kbc" / "secret.key").write_text(Fernet.generate_key().decode())  # the wrong key
    out = subprocess.run([sys.executable, "-m", "kbc_tui", "validate", "--project", str(empty_project)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert out.stdout.splitlines() == [
        "components/db-writer/w.toml:4: parameters.#password: cannot decrypt: it was encrypted with another key "
        f"(KBC_SECRET_KEY or {empty_project / '.kbc' / 'secret.key'})"]
    (empty_project / ".kbc" / "secret.key").unlink()
    out = subprocess.run([sys.executable, "-m", "kbc_tui", "validate", "--project", str(empty_project)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    [line] = out.stdout.splitlines()
    assert line.startswith("components/db-writer/w.toml:4: parameters.#password: no secret key: set KBC_SECRET_KEY")


@pytest.mark.parametrize("url, problem", [
    ("postgresql+psycopg://app:hunter2@db:5432/prod", True),
    ("mysql+pymysql://root:hunter2@127.0.0.1/test", True),
    ("postgresql+psycopg://app@db:5432/prod", False),
    ("postgresql+psycopg://app:@db/prod", False),
    ("sqlite:///data/shop.sqlite", False),
])
def test_a_password_written_in_a_url_is_a_plain_text_secret(empty_project, url, problem):
    folder = empty_project / "components" / "db-extractor"
    folder.mkdir()
    (folder / "pg.toml").write_text(f'name = "pg"\n[parameters]\nurl = "{url}"\n'
                                    '[[parameters.tables]]\nname = "t"\ntable = "t"\noutput = "in.c-x.t"\n')
    messages = [Project.load(empty_project).format_problem(p) for p in Project.load(empty_project).problems]
    expected = ["components/db-extractor/pg.toml:3: parameters.url: plain-text secret: the url holds a password; "
                "move it to \"#password\" and run 'kbc-tui encrypt' (or use \"env:VARIABLE\")"]
    assert messages == (expected if problem else [])


def test_a_password_in_a_url_is_masked_in_logs(tmp_path):
    masker = Masker()
    Secrets(tmp_path / ".kbc").resolve_tree({"url": "postgresql://app:hunter2@db/prod", "base_url": "x"}, masker)
    assert masker("connecting to postgresql://app:hunter2@db/prod") == "connecting to postgresql://app:*****@db/prod"
