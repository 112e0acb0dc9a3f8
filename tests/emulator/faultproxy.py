#!/usr/bin/env python3
"""Fault-injecting HTTP/1.1 proxy in front of the emulator, for lambda-edge-deploy's tests.

    python tests/emulator/faultproxy.py --target http://127.0.0.1:PORT [--port 0] [--every 3]
        [--exit-on-stdin-eof] [--hold ACTION=SECONDS ...] [--verbose]

Prints exactly one line, `LISTENING http://127.0.0.1:PORT`, to stdout once it serves; all else goes
to stderr, within a fixed budget (the parent may never read it). On exit (stdin closed with
--exit-on-stdin-eof, SIGINT or SIGTERM) it prints one line of counters to stderr:

    faultproxy: counters requests=N forwarded=N unavailable=N throttled=N closed=N held=N dropped=N

Every request is forwarded verbatim (method, path and query, headers in order, body bytes as
framed), so a SigV4 signature stays valid. That includes Host as the client sent it: the SDKs sign
`host` as the authority of the endpoint they connect to, which is this proxy's address, so the
emulator must see that Host, not its own.

Faults: every --every-th request (counted across all requests; 0 means never) is answered by the
proxy itself, rotating among three kinds, and is never forwarded (so a retry is always safe):

    unavailable  HTTP 503 with a body in the service's own error format
    throttled    the service's own throttling error: s3 503 SlowDown, lambda 429
                 TooManyRequestsException, cloudformation, cloudfront (and iam, sts)
                 400 Throttling; another service: a plain 503
    closed       the connection is closed without any response

The service comes from the SigV4 credential scope (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`).
Requests to /moto-api/ and /_emulator/ (the emulator's own APIs) are never faulted, held or counted.

--hold ACTION=SECONDS delays the forwarding of requests for ACTION (query protocol: `Action=` in
the form body or query; JSON protocol: X-Amz-Target; a few REST calls by method and path, see
REST_ACTIONS) by SECONDS. If the client closes its connection meanwhile, the request is dropped,
never forwarded: a killed client's call never reaches the emulator.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import select
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from child_process import announce_and_wait, budget_stderr

# Headers that belong to one connection, not to the request or response: not passed on. None of
# them is ever signed (the SDKs add them below the signer, if at all). `Expect: 100-continue` is
# answered here (by http.server) and passed on too; http.client skips the emulator's interim 100.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "upgrade"}

# REST operations that --hold can name: (service, method, path pattern) -> action.
REST_ACTIONS = [
    ("lambda", "POST", re.compile(r"^/2015-03-31/functions/[^/]+/versions$"), "PublishVersion"),
    ("lambda", "PUT", re.compile(r"^/2015-03-31/functions/[^/]+/code$"), "UpdateFunctionCode"),
    ("lambda", "GET", re.compile(r"^/2015-03-31/functions/[^/]+/configuration$"), "GetFunctionConfiguration"),
    ("lambda", "GET", re.compile(r"^/2015-03-31/functions/[^/]+/versions$"), "ListVersionsByFunction"),
    ("cloudfront", "PUT", re.compile(r"^/2020-05-31/distribution/[^/]+/config$"), "UpdateDistribution"),
    ("cloudfront", "POST", re.compile(r"^/2020-05-31/distribution/[^/]+/invalidation$"), "CreateInvalidation"),
    ("cloudfront", "GET", re.compile(r"^/2020-05-31/distribution/[^/]+$"), "GetDistribution"),
    ("s3", "PUT", re.compile(r"^/[^/]+/.+"), "PutObject"),
    ("s3", "HEAD", re.compile(r"^/[^/]+/.+"), "HeadObject"),
]

KINDS = ("unavailable", "throttled", "closed")

# Services that answer errors as <ErrorResponse><Error><Type/><Code/><Message/></Error>: the query
# protocol (CloudFormation, IAM, STS) and CloudFront's REST-XML.
XML_NAMESPACES = {
    "cloudformation": "http://cloudformation.amazonaws.com/doc/2010-05-15/",
    "cloudfront": "http://cloudfront.amazonaws.com/doc/2020-05-31/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}
COUNTERS = ("requests", "forwarded", *KINDS, "held", "dropped")


class State:
    def __init__(self, target: str, every: int, holds: dict[str, float], verbose: bool) -> None:
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            raise SystemExit(f"faultproxy: --target must be http://HOST:PORT, not {target!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.every, self.holds, self.verbose = every, holds, verbose
        self.lock = threading.Lock()
        self.seen = 0
        self.faults = 0
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.by_service: dict[str, int] = {}

    def next_fault(self) -> str | None:
        """Counts one request; the fault kind to inject into it, if any."""
        with self.lock:
            self.seen += 1
            self.counts["requests"] += 1
            if self.every <= 0 or self.seen % self.every:
                return None
            kind = KINDS[self.faults % len(KINDS)]
            self.faults += 1
            return kind

    def count(self, name: str, service: str | None = None) -> None:
        with self.lock:
            self.counts[name] += 1
            if service is not None:
                key = f"{service}:{name}"
                self.by_service[key] = self.by_service.get(key, 0) + 1

    def summary(self) -> str:
        with self.lock:
            line = " ".join(f"{k}={self.counts[k]}" for k in COUNTERS)
            detail = " ".join(f"{k}={v}" for k, v in sorted(self.by_service.items()))
        return f"faultproxy: counters {line}\nfaultproxy: faults by service {detail or '-'}\n"


STATE: State  # set in main()


def log(message: str) -> None:
    sys.stderr.write(f"faultproxy: {message}\n")


_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")


def service_of(headers: Any, path: str) -> str:
    found = _SCOPE.search(headers.get("Authorization") or "")
    if not found:  # a presigned URL carries the scope in its query
        credential = parse_qs(urlsplit(path).query).get("X-Amz-Credential", [""])[0]
        found = _SCOPE.search("Credential=" + unquote(credential))
    return found.group(1) if found else "unknown"


def action_of(service: str, method: str, path: str, headers: Any, body: bytes) -> str | None:
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    parts = urlsplit(path)
    form = parse_qs(parts.query)
    content_type = (headers.get("Content-Type") or "").lower()
    if "x-www-form-urlencoded" in content_type and body:
        form.update(parse_qs(body.decode("utf-8", "replace")))
    if form.get("Action"):
        return form["Action"][0]
    for svc, verb, pattern, action in REST_ACTIONS:
        if svc == service and verb == method and pattern.match(parts.path):
            return action
    return None


def _rid() -> str:
    return str(uuid.uuid4())


def fault_response(kind: str, service: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """A 503 (kind `unavailable`) or a throttling error (kind `throttled`) as `service` sends it."""
    rid = _rid()
    if service == "s3":
        code, message = (
            ("ServiceUnavailable", "Service is unable to handle request.")
            if kind == "unavailable"
            else ("SlowDown", "Please reduce your request rate.")
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{rid}</RequestId>"
            "<HostId>faultproxy</HostId></Error>"
        )
        return 503, [("Content-Type", "application/xml"), ("x-amz-request-id", rid), ("x-amz-id-2", "faultproxy")], body.encode()
    if service == "lambda":
        if kind == "unavailable":
            status, code, doc = 503, "ServiceException", '{"Type":"Service","message":"Service unavailable, try again."}'
        else:
            status, code = 429, "TooManyRequestsException"
            doc = '{"Type":"User","message":"Rate exceeded","Reason":"CallerRateLimitExceeded","retryAfterSeconds":"1"}'
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", rid), ("x-amzn-ErrorType", code)]
        return status, headers, doc.encode()
    if service in XML_NAMESPACES:  # the query protocol's (and CloudFront's) <ErrorResponse>
        status, kind_type, code, message = (
            (503, "Receiver", "ServiceUnavailable", "Service is unavailable, try again.")
            if kind == "unavailable"
            else (400, "Sender", "Throttling", "Rate exceeded")
        )
        body = (
            f'<?xml version="1.0"?>\n<ErrorResponse xmlns="{XML_NAMESPACES[service]}"><Error><Type>{kind_type}</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>"
        )
        return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)], body.encode()
    text = "Service Unavailable" if kind == "unavailable" else "Rate exceeded"
    return 503, [("Content-Type", "text/plain")], text.encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    server_version = "faultproxy"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        if STATE.verbose:
            log(format % args)

    def _read_body(self) -> bytes:
        """The body bytes exactly as framed by the client (chunked framing kept)."""
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if "chunked" not in (self.headers.get("Transfer-Encoding") or "").lower():
            return b""
        raw = bytearray()
        while True:
            size_line = self.rfile.readline(65537)
            raw += size_line
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers, up to the blank line
                    line = self.rfile.readline(65537)
                    raw += line
                    if line in (b"\r\n", b"\n", b""):
                        return bytes(raw)
            raw += self.rfile.read(size + 2)

    def _client_gone(self, seconds: float) -> bool:
        """Waits up to `seconds`; True as soon as the client has closed its connection."""
        sock = self.connection
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            readable, _, _ = select.select([sock], [], [], min(left, 0.1))
            if readable:
                try:
                    if sock.recv(1, socket.MSG_PEEK) == b"":
                        return True
                except OSError:
                    return True
                time.sleep(min(left, 0.1))  # data (a pipelined request): keep holding

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status)
        has_length = False
        for name, value in headers:
            lower = name.lower()
            if lower in HOP_BY_HOP or lower == "transfer-encoding":
                continue
            has_length = has_length or lower == "content-length"
            self.send_header(name, value)
        no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        if not has_length and not no_body:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not no_body:
            self.wfile.write(body)
        self.wfile.flush()

    def _handle(self) -> None:
        body = self._read_body()
        path = self.path
        if path.split("?")[0].rstrip("/") in ("/moto-api", "/_emulator") or path.startswith(("/moto-api/", "/_emulator/")):
            self._forward(body, counted=False)
            return
        service = service_of(self.headers, path)
        action = action_of(service, self.command, path, self.headers, body)
        kind = STATE.next_fault()
        if kind is not None:
            STATE.count(kind, service)
            log(f"fault {kind}: {service} {action or '?'} ({self.command} {path[:100]})")
            if kind == "closed":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self._reply(*fault_response(kind, service))
            return
        if action is not None and action in STATE.holds:
            seconds = STATE.holds[action]
            STATE.count("held", service)
            log(f"holding {action} for {seconds:g}s")
            if self._client_gone(seconds):
                STATE.count("dropped", service)
                log(f"dropped {action}: the client closed its connection while it was held")
                self.close_connection = True
                return
            log(f"releasing {action} after {seconds:g}s")
        self._forward(body, counted=True)

    def _forward(self, body: bytes, counted: bool) -> None:
        upstream = http.client.HTTPConnection(STATE.host, STATE.port, timeout=300)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    upstream.putheader(name, value)
            upstream.endheaders()
            if body:
                upstream.send(body)
            response = upstream.getresponse()
            data = response.read()
            headers = response.getheaders()
            status = response.status
        except (OSError, http.client.HTTPException) as error:
            log(f"upstream failed for {self.command} {self.path[:120]}: {error!r}")
            status, headers, data = 502, [("Content-Type", "text/plain")], f"faultproxy: upstream failed: {error}".encode()
        finally:
            upstream.close()
        if counted:
            STATE.count("forwarded")
        self._reply(status, headers, data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            log(f"error serving {client_address}: {error!r}")


def _hold(spec: str) -> tuple[str, float]:
    action, sep, seconds = spec.partition("=")
    try:
        if not sep or not action:
            raise ValueError
        return action, float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ACTION=SECONDS, not {spec!r}") from None


def main(argv: list[str] | None = None) -> int:
    global STATE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", required=True, help="the emulator, http://HOST:PORT")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--every", type=int, default=3, help="fault every N-th request; 0 never (default 3)")
    parser.add_argument("--hold", type=_hold, action="append", default=[], metavar="ACTION=SECONDS")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when stdin closes")
    parser.add_argument("--verbose", action="store_true", help="log every request, stderr unbounded")
    args = parser.parse_args(argv)

    budget_stderr("faultproxy", args.verbose)
    STATE = State(args.target, args.every, dict(args.hold), args.verbose)
    server = Server((args.host, args.port), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    host, port = server.server_address[:2]
    announce_and_wait(host, port, args.exit_on_stdin_eof)

    try:  # outside the budget: the counters are what a test reads
        sys.__stderr__.write(STATE.summary())
        sys.__stderr__.flush()
    except (OSError, ValueError):
        pass
    # Held requests sleep on daemon threads: leave without waiting for them.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
