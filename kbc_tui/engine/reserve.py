"""Room kept on the disk of the job history so that a full disk cannot stop a job's end being recorded.

The runner keeps ``.kbc/reserve`` (a couple of MB of really allocated blocks). When a write to the job
history fails because the disk is full, it deletes the reserve and writes again: the job ends ``error``
with "disk full: ..." in its message, and its alert is queued, instead of staying ``processing`` until
someone cleans up. The reserve is made again once there is room.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

RESERVE_BYTES = 2 * 1024 * 1024
#: posix_fallocate errors that mean "not supported here": the reserve is then written with zeros
_NO_FALLOCATE = (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)
FILE = "reserve"


class SpaceReserve:
    def __init__(self, state_dir: Path, size: int = RESERVE_BYTES):
        self.path = state_dir / FILE
        self.size = size

    @property
    def held(self) -> bool:
        try:
            return self.path.stat().st_size >= self.size
        except OSError:
            return False

    def ensure(self) -> bool:
        """Make the reserve if it is missing; False if there is no room for it (or no folder)."""
        if self.held:
            return True
        partial = self.path.with_name(f".{FILE}.{os.getpid()}.tmp")
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                try:
                    os.posix_fallocate(fd, 0, self.size)  # real blocks, not a sparse file
                except (AttributeError, OSError) as exc:
                    if isinstance(exc, OSError) and exc.errno not in _NO_FALLOCATE:
                        raise  # no room (ENOSPC): never fill the disk's last bytes with a short reserve
                    if os.write(fd, b"\0" * self.size) < self.size:
                        raise OSError(errno.ENOSPC, "no room for the reserve")
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(partial, self.path)
            return True
        except OSError:
            try:
                partial.unlink()
            except OSError:
                pass
            return False

    def release(self) -> bool:
        """Give the room back to the disk (for the history's next writes); True if there was a reserve."""
        try:
            self.path.unlink()
            return True
        except OSError:
            return False
