"""Performance harness: ``python benchmarks/run.py NAME [args...]``.

Each benchmark is ``benchmarks/bench_<NAME>.py`` with ``main(argv) -> (value, unit)``; it prints
whatever numbers it likes, and this runner prints the last line: ``NAME <value> <unit>``.
``python benchmarks/run.py`` lists the benchmarks. These print numbers; they are not tests.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("\nbenchmarks: " + ", ".join(available()))
        return 0 if argv else 2
    name = argv[0]
    path = HERE / f"bench_{name}.py"
    if not path.exists():
        print(f"unknown benchmark {name!r}; available: {', '.join(available())}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(HERE))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    value, unit = module.main(argv[1:])
    print(f"{name} {value:.4g} {unit}" if isinstance(value, float) else f"{name} {value} {unit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
