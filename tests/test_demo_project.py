"""The demo's source data is reproducible from the committed script."""

import sqlite3
import subprocess
import sys

from tests.conftest import DEMO


def dump(path):
    db = sqlite3.connect(path)
    try:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in ("customers", "products", "orders")}
    finally:
        db.close()


def test_generator_reproduces_the_committed_database(tmp_path):
    out = tmp_path / "shop.sqlite"
    subprocess.run([sys.executable, str(DEMO / "data" / "make_shop_db.py"), str(out)], check=True,
                   capture_output=True)
    fresh, committed = dump(out), dump(DEMO / "data" / "shop.sqlite")
    assert fresh == committed
    assert len(committed["orders"]) == 480 and len(committed["customers"]) == 60


def test_targets_csv_covers_every_month_and_region():
    lines = (DEMO / "data" / "targets.csv").read_text().splitlines()
    assert lines[0] == "Month,Region,Revenue Target,Owner"
    assert len(lines) == 1 + 6 * 4
