"""``kbc-tui validate``: every problem one per line (path:line: key: message), exit 1; else a summary, exit 0."""

from __future__ import annotations

import sys

from kbc_tui.components import validate_config
from kbc_tui.store import Project, resolve_project_dir


def run(args) -> int:
    root = resolve_project_dir(args.project)
    project = Project.load(root, validate_config)
    # one line per problem, each once, in file order
    lines = list(dict.fromkeys(project.format_problem(p) for p in project.problems))
    warnings = list(dict.fromkeys(project.format_problem(p) for p in project.warnings))
    for line in lines + warnings:
        print(line)
    if lines:
        print(f"{len(lines)} problem(s) in {root}", file=sys.stderr)
        return 1
    print(f"{root}: OK: {len(project.orchestrations)} orchestration(s), "
          f"{len(project.components)} component configuration(s)"
          + (f"; {len(warnings)} warning" + "s" * (len(warnings) > 1) if warnings else ""))
    return 0
