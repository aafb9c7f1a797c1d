"""The project folder: ``kbc.toml``, ``components/``, ``orchestrations/`` and the state folder ``.kbc/``.

``Project.load(root)`` never raises for a bad file: each unreadable or invalid file becomes
a ``Problem`` (path:line: key: message) in ``project.problems`` and the rest still loads.
Saving writes atomically, only when the content changes, editing the file in place (comments and layout
stay), and refuses (``ConflictError``)
when the file changed on disk since it was loaded, or (``ConfigError``) when the file on
disk has problems that a rewrite would paper over.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kbc_tui.errors import ConfigError, ConflictError, KbcError, Problem
from kbc_tui.model.component import COMPONENT_TYPES, ComponentConfig, Kind, check_id
from kbc_tui.model.orchestration import Orchestration, Task
from kbc_tui.model.paths import config_file, orchestration_file
from kbc_tui.model.project import ProjectSettings
from kbc_tui.store.private import FILE_MODE, loose_mode, private_dir
from kbc_tui.store.secrets import Secrets, plain_text_secrets
from kbc_tui.store.toml_io import edit_toml, read_toml, with_lines, write_bytes_atomic

SETTINGS_FILE = "kbc.toml"
SUMMARY_CACHE = "orchestrations-cache.json"
STATE_DIR = ".kbc"
PROJECT_ENV = "KBC_PROJECT"
DEFAULT_PROJECT = "configs"

#: validates component parameters; set by kbc_tui.components (the model knows no components)
ParametersValidator = Callable[[ComponentConfig], list[tuple[str, str]]]


def resolve_project_dir(arg: str | os.PathLike | None) -> Path:
    """``--project DIR``, else ``$KBC_PROJECT``, else ``./configs``."""
    value = arg or os.environ.get(PROJECT_ENV) or DEFAULT_PROJECT
    return Path(value).expanduser().resolve()


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _digest(raw: bytes | None) -> bytes | None:
    """What a file held when loaded (files are small: keep the bytes, compare them exactly)."""
    return raw


@dataclass
class Project:
    root: Path
    settings: ProjectSettings = field(default_factory=ProjectSettings)
    components: dict[str, ComponentConfig] = field(default_factory=dict)  # "component/config" -> config
    orchestrations: dict[str, Orchestration] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    #: things that work but should not stay so (``kbc-tui validate`` lists them; they do not fail it)
    warnings: list[Problem] = field(default_factory=list)
    #: each file's content as loaded (None: did not exist); for conflict detection
    _loaded: dict[Path, bytes | None] = field(default_factory=dict, repr=False)
    #: files that had problems when loaded; they are not rewritten
    _broken: set[Path] = field(default_factory=set, repr=False)
    #: (mtime_ns, size) of files known to hold what ``_loaded`` has, so polling need not read them
    _stats: dict[Path, tuple[int, int]] = field(default_factory=dict, repr=False)
    #: checks that every encrypted value opens (a full load; the quick one leaves it to the background check)
    _key_check: Secrets | None = field(default=None, repr=False)

    # -- loading -------------------------------------------------------------------
    @classmethod
    def load(cls, root: str | os.PathLike, validator: ParametersValidator | None = None,
             *, quick: bool = False) -> "Project":
        """Load the project. ``quick``: e-mail addresses get a syntax check only (for a fast first screen)."""
        if quick:
            from kbc_tui.model.validate import quick_email_checks

            with quick_email_checks():
                return cls._load(root, validator, use_cache=True)
        return cls._load(root, validator, use_cache=False)

    @classmethod
    def _load(cls, root: str | os.PathLike, validator: ParametersValidator | None, use_cache: bool) -> "Project":
        root = Path(root).resolve()
        if not root.is_dir():
            raise KbcError(f"{root}: project folder not found (create one with 'kbc-tui init {root}')")
        project = cls(root)
        project._key_check = None if use_cache else project.secrets
        project._check_state_dir()
        project._load_settings()
        project._load_components(validator)
        cache = SummaryCache(project.state_dir / SUMMARY_CACHE) if use_cache else None
        project._load_orchestrations(cache)
        project._check_task_references()
        if cache is not None:
            cache.save()
        return project

    def reload(self, validator: ParametersValidator | None = None) -> "Project":
        return Project.load(self.root, validator)

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def secrets(self) -> Secrets:
        return Secrets(self.state_dir)

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def _read(self, path: Path) -> tuple[dict | None, str]:
        stat = _stat(path)  # taken before reading: a change in between is seen by the next poll
        if stat is not None:
            self._stats[path] = stat
        try:
            data, raw = read_toml(path)
        except ConfigError as exc:
            self.problems.extend(exc.problems)
            self._broken.add(path)
            self._loaded[path] = _digest(path.read_bytes()) if path.exists() else None
            return None, ""
        self._loaded[path] = _digest(raw)
        return data, raw.decode("utf-8")

    def _collect(self, path: Path, problems: list[Problem], text: str) -> None:
        if problems:
            self._broken.add(path)
            unique = {(p.key, p.message, p.line, p.column): p for p in problems}  # a check may repeat itself
            self.problems.extend(with_lines(list(unique.values()), text))

    def _load_settings(self) -> None:
        path = self.root / SETTINGS_FILE
        if not path.exists():
            self.problems.append(Problem(path, "missing project settings file (run 'kbc-tui init' to create one)"))
            self.settings = ProjectSettings(path=path)
            self._loaded[path] = None
            return
        data, text = self._read(path)
        problems: list[Problem] = []
        self.settings = ProjectSettings.from_toml(data or {}, path=path, problems=problems)
        if data is not None:
            problems.extend(self._plain_secret_problems(path, data))
            self._check_keys(path, data, text)
        warning = self.settings.smtp.unencrypted_password_warning()
        if warning:
            self.warnings.extend(with_lines([Problem(path, f"warning: {warning}", key="smtp.security")], text))
        self._collect(path, problems, text)

    def _check_state_dir(self) -> None:
        mode = loose_mode(self.state_dir)
        if mode is not None:
            self.warnings.append(Problem(self.state_dir, (
                f"warning: it is open to other users (mode {mode:04o}) and holds extracted data, job logs and the "
                f"secret key; kbc-tui makes it 0700 the next time it opens it, or run 'chmod -R go-rwx {STATE_DIR}'")))

    def _plain_secret_problems(self, path: Path, data: dict) -> list[Problem]:
        return [Problem(path, message, key=key) for key, message in plain_text_secrets(data)]

    def _check_keys(self, path: Path, data: dict, text: str) -> None:
        """Encrypted values the present key cannot open: reported, but the file may still be saved (typing the
        value again is one way to fix it)."""
        if self._key_check is not None:
            problems = [Problem(path, why, key=key) for key, why in self._key_check.unreadable(data)]
            self.problems.extend(with_lines(problems, text))

    def _load_components(self, validator: ParametersValidator | None) -> None:
        base = self.root / "components"
        if not base.is_dir():
            return
        for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for path in sorted(folder.glob("*.toml")):
                data, text = self._read(path)
                if data is None:
                    continue
                problems: list[Problem] = []
                error = check_id(path.stem, "configuration id (file name)")
                if error:
                    problems.append(Problem(path, error))
                cfg = ComponentConfig.from_toml(data, component=folder.name, config_id=path.stem,
                                                path=path, problems=problems)
                problems.extend(self._plain_secret_problems(path, data))
                self._check_keys(path, data, text)
                if validator is not None and cfg.component in COMPONENT_TYPES:
                    problems.extend(Problem(path, msg, key=key or None) for key, msg in validator(cfg))
                self._collect(path, problems, text)
                self.components[cfg.ref] = cfg

    def _load_orchestrations(self, cache: "SummaryCache | None" = None) -> None:
        base = self.root / "orchestrations"
        if not base.is_dir():
            return
        for path in sorted(base.glob("*.toml")):
            hit = cache.get(path) if cache is not None else None
            if hit is not None:
                stat, raw, canonical = hit
                self._loaded[path], self._stats[path] = raw, stat
                orch = Orchestration.from_canonical(canonical, orch_id=path.stem, path=path)
                self.orchestrations[orch.id] = orch
                continue
            data, text = self._read(path)
            if data is None:
                continue
            problems: list[Problem] = []
            error = check_id(path.stem, "orchestration id (file name)")
            if error:
                problems.append(Problem(path, error))
            orch = Orchestration.from_toml(data, orch_id=path.stem, path=path, problems=problems)
            self._collect(path, problems, text)
            self.orchestrations[orch.id] = orch
            if cache is not None and not problems:
                cache.put(path, self._stats.get(path), self._loaded.get(path), orch.to_toml())

    def _check_task_references(self) -> None:
        for orch in self.orchestrations.values():
            assert orch.path is not None
            problems = []
            for key, task in self._task_keys(orch):
                if check_id(task.component) or check_id(task.config):
                    continue  # already reported: "is required", or not an id
                reason = self.task_problem(task)
                if reason:
                    problems.append(Problem(orch.path, reason, key=key))
            # reference problems do not make the file unsafe to rewrite: report, don't mark broken
            if problems:
                raw = self._loaded.get(orch.path)
                self.problems.extend(with_lines(problems, raw.decode("utf-8", "replace") if raw else ""))

    @staticmethod
    def _task_keys(orch: Orchestration):
        if orch.flat:
            for i, task in enumerate(orch.tasks):
                yield f"tasks[{i}].config", task
        else:
            for pi, phase in enumerate(orch.phases):
                for ti, task in enumerate(phase.tasks):
                    yield f"phases[{pi}].tasks[{ti}].config", task

    # -- queries -------------------------------------------------------------------
    def component(self, component: str, config: str) -> ComponentConfig | None:
        return self.components.get(f"{component}/{config}")

    def task_problem(self, task: Task) -> str | None:
        """Why a task cannot run (not an id, unknown component type, missing configuration), or None."""
        error = check_id(task.component, "component type") or check_id(task.config, "configuration id")
        if error:
            return error
        ctype = COMPONENT_TYPES.get(task.component)
        if ctype is None:
            return f"unknown component {task.component!r}"
        if not ctype.automatable:
            return f"{task.component!r} is a manual component and cannot be orchestrated"
        if task.ref not in self.components:
            return f"configuration {task.ref!r} does not exist (components/{task.ref}.toml)"
        return None

    def automatable_components(self) -> dict[Kind, list[ComponentConfig]]:
        """Every configuration a task can use, grouped Extractors / Transformations / Writers."""
        groups: dict[Kind, list[ComponentConfig]] = {Kind.EXTRACTOR: [], Kind.TRANSFORMATION: [], Kind.WRITER: []}
        for cfg in self.components.values():
            if cfg.type and cfg.type.automatable and not check_id(cfg.id):  # a task can name it
                groups[cfg.type.kind].append(cfg)
        for items in groups.values():
            items.sort(key=lambda c: (c.name.lower(), c.ref))
        return groups

    def format_problem(self, problem: Problem) -> str:
        """``path:line: key: message`` with the path relative to the project folder."""
        return self.rel(problem.path) + str(problem)[len(str(problem.path)):]

    def problems_for(self, path: Path) -> list[Problem]:
        return [p for p in self.problems if p.path == path]

    def is_broken(self, path: Path) -> bool:
        return path in self._broken

    # -- saving --------------------------------------------------------------------
    def _save(self, path: Path, data: dict, *, new: bool = False,
              meaning: Callable[[dict], dict] | None = None) -> bool:
        """Write ``data`` to ``path`` if it differs; True when written. An existing file is edited in place
        (its comments and layout stay; ``meaning`` says what the model makes of a parsed file), a new one is
        written canonically."""
        if path in self._broken:
            raise ConfigError(Problem(path, "the file has problems; fix it on disk first, it is not overwritten"))
        current = path.read_bytes() if path.exists() else None
        if new:
            if current is not None:
                raise ConflictError(f"{self.rel(path)} already exists")
        elif path in self._loaded and _digest(current) != self._loaded[path]:
            raise ConflictError(f"{self.rel(path)} changed on disk since it was loaded; "
                                "reload to see the change (your edit was not saved)")
        content = edit_toml(current, data, meaning)
        if current == content:
            return False
        write_bytes_atomic(path, content)
        self._loaded[path] = _digest(content)
        self._stats[path] = _stat(path)  # our own write: nothing to re-read on the next poll
        return True

    def orchestration_path(self, orch_id: str) -> Path:
        return orchestration_file(self.root, orch_id)

    @staticmethod
    def _orchestration_meaning(orch_id: str, path: Path) -> Callable[[dict], dict]:
        return lambda data: Orchestration.from_toml(data, orch_id=orch_id, path=path, problems=[]).to_toml()

    def save_orchestration(self, orch: Orchestration) -> bool:
        path = self.orchestration_path(orch.id)
        written = self._save(path, orch.to_toml(), meaning=self._orchestration_meaning(orch.id, path))
        orch.path = path
        self.orchestrations[orch.id] = orch
        return written

    def create_orchestration(self, orch_id: str, name: str) -> Orchestration:
        error = check_id(orch_id, "orchestration id")
        if error:
            raise KbcError(error)
        if not name.strip():
            raise KbcError("an orchestration needs a name")
        path = self.orchestration_path(orch_id)
        if orch_id in self.orchestrations or path.exists():
            raise ConflictError(f"orchestration {orch_id!r} already exists ({self.rel(path)})")
        orch = Orchestration(orch_id, name.strip(), path=path)
        self._save(path, orch.to_toml(), new=True)
        self.orchestrations[orch_id] = orch
        return orch

    def duplicate_orchestration(self, orch_id: str, new_id: str, name: str) -> Orchestration:
        """A copy of an orchestration as ``orchestrations/<new_id>.toml``: the file copied with its comments and
        layout, with the new name and its schedule disabled (the copy must not run at the original's times
        before someone means it to)."""
        import copy

        error = check_id(new_id, "orchestration id")
        if error:
            raise KbcError(error)
        if not name.strip():
            raise KbcError("an orchestration needs a name")
        source = self.orchestrations[orch_id]
        source_path = source.path or self.orchestration_path(orch_id)
        if source_path in self._broken:
            raise ConfigError(Problem(source_path, "the file has problems; fix it on disk first, it is not copied"))
        path = self.orchestration_path(new_id)
        if new_id in self.orchestrations or path.exists():
            raise ConflictError(f"orchestration {new_id!r} already exists ({self.rel(path)})")
        current = source_path.read_bytes() if source_path.exists() else None
        if source_path in self._loaded and _digest(current) != self._loaded[source_path]:
            raise ConflictError(f"{self.rel(source_path)} changed on disk since it was loaded; "
                                "reload to see the change (nothing was copied)")
        orch = copy.deepcopy(source)
        orch.id, orch.name, orch.path = new_id, name.strip(), path
        if orch.schedule is not None:
            orch.schedule.enabled = False
        content = edit_toml(current, orch.to_toml(), self._orchestration_meaning(new_id, path))
        write_bytes_atomic(path, content)
        self._loaded[path] = _digest(content)
        self._stats[path] = _stat(path)
        self.orchestrations[new_id] = orch
        return orch

    def rename_orchestration(self, orch_id: str, *, name: str | None = None,
                             new_id: str | None = None) -> Orchestration:
        orch = self.orchestrations[orch_id]
        if name is not None:
            if not name.strip():
                raise KbcError("an orchestration needs a name")
            orch.name = name.strip()
        if new_id and new_id != orch_id:
            error = check_id(new_id, "orchestration id")
            if error:
                raise KbcError(error)
            new_path = self.orchestration_path(new_id)
            if new_path.exists():
                raise ConflictError(f"orchestration {new_id!r} already exists")
            old_path = self.orchestration_path(orch_id)
            self._save(old_path, orch.to_toml(), meaning=self._orchestration_meaning(orch_id, old_path))
            os.replace(old_path, new_path)
            self._loaded[new_path] = self._loaded.pop(old_path, None)
            self._stats.pop(old_path, None)
            del self.orchestrations[orch_id]
            orch.id, orch.path = new_id, new_path
            self.orchestrations[new_id] = orch
        else:
            self.save_orchestration(orch)
        return orch

    def delete_orchestration(self, orch_id: str) -> None:
        orch = self.orchestrations.get(orch_id)  # a file whose name is no id can still be deleted
        path = orch.path if orch is not None and orch.path is not None else self.orchestration_path(orch_id)
        current = path.read_bytes() if path.exists() else None
        if path in self._loaded and _digest(current) != self._loaded[path]:
            raise ConflictError(f"{self.rel(path)} changed on disk since it was loaded; not deleted")
        if current is not None:
            path.unlink()
        self.orchestrations.pop(orch_id, None)
        self._loaded.pop(path, None)
        self._broken.discard(path)
        self.problems = [p for p in self.problems if p.path != path]

    def save_component(self, cfg: ComponentConfig, *, new: bool = False) -> bool:
        """Save a configuration; plain ``#`` values are encrypted first."""
        for error in (check_id(cfg.id, "configuration id"),):
            if error:
                raise KbcError(error)
        if cfg.component not in COMPONENT_TYPES:
            raise KbcError(f"unknown component type {cfg.component!r}")
        cfg.parameters, _ = self.secrets.encrypt_tree(cfg.parameters)
        path = config_file(self.root, cfg.component, cfg.id)
        written = self._save(path, cfg.to_toml(), new=new, meaning=lambda data: ComponentConfig.from_toml(
            data, component=cfg.component, config_id=cfg.id, path=path, problems=[]).to_toml())
        cfg.path = path
        self.components[cfg.ref] = cfg
        return written

    def save_settings(self, settings: ProjectSettings) -> bool:
        """Save ``kbc.toml``; a plain SMTP password is encrypted first."""
        settings.smtp.password = self.secrets.encrypt(settings.smtp.password)
        path = self.root / SETTINGS_FILE
        written = self._save(path, settings.to_toml(), meaning=lambda data: ProjectSettings.from_toml(
            data, path=path, problems=[]).to_toml())
        settings.path = path
        self.settings = settings
        return written

    def changed_on_disk(self) -> list[Path]:
        """Files whose content differs from what was loaded (or that appeared / vanished).

        Cheap enough to poll: a file is read only when its size or modification time changed."""
        changed = []
        seen = set()
        for path, digest in self._loaded.items():
            seen.add(path)
            try:
                st = path.stat()
            except OSError:
                if digest is not None:
                    changed.append(path)
                continue
            if digest is not None and self._stats.get(path) == (st.st_mtime_ns, st.st_size):
                continue
            current = path.read_bytes()
            if current != digest:
                changed.append(path)
            else:
                self._stats[path] = (st.st_mtime_ns, st.st_size)
        for pattern in ("orchestrations/*.toml", "components/*/*.toml"):
            for path in self.root.glob(pattern):
                if path not in seen:
                    changed.append(path)
        return changed



class SummaryCache:
    """Orchestrations that loaded without problems, as their canonical TOML dict, keyed by path, mtime and size
    (``.kbc/orchestrations-cache.json``). Only the app's quick load uses it: a thousand files then load without
    being validated again. ``kbc-tui validate`` and the app's background check read every file."""

    VERSION = 1

    def __init__(self, path: Path):
        import json

        self.path = path
        self.entries: dict[str, list] = {}
        self.seen: set[str] = set()
        self.dirty = False
        try:
            data = json.loads(path.read_bytes())
            if data.get("version") == self.VERSION:
                self.entries = data["entries"]
        except Exception:  # missing, unreadable or from another version: rebuilt as files are read
            self.entries = {}

    def get(self, path: Path):
        key = str(path)
        self.seen.add(key)
        entry = self.entries.get(key)
        stat = _stat(path)
        if entry is None or stat is None or tuple(entry[0]) != stat:
            return None
        return stat, entry[1].encode("utf-8"), entry[2]

    def put(self, path: Path, stat, raw: bytes | None, canonical: dict) -> None:
        if stat is None or raw is None:
            return
        self.entries[str(path)] = [list(stat), raw.decode("utf-8"), canonical]
        self.dirty = True

    def save(self) -> None:
        import json

        stale = set(self.entries) - self.seen
        for key in stale:
            del self.entries[key]
        if not (self.dirty or stale):
            return
        try:
            private_dir(self.path.parent)
            write_bytes_atomic(self.path, json.dumps({"version": self.VERSION, "entries": self.entries},
                                                     separators=(",", ":")).encode("utf-8"), FILE_MODE)
        except OSError:
            pass  # a read-only project still opens, just without the cache
