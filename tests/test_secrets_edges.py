"""Secrets behaviour the other secret tests left open (found by ``tools/mutation.py secrets``): what counts as a
plain-text secret, every resolve error in words, the one-key check's messages, and encrypting nested values."""

import pytest
from cryptography.fernet import Fernet

from kbc_tui.errors import SecretError
from kbc_tui.store.secrets import Secrets, plain_text_secrets, url_password


@pytest.fixture
def secrets(tmp_path, monkeypatch):
    monkeypatch.delenv("KBC_SECRET_KEY", raising=False)
    return Secrets(tmp_path / ".kbc")


# -- what is a plain-text secret -------------------------------------------------------------------------------
def test_empty_env_and_encrypted_values_are_not_plain_text(secrets):
    data = {"#password": "", "#token": "env:API_TOKEN", "#key": secrets.encrypt("x-key"), "#plain": "hunter2"}
    assert [key for key, _ in plain_text_secrets(data)] == ["#plain"]


def test_a_password_in_any_url_key_is_found_and_nothing_else_trips_the_check():
    data = {"url": 5, "server_url": "https://app:hunter2@tableau.example.com", "db_url": "postgresql://app@db/x",
            "broken_url": "http://app:pw@[::1/x", "name": "app:pw@host"}
    assert [key for key, _ in plain_text_secrets(data)] == ["server_url"]


@pytest.mark.parametrize("value", ["sqlite:///x.db", "postgresql://app@db/x", "http://app:pw@[::1/x", 5])
def test_no_password_in_a_url_is_the_empty_string(value):
    assert url_password(value) == "" and isinstance(url_password(value), str)


# -- resolving, and its errors in words ------------------------------------------------------------------------
def test_values_that_need_no_key_resolve_as_they_are(secrets, monkeypatch):
    monkeypatch.setenv("API_TOKEN", "tok")
    assert secrets.resolve("") == "" and isinstance(secrets.resolve(""), str)
    assert secrets.resolve("env:API_TOKEN") == "tok"
    assert not secrets.key_file.exists()


@pytest.mark.parametrize("value, where, message", [
    (5, "parameters.#password", "parameters.#password: expected a string"),
    (5, None, "secret: expected a string"),
    ("env:MY-VAR", "parameters.#token", "parameters.#token: 'env:MY-VAR' is not a valid environment variable reference"),
    ("env:", "parameters.#token", "parameters.#token: 'env:' is not a valid environment variable reference"),
    ("hunter2", "smtp.#password", "smtp.#password: plain-text secret; run 'kbc-tui encrypt' to encrypt it"),
])
def test_resolve_errors_name_the_key_and_the_problem(secrets, value, where, message):
    with pytest.raises(SecretError) as caught:
        secrets.resolve(value) if where is None else secrets.resolve(value, where=where)
    assert str(caught.value) == message


def test_resolve_tree_keeps_everything_else_and_names_nested_keys(secrets, monkeypatch):
    monkeypatch.setenv("PG_PASSWORD", "pw")
    data = {"name": "x", "port": 5432, "flag": True, "url": "postgresql://app@db/x",
            "tables": [{"#password": "env:PG_PASSWORD", "table": "t"}, "plain item"], "db": {"#password": ""}}
    assert secrets.resolve_tree(data) == {**data, "tables": [{"#password": "pw", "table": "t"}, "plain item"]}
    with pytest.raises(SecretError, match=r"^#password: environment variable NOPE_X is not set$"):
        secrets.resolve_tree({"#password": "env:NOPE_X"})
    with pytest.raises(SecretError, match=r"^db\.#password: environment variable NOPE_X is not set$"):
        secrets.resolve_tree({"db": {"#password": "env:NOPE_X"}})
    with pytest.raises(SecretError, match=r"^parameters\.tables\[1\]\.#password: environment variable NOPE_X"):
        secrets.resolve_tree({"tables": [{}, {"#password": "env:NOPE_X"}]}, where="parameters")


# -- encrypting ------------------------------------------------------------------------------------------------
def test_encrypt_leaves_safe_values_as_they_are(secrets):
    token = secrets.encrypt("x-value")
    for value in ("", "env:PG_PASSWORD", token):
        assert secrets.encrypt(value) == value


def test_encrypt_tree_encrypts_every_plain_value_and_counts_them(secrets):
    data = {"#a": "p1", "db": {"#b": "p2", "host": "h"}, "tables": [{"#c": "p3"}, 5, ["x"]], "#d": "", "#e": "env:E",
            "#f": 7, "name": "n"}
    out, count = secrets.encrypt_tree(data)
    assert count == 3
    assert [secrets.resolve(v) for v in (out["#a"], out["db"]["#b"], out["tables"][0]["#c"])] == ["p1", "p2", "p3"]
    assert out["db"]["host"] == "h" and out["tables"][1:] == [5, ["x"]]
    assert {k: out[k] for k in ("#d", "#e", "#f", "name")} == {"#d": "", "#e": "env:E", "#f": 7, "name": "n"}
    assert secrets.encrypt_tree("plain") == ("plain", 0)


# -- one key for every value: the messages -----------------------------------------------------------------------
def _stranded(root, count):
    """``count`` component files each holding a value encrypted under a key that is then replaced."""
    old = Secrets(root / ".kbc")
    (root / "components" / "db-writer").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (root / "components" / "db-writer" / f"w{i}.toml").write_text(
            f'name = "w{i}"\n[parameters]\n"#password" = "{old.encrypt(f"pw{i}")}"\n')
    return old


def test_a_wrong_key_file_is_named_as_the_key_that_cannot_open_the_values(empty_project, monkeypatch):
    monkeypatch.delenv("KBC_SECRET_KEY", raising=False)
    _stranded(empty_project, 1)
    (empty_project / ".kbc" / "secret.key").write_text(Fernet.generate_key().decode())
    with pytest.raises(SecretError) as caught:
        Secrets(empty_project / ".kbc").encrypt("new")
    assert str(caught.value).startswith("not encrypting with this key (.kbc/secret.key): it cannot open 1 encrypted "
                                        "value (components/db-writer/w0.toml: parameters.#password); restore .kbc/secret.key")


@pytest.mark.parametrize("count, listed", [
    (2, "2 encrypted values (components/db-writer/w0.toml: parameters.#password, "
        "components/db-writer/w1.toml: parameters.#password)"),
    (3, "3 encrypted values (components/db-writer/w0.toml: parameters.#password, "
        "components/db-writer/w1.toml: parameters.#password, …)"),
])
def test_several_stranded_values_are_counted(empty_project, monkeypatch, count, listed):
    monkeypatch.delenv("KBC_SECRET_KEY", raising=False)
    _stranded(empty_project, count)
    (empty_project / ".kbc" / "secret.key").unlink()
    with pytest.raises(SecretError) as caught:
        Secrets(empty_project / ".kbc").encrypt("new")
    assert f"the key of {listed} is missing; restore" in str(caught.value)


def test_an_invalid_key_is_said_as_such_even_with_values_it_cannot_open(empty_project, monkeypatch):
    _stranded(empty_project, 1)
    monkeypatch.setenv("KBC_SECRET_KEY", "not a key")
    with pytest.raises(SecretError, match="is not a valid Fernet key"):
        Secrets(empty_project / ".kbc").encrypt("new")


def test_the_one_key_check_reads_past_a_missing_settings_file(empty_project, monkeypatch):
    monkeypatch.delenv("KBC_SECRET_KEY", raising=False)
    _stranded(empty_project, 1)
    (empty_project / "kbc.toml").unlink()  # missing or broken: skipped, the components are still checked
    (empty_project / ".kbc" / "secret.key").write_text(Fernet.generate_key().decode())
    with pytest.raises(SecretError, match="it cannot open 1 encrypted value"):
        Secrets(empty_project / ".kbc").encrypt("new")
