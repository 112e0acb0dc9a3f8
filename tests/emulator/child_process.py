"""What the emulator's processes (launcher.py, faultproxy.py) need as children of a test.

The test that starts one reads one line from stdout and may never read stderr. A pipe nobody drains
fills after 64 KiB and then blocks the writer, which would be a request thread: so stderr gets a budget,
and what goes over it is dropped with one line saying so. And the child ends when the test does: its
stdin closes then. Both serve the same way: one `LISTENING http://HOST:PORT` line, then until a signal
or the end of stdin (`announce_and_wait`).
"""

from __future__ import annotations

import os
import signal
import sys
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


def budget_stderr(name: str, verbose: bool) -> None:
    """Unless verbose, stderr gets a fixed budget (32 KiB), beyond which output is dropped."""
    if not verbose:
        sys.stderr = BudgetedStream(sys.__stderr__, 32 * 1024, name)  # type: ignore[assignment]


def announce_and_wait(host: str, port: int, exit_on_stdin_eof: bool) -> None:
    """Prints the one line the parent reads, `LISTENING http://HOST:PORT`, then blocks until SIGINT,
    SIGTERM or (with `exit_on_stdin_eof`) the end of stdin. Nothing else reaches stdout."""
    try:
        sys.stdout.write(f"LISTENING http://{host}:{port}\n")
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.stdout = sys.stderr  # nothing else may reach the parent's stdout pipe

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if exit_on_stdin_eof:
        threading.Thread(target=wait_for_stdin_eof, args=(stop,), daemon=True).start()
    while not stop.wait(0.2):
        pass
