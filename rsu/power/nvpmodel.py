"""Jetson power modes through the ``nvpmodel`` binary; everything here is a no-op where it does not exist."""

from __future__ import annotations

import re
import shutil
import subprocess

from rsu.power.sysfs import PowerWriteError

__all__ = ["Nvpmodel"]

_NAME = re.compile(r"NV Power Mode:\s*(.+)")
_ID = re.compile(r"^\s*(\d+)\s*$", re.M)


class Nvpmodel:
    """``nvpmodel -q`` (query) and ``nvpmodel -m ID`` (set); ``available`` is False without the binary."""

    def __init__(self, binary: str = "nvpmodel", timeout_s: float = 15.0) -> None:
        self.path = shutil.which(binary)
        self.timeout_s = timeout_s

    @property
    def available(self) -> bool:
        return self.path is not None

    def _run(self, *args: str) -> str:
        if self.path is None:
            raise PowerWriteError("nvpmodel: not installed")
        try:
            done = subprocess.run([self.path, *args], capture_output=True, text=True, timeout=self.timeout_s)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PowerWriteError(f"nvpmodel {' '.join(args)}: {exc}") from None
        if done.returncode != 0:
            why = (done.stderr or done.stdout).strip().splitlines()
            raise PowerWriteError(f"nvpmodel {' '.join(args)}: exit {done.returncode}"
                                  + (f": {why[-1]}" if why else ""))
        return done.stdout

    def query(self) -> tuple[int | None, str | None]:
        """The current mode id and name (None where the output does not say)."""
        out = self._run("-q")
        m_id, m_name = _ID.search(out), _NAME.search(out)
        return (int(m_id.group(1)) if m_id else None, m_name.group(1).strip() if m_name else None)

    def set_mode(self, mode: int) -> None:
        self._run("-m", str(int(mode)))
