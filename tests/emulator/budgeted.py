"""stderr with a fixed budget, for the emulator's helper processes.

The test that starts them reads one line from stdout and may never read stderr. A pipe nobody drains
fills after 64 KiB and then blocks the writer, which would be a request thread: so stderr gets a budget,
and what goes over it is dropped with one line saying so.
"""

from __future__ import annotations

import threading
from typing import Any


class BudgetedStream:
    def __init__(self, stream: Any, budget: int, name: str) -> None:
        self._stream = stream
        self._left = budget
        self._name = name
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            if self._left <= 0:
                return len(text)
            if len(text) > self._left:
                text = text[: self._left] + f"\n[{self._name}: stderr budget spent, further output dropped]\n"
            self._left -= len(text)
            try:
                self._stream.write(text)
                self._stream.flush()
            except (OSError, ValueError):
                self._left = 0
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
