"""The domain layers never import Textual (DESIGN.md: everything the TUI does, the engine does headless)."""

import subprocess
import sys

DOMAIN = ["kbc_tui.model", "kbc_tui.store", "kbc_tui.storage", "kbc_tui.components", "kbc_tui.engine",
          "kbc_tui.cli"]


def test_domain_does_not_import_textual() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        f"for name in {DOMAIN!r}:\n"
        "    mod = importlib.import_module(name)\n"
        "    for info in pkgutil.walk_packages(getattr(mod, '__path__', []), name + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"domain modules imported Textual: {out.stdout.strip()[:200]}"
