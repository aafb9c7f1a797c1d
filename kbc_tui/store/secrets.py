"""Secrets: values under keys starting with ``#`` (Keboola's convention).

A secret value in a file is one of:
- ``""``: not set;
- ``"env:NAME"``: read from the environment variable NAME at run time;
- ``"KBC::Encrypted::<token>"``: encrypted with Fernet (AES-128-CBC + HMAC, from
  ``cryptography``) under a key that lives outside the configs: ``KBC_SECRET_KEY`` or
  ``<project>/.kbc/secret.key`` (git-ignored, mode 0600).

Anything else under a ``#`` key is a plain-text secret: ``validate`` reports it and
``kbc-tui encrypt`` encrypts it in place; so is a password written in a ``url``. Resolved values are
registered with a ``Masker`` so that logs and messages never print them.

Every encrypted value of a project opens with one key: a new value is never encrypted (and no key is
created) while the project holds values the present key cannot open; that would leave some values
unreadable whichever key is kept.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import unquote, urlsplit

from kbc_tui.errors import KbcError, SecretError

PREFIX = "KBC::Encrypted::"
ENV_PREFIX = "env:"
KEY_ENV = "KBC_SECRET_KEY"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_secret_key(key: str) -> bool:
    return isinstance(key, str) and key.startswith("#")


def is_safe_value(value: Any) -> bool:
    """True when a ``#`` value may stand in a file: empty, an env reference or encrypted."""
    return isinstance(value, str) and (value == "" or value.startswith(PREFIX)
                                       or value.startswith(ENV_PREFIX))


def is_url_key(key: str) -> bool:
    return isinstance(key, str) and (key == "url" or key.endswith("_url"))


def url_password(value: Any) -> str:
    """The password written in a URL (``scheme://user:password@host``), or ``""``."""
    if not isinstance(value, str) or "@" not in value:
        return ""
    try:
        return urlsplit(value).password or ""
    except ValueError:  # not a URL at all: the component's own check says so
        return ""


def url_password_problem(value: Any) -> str | None:
    if not url_password(value):
        return None
    return ("plain-text secret: the url holds a password; move it to \"#password\" and run 'kbc-tui encrypt' "
            "(or use \"env:VARIABLE\")")


def _walk(data: Any, matches: Callable[[str], bool], prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else key
            if matches(key):
                yield path, value
            else:
                yield from _walk(value, matches, path)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _walk(item, matches, f"{prefix}[{i}]")


def walk_secrets(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(key_path, value)`` for every ``#`` key in nested tables and arrays."""
    return _walk(data, is_secret_key, prefix)


def plain_text_secrets(data: Any) -> Iterator[tuple[str, str]]:
    """``(key_path, message)`` for every secret written in plain text: a ``#`` value, a password in a url."""
    for key, value in walk_secrets(data):
        if not is_safe_value(value):
            yield key, "plain-text secret: use \"env:VARIABLE\" or run 'kbc-tui encrypt'"
    for key, value in _walk(data, is_url_key):
        message = url_password_problem(value)
        if message:
            yield key, message


def secret_files(root: Path) -> list[Path]:
    """The project files that hold secrets: ``kbc.toml`` and every component configuration."""
    from kbc_tui.store.project import SETTINGS_FILE

    return [root / SETTINGS_FILE, *sorted((root / "components").glob("*/*.toml"))]


class Secrets:
    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self._fernet = None
        self._one_key_checked = False

    @property
    def key_file(self) -> Path:
        return self.state_dir / "secret.key"

    def has_key(self) -> bool:
        return bool(os.environ.get(KEY_ENV, "").strip()) or self.key_file.exists()

    def unreadable(self, data: Any) -> Iterator[tuple[str, str]]:
        """``(key_path, why)`` for every encrypted ``#`` value in ``data`` the present key cannot open."""
        for key, value in walk_secrets(data):
            if isinstance(value, str) and value.startswith(PREFIX):
                try:
                    self.resolve(value, where="")
                except SecretError as exc:
                    yield key, str(exc)

    def _check_one_key(self) -> None:
        """Refuse (``SecretError``) to encrypt while the project holds values the present key cannot open."""
        from kbc_tui.store.toml_io import read_toml

        if self._one_key_checked:
            return
        if self.has_key():
            self._cipher(create=False)  # an invalid key is said as such
        root = self.state_dir.parent
        stranded = []
        for path in secret_files(root):
            try:
                data, _ = read_toml(path)
            except KbcError:  # missing or broken: validate reports it; encrypt skips it
                continue
            stranded += [f"{path.relative_to(root)}: {key}" for key, _ in self.unreadable(data)]
        if stranded:
            values = (f"{len(stranded)} encrypted value" + "s" * (len(stranded) > 1)
                      + f" ({', '.join(stranded[:2])}{', …' if len(stranded) > 2 else ''})")
            key_file = self.key_file.relative_to(root) if self.key_file.is_relative_to(root) else self.key_file
            recover = (f"restore {key_file} or set {KEY_ENV} to the key they were encrypted with, or, to start over, "
                       "replace them with plain text or \"env:NAME\" first")
            if not self.has_key():
                raise SecretError(f"not creating a new secret key: the key of {values} is missing; {recover}")
            source = KEY_ENV if os.environ.get(KEY_ENV, "").strip() else key_file
            raise SecretError(f"not encrypting with this key ({source}): it cannot open {values}; {recover}")
        self._one_key_checked = True

    def _cipher(self, create: bool):
        if self._fernet is not None:
            return self._fernet
        from cryptography.fernet import Fernet

        key = os.environ.get(KEY_ENV, "").strip().encode()
        if not key:
            if self.key_file.exists():
                key = self.key_file.read_bytes().strip()
            elif create:
                from kbc_tui.store.private import private_dir

                private_dir(self.state_dir)
                key = Fernet.generate_key()
                fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(key + b"\n")
            else:
                raise SecretError(f"no secret key: set {KEY_ENV} or restore {self.key_file} "
                                  "(encrypted values cannot be read without the key they were made with)")
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise SecretError(f"the secret key ({KEY_ENV} or {self.key_file}) is not a valid Fernet key "
                              "(32 url-safe base64-encoded bytes)") from None
        return self._fernet

    def encrypt(self, plain: str) -> str:
        if is_safe_value(plain):  # empty, already encrypted, or an env reference
            return plain
        self._check_one_key()
        return PREFIX + self._cipher(create=True).encrypt(plain.encode("utf-8")).decode("ascii")

    def resolve(self, value: Any, *, where: str = "secret") -> str:
        """The plain value of a stored secret; ``SecretError`` names what is missing."""
        if not isinstance(value, str):
            raise SecretError(f"{where}: expected a string")
        if value == "":
            return ""
        if value.startswith(ENV_PREFIX):
            name = value[len(ENV_PREFIX):]
            if not _ENV_NAME.match(name):
                raise SecretError(f"{where}: {value!r} is not a valid environment variable reference")
            if name not in os.environ:
                raise SecretError(f"{where}: environment variable {name} is not set")
            return os.environ[name]
        if value.startswith(PREFIX):
            from cryptography.fernet import InvalidToken

            try:
                return self._cipher(create=False).decrypt(value[len(PREFIX):].encode("ascii")).decode("utf-8")
            except (InvalidToken, UnicodeError, ValueError):
                at = f"{where}: " if where else ""
                raise SecretError(f"{at}cannot decrypt: it was encrypted with another key "
                                  f"({KEY_ENV} or {self.key_file})") from None
        raise SecretError(f"{where}: plain-text secret; run 'kbc-tui encrypt' to encrypt it")

    def resolve_tree(self, data: Any, masker: "Masker | None" = None, where: str = "") -> Any:
        """A copy of ``data`` with every ``#`` value resolved (registered with ``masker``)."""
        if isinstance(data, dict):
            out = {}
            for key, value in data.items():
                path = f"{where}.{key}" if where else key
                if is_secret_key(key):
                    plain = self.resolve(value, where=path)
                    if masker is not None:
                        masker.add(plain)
                    out[key] = plain
                elif is_url_key(key) and url_password(value):
                    if masker is not None:
                        masker.add(url_password(value))
                        masker.add(unquote(url_password(value)))
                    out[key] = value
                else:
                    out[key] = self.resolve_tree(value, masker, path)
            return out
        if isinstance(data, list):
            return [self.resolve_tree(v, masker, f"{where}[{i}]") for i, v in enumerate(data)]
        return data

    def encrypt_tree(self, data: Any) -> tuple[Any, int]:
        """A copy of ``data`` with plain ``#`` values encrypted, and how many were."""
        count = 0
        if isinstance(data, dict):
            out = {}
            for key, value in data.items():
                if is_secret_key(key) and isinstance(value, str) and not is_safe_value(value):
                    out[key] = self.encrypt(value)
                    count += 1
                else:
                    out[key], n = self.encrypt_tree(value)
                    count += n
            return out, count
        if isinstance(data, list):
            items = []
            for v in data:
                item, n = self.encrypt_tree(v)
                items.append(item)
                count += n
            return items, count
        return data, 0


class Masker:
    """Replaces known secret values with ``*****`` in any text."""

    def __init__(self, values: list[str] | None = None):
        self._values: set[str] = set()
        for v in values or []:
            self.add(v)

    def add(self, value: str) -> None:
        if value and len(value) >= 3:
            self._values.add(value)

    def __call__(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, "*****")
        return text
