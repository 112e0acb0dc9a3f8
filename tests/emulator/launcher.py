#!/usr/bin/env python3
"""Local AWS emulator for lambda-edge-deploy's tests: moto's server plus what moto 5.2.5 lacks.

    python tests/emulator/launcher.py [--host 127.0.0.1] [--port 0] [--time-scale 0.002]
        [--exit-on-stdin-eof] [--verbose]

Prints exactly one line, `LISTENING http://HOST:PORT`, to stdout once it serves; all else goes to
stderr. With --exit-on-stdin-eof it exits when stdin closes, so a test process that dies takes its
emulator with it; otherwise it serves until SIGINT or SIGTERM.

The extensions live in the package `emulator/` beside this file, one module per service; the
control API (/_emulator/config, /_emulator/edge, /_emulator/associations) is described in
emulator/control.py. AWS operations take their time, scaled by --time-scale (emulator seconds per
AWS second).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
import warnings

from child_process import announce_and_wait, budget_stderr

STARTED = time.monotonic()
log = logging.getLogger("emulator")


# --- Output discipline --------------------------------------------------------------------
# The parent reads one line from stdout and may never read stderr. A pipe nobody drains fills
# after 64 KiB and then blocks the writer, which here would be a request thread: so stderr gets
# a fixed budget, and werkzeug's one-line-per-request log is off unless asked for.

def _configure_output(verbose: bool) -> None:
    budget_stderr("emulator", verbose)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s: %(message)s")
    log.setLevel(logging.INFO if verbose else logging.WARNING)  # tests inherit this stderr: stay quiet
    logging.getLogger("werkzeug").setLevel(logging.INFO if verbose else logging.ERROR)
    # "No Moto CloudFormation support for X" and friends: expected here, and noise in a test log.
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("the time scale cannot be negative")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--time-scale", type=_scale, default=None,
                        help="emulator seconds per AWS second (default 0.002: 5 minutes take 0.6 s)")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when stdin closes")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr, unbounded")
    args = parser.parse_args(argv)

    _configure_output(args.verbose)
    if args.port and not _port_free(args.host, args.port):
        # ThreadedMotoServer.start() would wait for ever on a server thread that died binding.
        log.error("cannot listen on %s:%s: address in use", args.host, args.port)
        return 1
    import emulator
    from emulator import clock

    try:
        emulator.install()
    except emulator.MotoVersionError as error:
        log.error("%s", error)
        return 1
    if args.time_scale is not None:
        clock.SETTINGS.set_defaults({"time_scale": args.time_scale})
    server = emulator.server(args.host, args.port)
    host, port = server.get_host_and_port()
    log.info("serving on %s:%s after %.2fs", host, port, time.monotonic() - STARTED)
    announce_and_wait(host, port, args.exit_on_stdin_eof)

    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    stopper.join(5.0)  # requests still in flight do not hold the exit up
    log.info("stopped")
    logging.shutdown()
    # Request threads are daemons that may still be inside moto: skip the interpreter's
    # finalization rather than let it trip over them.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
