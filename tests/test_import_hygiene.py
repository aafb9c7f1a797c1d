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


def _imports(package_dir):
    """Every module a package's files import, TYPE_CHECKING blocks included."""
    import ast
    from pathlib import Path

    found = set()
    for path in Path(package_dir).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add((path.name, node.module))
            elif isinstance(node, ast.Import):
                found.update((path.name, alias.name) for alias in node.names)
    return found


def test_storage_does_not_import_components() -> None:
    """Components use storage; storage must not know components (CancelToken lives in the model)."""
    import kbc_tui.storage

    bad = sorted(f"{f}: {m}" for f, m in _imports(kbc_tui.storage.__path__[0]) if m.startswith("kbc_tui.components"))
    assert bad == [], bad


def test_runner_scheduler_notifier_use_no_private_engine_attribute() -> None:
    """They report through the engine's public API and its job feed, never ``engine._something``."""
    import ast
    from pathlib import Path

    import kbc_tui.engine

    bad = []
    for name in ("runner.py", "scheduler.py", "notifier.py"):
        tree = ast.parse((Path(kbc_tui.engine.__path__[0]) / name).read_text())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and isinstance(node.value, (ast.Attribute, ast.Name))
                    and (getattr(node.value, "attr", None) or getattr(node.value, "id", None)) == "engine"):
                bad.append(f"{name}:{node.lineno}: engine.{node.attr}")
    assert bad == [], bad
