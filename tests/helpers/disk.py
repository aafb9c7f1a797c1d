"""A job history whose disk is full for one kind of write, until the runner gives its reserve back."""

from __future__ import annotations

import sqlite3


def disk_full_once(root, engine, statement_trigger: str):
    """The job history's disk is full for one kind of write until the runner gives its reserve back (as when
    the disk fills up: deleting the reserve file is what makes room). The refusal is SQLite's own error."""
    db = sqlite3.connect(root / ".kbc" / "jobs.sqlite")
    db.execute(f"CREATE TRIGGER full {statement_trigger} BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    db.commit()
    release = engine.reserve.release

    def release_and_make_room():
        freed = release()
        db.execute("DROP TRIGGER IF EXISTS full")
        db.commit()
        return freed

    engine.reserve.release = release_and_make_room
    return db
