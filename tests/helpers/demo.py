"""The demo project (``configs/``) as committed, for tests and benchmarks.

The README invites a newcomer to play with the demo (run it, add an orchestration, duplicate one, add an
address); tests that read the live ``configs/`` then failed on their edits. So every test and benchmark reads the
demo as it is in git's ``HEAD``: ``git archive HEAD configs``, extracted once per process into a temporary folder.
When the project is not a git checkout (e.g. an unpacked sdist), the live folder is used, with a warning
(once per process). ``KBC_TEST_LIVE_DEMO=1`` uses the live folder on purpose (to test uncommitted demo changes).
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
LIVE_DEMO = ROOT / "configs"
#: never copied into a test's project: the demo's state, outputs and caches
STATE = (".kbc", "__pycache__", "out")

_pristine: Path | None = None


def pristine_demo() -> Path:
    """The demo folder as committed (read it, never write it: every caller shares it); see the module's docstring."""
    global _pristine
    if _pristine is None:
        if os.environ.get("KBC_TEST_LIVE_DEMO") == "1":
            _pristine = LIVE_DEMO
        else:
            _pristine = demo_as_committed(ROOT)
            if _pristine is None:
                warnings.warn(f"{ROOT} is not a git checkout: the tests use the demo in {LIVE_DEMO} as it is now, "
                              "with any changes made to it (they expect the demo as released)", stacklevel=2)
                _pristine = LIVE_DEMO
    return _pristine


def demo_as_committed(root: Path) -> Path | None:
    """``root/configs`` as in git's HEAD, extracted into a new temporary folder (removed at exit); None when
    ``root`` is not the top of a git checkout with a committed ``configs/kbc.toml``."""

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=60)

    try:
        top = git("rev-parse", "--show-toplevel")
        if top.returncode != 0 or Path(top.stdout.decode().strip()).resolve() != root.resolve():
            return None  # not a checkout, or configs/ lies inside some other repository
        archive = git("archive", "--format=tar", "HEAD", "configs")
    except (OSError, subprocess.SubprocessError):  # no git
        return None
    if archive.returncode != 0:
        return None
    folder = Path(tempfile.mkdtemp(prefix="kbc-demo-"))
    atexit.register(shutil.rmtree, folder, True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    demo = folder / "configs"
    return demo if (demo / "kbc.toml").is_file() else None


def copy_demo(dest: Path, *, skip: tuple[str, ...] = ()) -> Path:
    """A private, writable copy of the committed demo at ``dest`` (without state; ``skip``: more names to leave out)."""
    shutil.copytree(pristine_demo(), dest, ignore=shutil.ignore_patterns(*STATE, *skip))
    return dest
