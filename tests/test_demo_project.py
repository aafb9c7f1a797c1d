"""The demo's source data is reproducible from the committed script."""

import re
import sqlite3
import subprocess
import sys

from tests.conftest import ROOT
from tests.helpers.demo import demo_as_committed, pristine_demo


def dump(path):
    db = sqlite3.connect(path)
    try:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in ("customers", "products", "orders")}
    finally:
        db.close()


def test_generator_reproduces_the_committed_database(tmp_path):
    out = tmp_path / "shop.sqlite"
    subprocess.run([sys.executable, str(pristine_demo() / "data" / "make_shop_db.py"), str(out)], check=True,
                   capture_output=True)
    fresh, committed = dump(out), dump(pristine_demo() / "data" / "shop.sqlite")
    assert fresh == committed
    assert len(committed["orders"]) == 480 and len(committed["customers"]) == 60


def test_targets_csv_covers_every_month_and_region():
    lines = (pristine_demo() / "data" / "targets.csv").read_text().splitlines()
    assert lines[0] == "Month,Region,Revenue Target,Owner"
    assert len(lines) == 1 + 6 * 4


def test_the_demo_is_read_as_committed_whatever_was_changed_in_the_folder(tmp_path):
    """A newcomer follows the README and edits the demo (a new orchestration, a changed address): the tests that
    copied the live configs/ then failed. The copy comes from git's HEAD: their edits are not in it."""
    repo = tmp_path / "repo"
    (repo / "configs" / "orchestrations").mkdir(parents=True)
    (repo / "configs" / "kbc.toml").write_text('name = "demo"\n')
    (repo / "configs" / "orchestrations" / "a.toml").write_text('name = "A"\n')
    git = ["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "demo"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    (repo / "configs" / "orchestrations" / "a.toml").write_text('name = "A, edited"\n')
    (repo / "configs" / "orchestrations" / "new.toml").write_text('name = "New"\n')
    (repo / "configs" / ".kbc").mkdir()
    committed = demo_as_committed(repo)
    assert committed is not None and committed != repo / "configs"
    assert sorted(p.name for p in (committed / "orchestrations").iterdir()) == ["a.toml"]
    assert (committed / "orchestrations" / "a.toml").read_text() == 'name = "A"\n'
    assert demo_as_committed(tmp_path / "not-a-checkout") is None
    plain = tmp_path / "plain"
    (plain / "configs").mkdir(parents=True)
    assert demo_as_committed(plain) is None  # inside no repository of its own: the live folder, with a warning


def test_no_test_or_benchmark_reads_the_live_demo_folder():
    """Every test and benchmark takes the demo from tests/helpers/demo.py (the demo as committed)."""
    pattern = re.compile(r"""ROOT\s*/\s*["']configs["']|parent\s*/\s*["']configs["']|\bDEMO\b""")
    offenders = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for folder in ("tests", "benchmarks") for path in sorted((ROOT / folder).rglob("*.py"))
                 if path != ROOT / "tests" / "helpers" / "demo.py"
                 for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, offenders
