"""Each schedule's words and next fire time, kept in ``.kbc/schedule-cache.json`` so the home screen's
first frame needs neither croniter nor cron-descriptor (importing and running them for a screenful of
schedules costs ~40 ms). An entry is keyed by cron expression and time zone; its next fire time stays
right until that moment passes, after which it is computed again."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

FILE = "schedule-cache.json"
VERSION = 1


class ScheduleCache:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE
        self.dirty = False
        try:
            data = json.loads(self.path.read_bytes())
            self.entries: dict[str, list] = data["entries"] if data.get("version") == VERSION else {}
        except Exception:  # missing or unreadable: rebuilt as schedules are shown
            self.entries = {}

    @staticmethod
    def _key(cron: str, timezone: str) -> str:
        return f"{cron}\x1f{timezone}"

    def get(self, cron: str, timezone: str) -> tuple[str, datetime | None] | None:
        """(words, next fire) if still current; None if it must be computed."""
        entry = self.entries.get(self._key(cron, timezone))
        if entry is None:
            return None
        words, nxt = entry
        if nxt is not None:
            moment = datetime.fromisoformat(nxt)
            if moment.timestamp() <= time.time():
                return None
            return words, moment
        return words, None

    def put(self, cron: str, timezone: str, words: str, nxt: datetime | None) -> None:
        self.entries[self._key(cron, timezone)] = [words, nxt.isoformat() if nxt else None]
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        from kbc_tui.store.toml_io import write_bytes_atomic

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(self.path, json.dumps({"version": VERSION, "entries": self.entries}).encode())
            self.dirty = False
        except OSError:
            pass  # only a cache: the next start computes again
