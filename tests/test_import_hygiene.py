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


def _modules_outside_store():
    """(relative path, parsed tree) of every kbc_tui module outside kbc_tui/store."""
    import ast
    from pathlib import Path

    import kbc_tui

    root = Path(kbc_tui.__path__[0])
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] != "store":
            yield rel.as_posix(), ast.parse(path.read_text())


def _is_history(node) -> bool:
    """``history``, ``self.history``, ``self.engine.history``, ... (what holds the job state)."""
    import ast

    return (isinstance(node, ast.Name) and node.id == "history") or \
        (isinstance(node, ast.Attribute) and node.attr == "history")


def test_no_module_outside_the_store_runs_sql_against_the_history() -> None:
    """The job state is an interface (``kbc_tui.store.state.JobState``, issue 13: SQLite today, PostgreSQL next):
    only the store may use the history's low-level ``execute`` / ``transaction``."""
    import ast

    bad = []
    for rel, tree in _modules_outside_store():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("execute", "executemany", "transaction") and _is_history(node.func.value)):
                bad.append(f"{rel}:{node.lineno}: {ast.unparse(node.func)}")
    assert bad == [], bad


def test_the_engine_commands_and_ui_hold_no_sql_about_the_job_state() -> None:
    """No SQL statement and no table of the job history is named in a string outside the store (components and
    storage talk SQL to their own databases: DuckDB, the source and target databases)."""
    import ast
    import re

    sql = re.compile(r"\b(SELECT\b.*\bFROM|INSERT (OR \w+ )?INTO|UPDATE \w+ SET|DELETE FROM|ON CONFLICT|BEGIN "
                     r"IMMEDIATE)\b|\b(schedule_fires|schedule_state|log_lines|task_runs|component_state)\b")
    bad = []
    for rel, tree in _modules_outside_store():
        if rel.split("/")[0] in ("components", "storage"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and sql.search(node.value):
                bad.append(f"{rel}:{node.lineno}: {node.value[:60]!r}")
    assert bad == [], bad


def test_only_the_job_state_interface_is_called_on_the_history() -> None:
    """Whatever the engine, commands and UI use of the history is listed in ``JobState`` (so a second
    implementation that satisfies it is enough)."""
    import ast

    from kbc_tui.store.state import JobState

    members = {n for n in dir(JobState) if not n.startswith("_")} | set(JobState.__annotations__)
    members.add("note")  # ReadOnlyHistory's one line, read where one was just made (engine._history_for_reading)
    bad = []
    for rel, tree in _modules_outside_store():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _is_history(node.value) and node.attr not in members:
                bad.append(f"{rel}:{node.lineno}: history.{node.attr}")
    assert bad == [], bad
