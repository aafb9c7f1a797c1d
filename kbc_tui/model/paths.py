"""Where things are in a project folder, and which paths a configuration may name.

Files named by ids (``orchestrations/<id>.toml``, ``components/<component>/<config>.toml``) are built only
here, and only from valid ids (``ID_PATTERN``): no id from a command line, a task or a job can name a file
elsewhere (``../../outside/evil``).

Paths users write in the configuration (``output_dir``, ``path``, a ``sqlite:///`` url, ``ca_file``,
``[storage] path``): an absolute path is used as given (``kbc-tui validate`` lists them); a relative path
is relative to the project folder and may not leave it, through ``..`` or through a symlink.
"""

from __future__ import annotations

import os
from pathlib import Path

from kbc_tui.errors import KbcError
from kbc_tui.model.component import require_id


class OutsideProjectError(KbcError):
    """A relative path in the configuration leads outside the project folder."""


def orchestration_file(root: Path, orch_id: str) -> Path:
    return root / "orchestrations" / f"{require_id(orch_id, 'orchestration id')}.toml"


def config_file(root: Path, component: str, config: str) -> Path:
    return (root / "components" / require_id(component, "component type")
            / f"{require_id(config, 'configuration id')}.toml")


def _expand(value: str) -> Path:
    try:
        return Path(value).expanduser()
    except RuntimeError:  # '~someone' with no such user: an ordinary (relative) name
        return Path(value)


def is_absolute(value: str) -> bool:
    """An absolute path (``~`` counts): allowed anywhere, listed by ``kbc-tui validate``."""
    return _expand(value).is_absolute()


def check_inside(root: Path, value: str) -> str | None:
    """Why the relative path ``value`` may not be used (it leaves ``root``), or None (inside, or absolute)."""
    path = _expand(value)
    if path.is_absolute():
        return None
    base = Path(os.path.realpath(root))
    target = Path(os.path.realpath(base / path))
    if target.is_relative_to(base):
        return None
    how = "through a symlink " if Path(os.path.normpath(base / path)).is_relative_to(base) else ""
    return (f"the relative path {value!r} leaves the project folder {how}(it leads to {target}); "
            "use a path inside the project, or an absolute path")


def inside_project(root: Path, value: str) -> Path:
    """The path ``value`` names: absolute as given, relative under ``root``; ``OutsideProjectError`` when a
    relative path leaves ``root``."""
    error = check_inside(root, value)
    if error:
        raise OutsideProjectError(error)
    path = _expand(value)
    return path if path.is_absolute() else root / path
