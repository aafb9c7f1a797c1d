"""Both demo orchestrations run end to end with `kbc-tui run` on a copy of configs/ (no server needed)."""

import sqlite3
import subprocess
import sys

from tableauhyperapi import Connection, HyperProcess, TableName, Telemetry


def kbc(root, *args):
    return subprocess.run([sys.executable, "-m", "kbc_tui", *args, "--project", str(root)], capture_output=True,
                          text=True, timeout=300)


def test_both_demo_pipelines(demo_project, tmp_path):
    tableau = kbc(demo_project, "run", "sales-to-tableau")
    assert tableau.returncode == 0, tableau.stdout + tableau.stderr
    gooddata = kbc(demo_project, "run", "sales-to-gooddata")
    assert gooddata.returncode == 0, gooddata.stdout + gooddata.stderr

    with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": str(tmp_path)}) as hp:
        with Connection(hp.endpoint, str(demo_project / "out" / "tableau" / "revenue_vs_target.hyper")) as conn:
            rows = conn.execute_list_query(f"SELECT month, region, revenue, target FROM {TableName('Extract', 'Extract')} "
                                           "ORDER BY month, region")
    assert len(rows) == 24 and rows[0][:2] == ["2026-01", "East"]
    assert all(r[2] > 0 and r[3] > 0 for r in rows)

    db = sqlite3.connect(demo_project / "out" / "gooddata.sqlite")
    try:
        assert db.execute("SELECT count(*) FROM revenue_vs_target").fetchone()[0] == 24
        top = db.execute("SELECT count(*), max(revenue) FROM top_products").fetchone()
        assert top[0] == 10 and top[1] > 0
    finally:
        db.close()

    again = kbc(demo_project, "run", "sales-to-gooddata")  # incremental orders: only the boundary row
    assert again.returncode == 0 and "in.c-shop.orders: 1 rows (incremental since updated_at >=" in again.stdout
