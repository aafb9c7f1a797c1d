"""Project settings (``kbc.toml``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kbc_tui.model.fields import Fields
from kbc_tui.model.paths import check_inside, inside_project
from kbc_tui.model.text import check_no_control
from kbc_tui.model.validate import check_email, check_host

SMTP_SECURITY = ("none", "starttls", "tls")


def _check_memory(value: str) -> str | None:
    import re

    if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", value, re.IGNORECASE):
        return f"expected a size like '256MB' or '2GB', got {value!r}"
    return None


def check_file(value: str, base: Path) -> str | None:
    if not value:
        return None
    error = check_inside(base, value)
    if error:
        return error
    if not inside_project(base, value).is_file():
        return f"no such file: {inside_project(base, value)}"
    return None


@dataclass
class UserSettings:
    email: str = ""

    @property
    def effective_email(self) -> str:
        """``KBC_USER_EMAIL`` overrides the file."""
        return os.environ.get("KBC_USER_EMAIL", "") or self.email


@dataclass
class SmtpSettings:
    host: str = ""
    port: int = 25
    security: str = "none"
    username: str = ""
    password: str = ""  # the raw '#password' value: an encrypted value or an env reference
    from_address: str = ""  # TOML key: from
    timeout_seconds: float = 30
    verify: bool = True  # check the server's TLS certificate
    ca_file: str = ""  # a PEM file of CA certificates to trust (e.g. a company CA or a self-signed server)
    base_dir: Path | None = field(default=None, compare=False, repr=False)  # the project: relative ca_file

    @property
    def configured(self) -> bool:
        return bool(self.host)

    def unencrypted_password_warning(self) -> str | None:
        """A password goes over the network in clear text: ``security = "none"`` with a login."""
        if self.security == "none" and self.username and self.password:
            return 'the password is sent unencrypted (security = "none"); use "starttls" or "tls"'
        return None

    @property
    def ca_path(self) -> Path | None:
        """The CA file; ``OutsideProjectError`` (a ``KbcError``) when a relative ``ca_file`` leaves the project."""
        if not self.ca_file:
            return None
        return inside_project(self.base_dir or Path.cwd(), self.ca_file)


def check_postgresql_url(value: str) -> str | None:
    """A PostgreSQL URL (``postgresql+psycopg://user@host:5432/db``) without a password in it."""
    from urllib.parse import urlsplit

    from kbc_tui.store.secrets import url_password_problem

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        return f"not a URL ({exc}): expected postgresql+psycopg://user@host:5432/database"
    if parts.scheme not in ("postgresql", "postgresql+psycopg", "postgres"):
        return (f"expected a PostgreSQL URL like postgresql+psycopg://user@host:5432/database, got scheme "
                f"{parts.scheme or '(none)'!r}")
    if not parts.path.strip("/"):
        return "the URL names no database: postgresql+psycopg://user@host:5432/DATABASE"
    return url_password_problem(value)


@dataclass
class StorageSettings:
    backend: str = "duckdb"  # "postgresql" when ``url`` is set
    path: str = ".kbc/storage.duckdb"  # relative to the project folder
    memory_limit: str = "256MB"  # DuckDB's buffer pool; larger work spills to disk
    url: str = ""  # PostgreSQL storage (buckets are schemas); empty: the DuckDB file at ``path``
    password: str = ""  # the raw '#password' value: an encrypted value or an env reference


@dataclass
class StateSettings:
    """Where the job queue, history, logs, e-mail outbox and component state live (``[state]``)."""

    url: str = ""  # PostgreSQL, shared by every worker on every server; empty: SQLite in .kbc/jobs.sqlite
    password: str = ""  # the raw '#password' value: an encrypted value or an env reference
    heartbeat_timeout: float = 30.0  # seconds without a heartbeat after which a worker's jobs are terminated

    @property
    def shared(self) -> bool:
        return bool(self.url)


@dataclass
class JobSettings:
    retention: int = 1000  # jobs kept per orchestration
    max_parallel_tasks: int = 4  # tasks of one phase running at once


@dataclass
class ProjectSettings:
    name: str = "kbc project"
    user: UserSettings = field(default_factory=UserSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    jobs: JobSettings = field(default_factory=JobSettings)
    path: Path | None = field(default=None, compare=False)
    state: StateSettings = field(default_factory=StateSettings)

    @classmethod
    def from_toml(cls, data: dict, *, path: Path, problems: list) -> "ProjectSettings":
        f = Fields(data, path, "", problems)
        name = f.str("name", "kbc project", check=check_no_control)

        u = Fields(f.table("user") or {}, path, "user", problems)
        user = UserSettings(email=u.str("email", "", check=lambda v: check_email(v) if v else None))
        u.finish()

        s = Fields(f.table("smtp") or {}, path, "smtp", problems)
        smtp = SmtpSettings(
            host=s.str("host", "", check=lambda v: check_host(v) if v else None),
            port=s.int("port", 25, minimum=1, maximum=65535),
            security=s.str("security", "none", choices=SMTP_SECURITY),
            username=s.str("username", ""),
            password=s.str("#password", ""),
            from_address=s.str("from", "", check=lambda v: check_email(v) if v else None),
            timeout_seconds=s.number("timeout_seconds", 30, minimum=1),
            verify=s.bool("verify", True),
            ca_file=s.str("ca_file", "", check=lambda v: check_file(v, path.parent)),
            base_dir=path.parent,
        )
        s.finish()

        st = Fields(f.table("storage") or {}, path, "storage", problems)
        storage = StorageSettings(backend=st.str("backend", "duckdb", choices=("duckdb", "postgresql")),
                                  path=st.str("path", ".kbc/storage.duckdb",
                                              check=lambda v: check_inside(path.parent, v)),
                                  memory_limit=st.str("memory_limit", "256MB", check=_check_memory),
                                  url=st.str("url", "", check=lambda v: check_postgresql_url(v) if v else None),
                                  password=st.str("#password", ""))
        if storage.url:
            storage.backend = "postgresql"
        elif storage.backend == "postgresql":
            st.problem("backend", 'backend = "postgresql" needs url = "postgresql+psycopg://user@host:5432/database" '
                                  "in [storage]")
        st.finish()

        sa = Fields(f.table("state") or {}, path, "state", problems)
        state = StateSettings(url=sa.str("url", "", check=lambda v: check_postgresql_url(v) if v else None),
                              password=sa.str("#password", ""),
                              heartbeat_timeout=sa.number("heartbeat_timeout", 30, minimum=2))
        sa.finish()

        j = Fields(f.table("jobs") or {}, path, "jobs", problems)
        jobs = JobSettings(retention=j.int("retention", 1000, minimum=1),
                           max_parallel_tasks=j.int("max_parallel_tasks", 4, minimum=1, maximum=64))
        j.finish()
        f.finish()
        return cls(name, user, smtp, storage, jobs, path, state)

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.user.email:
            out["user"] = {"email": self.user.email}
        smtp: dict[str, Any] = {}
        d = SmtpSettings()
        for key, attr in (("host", "host"), ("port", "port"), ("security", "security"),
                          ("username", "username"), ("#password", "password"), ("from", "from_address"),
                          ("timeout_seconds", "timeout_seconds"), ("verify", "verify"), ("ca_file", "ca_file")):
            value = getattr(self.smtp, attr)
            if value != getattr(d, attr):
                smtp[key] = value
        if smtp:
            out["smtp"] = smtp
        storage = {k: v for k, v in (("backend", self.storage.backend), ("path", self.storage.path),
                                     ("memory_limit", self.storage.memory_limit), ("url", self.storage.url),
                                     ("#password", self.storage.password))
                   if v != getattr(StorageSettings(), "password" if k == "#password" else k)}
        if self.storage.url:
            storage.pop("backend", None)
        if storage:
            out["storage"] = storage
        jobs = {k: getattr(self.jobs, k) for k in ("retention", "max_parallel_tasks")
                if getattr(self.jobs, k) != getattr(JobSettings(), k)}
        if jobs:
            out["jobs"] = jobs
        state = {k: v for k, v in (("url", self.state.url), ("#password", self.state.password),
                                   ("heartbeat_timeout", self.state.heartbeat_timeout))
                 if v != getattr(StateSettings(), "password" if k == "#password" else k)}
        if state:
            out["state"] = state
        return out
