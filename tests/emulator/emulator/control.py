"""The emulator's control API, on its own port beside moto's APIs, and the server that carries it.

    GET  /_emulator/config   the current settings, as JSON
    POST /_emulator/config   a JSON object with any subset of the settings; applies it (all or
                             nothing: 400 with {"Error": ...} if one is wrong) and answers the
                             full settings
    POST /_emulator/edge     {"DistributionId": "E..."} -> {"Url": "http://127.0.0.1:PORT"}: an
                             HTTP server standing in for that distribution's edge (edge.py's
                             start_edge); 404 for an unknown distribution, 400 for a staging
                             distribution (viewers never reach one directly: start its primary's
                             edge, which routes to it by the continuous deployment policy), 501
                             without edge.py
    GET  /_emulator/associations?DistributionId=E...
                             -> {"DistributionId": "E...", "History": [{"At": <epoch seconds>,
                             "Associations": [{"EventType": ..., "LambdaFunctionARN": ...}, ...]},
                             ...]}: every Lambda@Edge association the distribution has had, oldest
                             first (associations.py): an entry at its creation and at each change of
                             its associations, however made (UpdateDistribution, CopyDistribution,
                             UpdateDistributionWithStagingConfig, a stack's create, update or
                             rollback); a cache behavior's associations carry its "PathPattern"; a
                             deletion adds {"At", "Associations": [], "Deleted": true}. Kept after
                             the distribution is deleted; 404 for a distribution that never existed,
                             400 without DistributionId

Settings (defaults in clock.py):

    time_scale          float, emulator seconds per AWS second (0.002: CloudFront's 5 minutes of
                        deployment take 0.6 s). The launcher's --time-scale sets the initial value.
    durations           object, AWS seconds, merged key by key: stack_create 60, stack_update 30,
                        stack_delete 30, stack_rollback 30 (added to a failed create or update, and
                        the whole of a cancel), distribution_deploy 300 (a distribution after each
                        create or update; a stack operation that creates or updates one lasts that
                        much longer, as CloudFormation waits for CloudFront), invalidation 60,
                        change_set 5, replica_delay 10800 (3 hours: a Lambda@Edge version that a
                        distribution associates cannot be deleted, nor its function, until this long
                        after its last association went, by UpdateDistribution, DeleteDistribution or
                        a stack's change to its distribution: DeleteFunction fails with "... because
                        it is a replicated function". Read at each DeleteFunction, so a change also
                        applies to associations removed before it. CloudFormation's own deletes are
                        not refused: a stack's DELETE_FAILED is fail_delete_stacks').
    s3_list_bucket      bool, true: HeadObject/GetObject of a missing key answer 404 as S3 does for
                        a caller allowed s3:ListBucket; false: 403 AccessDenied (HEAD: no body).
    fail_delete_stacks  list of stack names: DeleteStack of such a stack ends DELETE_FAILED, one of
                        its resources (its AWS::Lambda::Version if it has one: "Lambda was unable to
                        delete ... because it is a replicated function") DELETE_FAILED, nothing
                        deleted. Remove the name and DeleteStack deletes it.

Durations are read when an operation starts: a change applies to the operations started after it.

POST /moto-api/reset (moto's) also resets the emulator's own state: ClientRequestTokens, when each
Lambda@Edge version lost its last association, the history of associations, the settings (back to the launch-time values) and
the clocks of what moto forgets. A transition set with /moto-api/state-manager/set-transition for
cloudfront::distribution takes precedence over the time-based default (unset-transition goes back
to it).

Requests under /_emulator/ never reach moto.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, Callable
from urllib.parse import parse_qs

from . import associations, clock

log = logging.getLogger("emulator")

PREFIX = "/_emulator"


def _json(start_response: Callable[..., Any], status: str, document: Any) -> list[bytes]:
    body = json.dumps(document).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _read_json(environ: dict[str, Any]) -> Any:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    if not raw.strip():
        return {}
    return json.loads(raw)


def _distribution_exists(distribution_id: str) -> bool:
    from moto.cloudfront.models import cloudfront_backends

    for account in list(cloudfront_backends.keys()):
        for partition in list(cloudfront_backends[account].keys()):
            if distribution_id in cloudfront_backends[account][partition].distributions:
                return True
    return False


def _start_edge(distribution_id: str) -> str:
    import edge  # tests/emulator/edge.py, imported on first use

    return edge.start_edge(distribution_id)


@clock.on_reset
def _reset_edges() -> None:
    # The edges serve what moto no longer has after a reset: edge.py stops them and forgets their caches.
    edge = sys.modules.get("edge")
    if edge is not None and hasattr(edge, "reset"):
        edge.reset()


class ControlApp:
    """Wraps moto's WSGI app: /_emulator/ is answered here, /moto-api/reset also resets the
    emulator's state, everything else is moto's."""

    def __init__(self, moto_app: Callable[..., Any]) -> None:
        self.moto_app = moto_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "") or ""
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return self.control(environ, start_response, path[len(PREFIX):].strip("/"))
        if path.rstrip("/") == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
            answer = self.moto_app(environ, start_response)
            try:
                chunks = list(answer)
            finally:
                if hasattr(answer, "close"):
                    answer.close()
            clock.reset()
            log.info("reset: moto's state and the emulator's")
            return chunks
        return self.moto_app(environ, start_response)

    def control(self, environ: dict[str, Any], start_response: Callable[..., Any], name: str) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if name == "config":
                if method == "GET":
                    return _json(start_response, "200 OK", clock.SETTINGS.snapshot())
                if method == "POST":
                    settings = clock.SETTINGS.update(_read_json(environ))
                    log.info("settings: %s", settings)
                    return _json(start_response, "200 OK", settings)
                return _json(start_response, "405 Method Not Allowed", {"Error": "GET or POST /_emulator/config"})
            if name == "edge":
                if method != "POST":
                    return _json(start_response, "405 Method Not Allowed", {"Error": "POST /_emulator/edge"})
                request = _read_json(environ)
                distribution_id = request.get("DistributionId") if isinstance(request, dict) else None
                if not isinstance(distribution_id, str) or not distribution_id:
                    return _json(start_response, "400 Bad Request", {"Error": 'expected {"DistributionId": "E..."}'})
                if not _distribution_exists(distribution_id):
                    return _json(start_response, "404 Not Found", {
                        "Error": f"NoSuchDistribution: distribution {distribution_id} does not exist"})
                try:
                    url = _start_edge(distribution_id)
                except ModuleNotFoundError as error:
                    if error.name != "edge":
                        raise
                    return _json(start_response, "501 Not Implemented", {
                        "Error": "the edge stand-in is not available: tests/emulator/edge.py (start_edge) is missing"})
                except KeyError as error:  # the distribution went meanwhile
                    return _json(start_response, "404 Not Found", {"Error": f"NoSuchDistribution: {error}"})
                except ValueError as error:  # a staging distribution
                    return _json(start_response, "400 Bad Request", {"Error": str(error)})
                return _json(start_response, "200 OK", {"Url": url})
            if name == "associations":
                if method != "GET":
                    return _json(start_response, "405 Method Not Allowed", {"Error": "GET /_emulator/associations"})
                query = parse_qs(environ.get("QUERY_STRING", "") or "")
                distribution_id = (query.get("DistributionId") or [""])[0]
                if not distribution_id:
                    return _json(start_response, "400 Bad Request", {"Error": "expected ?DistributionId=E..."})
                history = associations.history(distribution_id)
                if history is None:
                    return _json(start_response, "404 Not Found", {
                        "Error": f"NoSuchDistribution: distribution {distribution_id} never existed"})
                return _json(start_response, "200 OK", {"DistributionId": distribution_id, "History": history})
            return _json(start_response, "404 Not Found", {
                "Error": f"no such control endpoint {PREFIX}/{name}; see {PREFIX}/config, {PREFIX}/edge "
                         f"and {PREFIX}/associations"})
        except (clock.SettingsError, json.JSONDecodeError) as error:
            return _json(start_response, "400 Bad Request", {"Error": str(error)})
        except Exception as error:  # the control API answers, whatever went wrong
            log.exception("control API %s %s", method, name)
            return _json(start_response, "500 Internal Server Error", {"Error": f"{type(error).__name__}: {error}"})


def make_server_class() -> Any:
    """moto's ThreadedMotoServer serving ControlApp around moto's own dispatcher, with the RPC v2
    CBOR protocol translated in between (cbor.py)."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from .cbor import RpcV2CborApp

    class EmulatorServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = ControlApp(RpcV2CborApp(DomainDispatcherApplication(create_backend_app)))
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return EmulatorServer
