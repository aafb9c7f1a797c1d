"""``kbc-tui validate``: every problem one per line (path:line: key: message), exit 1; else a summary, exit 0.

Absolute paths in the configuration are allowed but listed (``…: key: note: absolute path …``), so a review
sees every place outside the project folder that jobs read or write; they never make validate fail.
"""

from __future__ import annotations

import sys

from kbc_tui.components import absolute_paths, validate_config
from kbc_tui.errors import Problem
from kbc_tui.model.paths import is_absolute
from kbc_tui.store import Project, resolve_project_dir
from kbc_tui.store.toml_io import with_lines


def absolute_path_notes(project: Project) -> list[str]:
    """``path:line: key: note: absolute path …`` for kbc.toml's and every configuration's absolute paths."""
    found: list[tuple] = []
    settings = project.settings
    if settings.path is not None:
        found += [(settings.path, key, value) for key, value in (("smtp.ca_file", settings.smtp.ca_file),
                                                                 ("storage.path", settings.storage.path))
                  if value and is_absolute(value)]
    for cfg in project.components.values():
        found += [(cfg.path, key, value) for key, value in absolute_paths(cfg)]
    notes = []
    for path, key, value in found:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        [problem] = with_lines([Problem(path, f"note: absolute path {value} (allowed: used as given)", key=key)],
                               text)
        notes.append(project.format_problem(problem))
    return notes


def run(args) -> int:
    root = resolve_project_dir(args.project)
    project = Project.load(root, validate_config)
    # one line per problem, each once, in file order
    lines = list(dict.fromkeys(project.format_problem(p) for p in project.problems))
    warnings = list(dict.fromkeys(project.format_problem(p) for p in project.warnings))
    notes = absolute_path_notes(project)
    for line in lines + warnings + notes:
        print(line)
    if lines:
        print(f"{len(lines)} problem(s) in {root}", file=sys.stderr)
        return 1
    print(f"{root}: OK: {len(project.orchestrations)} orchestration(s), "
          f"{len(project.components)} component configuration(s)"
          + (f"; {len(warnings)} warning" + "s" * (len(warnings) > 1) if warnings else "")
          + (f"; {len(notes)} absolute path(s), listed above" if notes else ""))
    return 0
