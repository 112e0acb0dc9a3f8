"""What the emulator's processes (launcher.py, faultproxy.py) need as children of a test.

The test that starts one reads one line from stdout and may never read stderr. A pipe nobody drains
fills after 64 KiB and then blocks the writer, which would be a request thread: so stderr gets a budget,
and what goes over it is dropped with one line saying so. And the child ends when the test does: its
stdin closes then.
"""

from __future__ import annotations

import os
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


def wait_for_stdin_eof(stop: threading.Event) -> None:
    """Sets `stop` when stdin closes (the parent test has gone)."""
    # os.read on the raw descriptor: a thread blocked inside sys.stdin's buffered reader holds
    # its lock, and the interpreter aborts when it finds that lock taken at exit.
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    stop.set()
