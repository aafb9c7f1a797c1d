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
        self.entries: dict[str, list] = {}
        try:
            data = json.loads(self.path.read_bytes())
        except Exception:  # missing or unreadable: rebuilt as schedules are shown
            return
        if isinstance(data, dict) and data.get("version") == VERSION and isinstance(data.get("entries"), dict):
            self.entries = data["entries"]

    @staticmethod
    def _key(cron: str, timezone: str) -> str:
        return f"{cron}\x1f{timezone}"

    def get(self, cron: str, timezone: str) -> tuple[str, datetime | None] | None:
        """(words, next fire) if still current; None if it must be computed."""
        entry = self.entries.get(self._key(cron, timezone))
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
                and isinstance(entry[1], (str, type(None)))):
            return None  # missing, or not what ``put`` writes: computed again
        words, nxt = entry
        if nxt is None:
            return words, None
        try:
            moment = datetime.fromisoformat(nxt)
        except ValueError:
            return None
        if moment.tzinfo is None or moment.timestamp() <= time.time():
            return None
        return words, moment

    def put(self, cron: str, timezone: str, words: str, nxt: datetime | None) -> None:
        self.entries[self._key(cron, timezone)] = [words, nxt.isoformat() if nxt else None]
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        from kbc_tui.store.private import FILE_MODE, private_dir
        from kbc_tui.store.toml_io import write_bytes_atomic

        try:
            private_dir(self.path.parent)
            write_bytes_atomic(self.path, json.dumps({"version": VERSION, "entries": self.entries}).encode(),
                               FILE_MODE)
            self.dirty = False
        except OSError:
            pass  # only a cache: the next start computes again
