"""Secrets: values under keys starting with ``#`` (Keboola's convention).

A secret value in a file is one of:
- ``""``: not set;
- ``"env:NAME"``: read from the environment variable NAME at run time;
- ``"KBC::Encrypted::<token>"``: encrypted with Fernet (AES-128-CBC + HMAC, from
  ``cryptography``) under a key that lives outside the configs: ``KBC_SECRET_KEY`` or
  ``<project>/.kbc/secret.key`` (git-ignored, mode 0600).

Anything else under a ``#`` key is a plain-text secret: ``validate`` reports it and
``kbc-tui encrypt`` encrypts it in place. Resolved values are registered with a ``Masker``
so that logs and messages never print them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterator

from kbc_tui.errors import SecretError

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


def walk_secrets(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(key_path, value)`` for every ``#`` key in nested tables and arrays."""
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else key
            if is_secret_key(key):
                yield path, value
            else:
                yield from walk_secrets(value, path)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from walk_secrets(item, f"{prefix}[{i}]")


class Secrets:
    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self._fernet = None

    @property
    def key_file(self) -> Path:
        return self.state_dir / "secret.key"

    def _cipher(self, create: bool):
        if self._fernet is not None:
            return self._fernet
        from cryptography.fernet import Fernet

        key = os.environ.get(KEY_ENV, "").strip().encode()
        if not key:
            if self.key_file.exists():
                key = self.key_file.read_bytes().strip()
            elif create:
                self.state_dir.mkdir(parents=True, exist_ok=True)
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
                raise SecretError(f"{where}: cannot decrypt: it was encrypted with another key "
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
