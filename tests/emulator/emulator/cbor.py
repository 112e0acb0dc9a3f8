"""The Smithy RPC v2 CBOR protocol, for CloudWatch: what the AWS SDK for Rust speaks to it.

CloudWatch accepts three protocols (botocore's service model lists `"protocols":
["smithy-rpc-v2-cbor", "json", "query"]`), and the AWS SDK for Rust (aws-sdk-cloudwatch 1.140) uses
the first: each call is `POST /service/GraniteServiceVersion20100801/operation/<Operation>` with
`Smithy-Protocol: rpc-v2-cbor`, `Content-Type: application/cbor` and the input structure as CBOR.
moto 5.2.5 serves CloudWatch's JSON (`X-Amz-Target: GraniteServiceVersion20100801.<Operation>` on
POST /) and query protocols only, and answered 404. This module translates, in front of moto's WSGI
application, the one protocol into the other, so that every operation moto's JSON handler serves
(and the emulator's own CloudWatch checks, cloudwatch.py, which patch moto's backend) also answers
in CBOR.

What it reproduces, from the Smithy specification "Smithy RPC v2 CBOR protocol"
(smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html) and the
`aws.protocols#awsQueryCompatible` trait that CloudWatch carries:

- Routing: a POST to `{prefix?}/service/{serviceName}/operation/{operationName}` with the
  `Smithy-Protocol: rpc-v2-cbor` header; serviceName is the service shape's name
  (GraniteServiceVersion20100801) or its absolute id with `.` for `#`
  (com.amazonaws.cloudwatch.GraniteServiceVersion20100801). The body may be empty (an empty input
  structure) and may be gzip-compressed (`Content-Encoding: gzip`, the requestCompression trait of
  PutMetricData).
- Shapes: structures and maps are CBOR maps, lists arrays, blobs byte strings; timestamps are
  tag 1 over epoch seconds (an integer, or a float with millisecond resolution), whatever
  timestampFormat says; null members are omitted; floating-point members are CBOR floats and
  integer members CBOR integers (the SDK for Rust reads a double only from a CBOR float, an integer
  only from a CBOR integer, a timestamp only from tag 1). The output's timestamp, blob and number
  members are found from botocore's shapes of the operation's output.
- Responses: status 200; `Smithy-Protocol: rpc-v2-cbor` on every response; `Content-Type:
  application/cbor` with a body; an operation without output (PutMetricData, PutMetricAlarm,
  DeleteAlarms, ...) answers an empty body and no Content-Type; an output structure, even empty, a
  CBOR map. No `X-Amzn-ErrorType` header.
- Errors: moto's status (the error shape's httpStatusCode: InvalidParameterValue 400,
  ResourceNotFound 404, ...), a CBOR map with `__type` the error shape's absolute id
  (`com.amazonaws.cloudwatch#InvalidParameterValueException`), `message`, and the shape's other
  members; and, CloudWatch being awsQueryCompatible, the header `x-amzn-query-error:
  <awsQueryError code>;<Sender|Receiver>` (`InvalidParameterValue;Sender`), from which the SDKs
  take the error code (the SDK for Rust matches `InvalidParameterValue`, not the shape's name; see
  the smithy protocol test QueryCompatibleRpcV2CborCustomCodeError). Errors that have no shape of
  the service (InvalidClientTokenId, SignatureDoesNotMatch with authentication on, auth.py) carry
  their code as `__type` and in the same header.

With authentication on (auth.py), moto checks the signature against the request as it was signed:
the CBOR body, the /service/... path and the original headers (see _patch_signature_check).

Not reproduced: requests that carry X-Amz-Target or another Content-Type are not refused; an
unsigned request does not reach CloudWatch (moto finds the service from the credential scope of
the Authorization header); an operation unknown to the model answers 400
`UnknownOperationException`, as the JSON protocol of AWS does; one that moto does not implement
answers 501 `NotImplemented` (CloudWatch would serve it); event streams and bigInteger/bigDecimal
members (CloudWatch has none).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import logging
import math
import re
import struct
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, Iterable, NamedTuple

log = logging.getLogger("emulator")

PROTOCOL = "rpc-v2-cbor"
CONTENT_TYPE = "application/cbor"
ORIGINAL = "emulator.rpcv2cbor.original"  # environ key: the request as the client signed it
_ROUTE = re.compile(r"^(?:.*)/service/(?P<service>[^/]+)/operation/(?P<operation>[^/]+)/?$")


class Service(NamedTuple):
    botocore_name: str  # botocore's (and moto's) name of the service
    namespace: str  # the Smithy namespace of its shapes: __type is "<namespace>#<ErrorShape>"
    moto_response: str  # moto's BaseResponse class of the service, "module:Class"


# By the service shape's name in the URL (botocore's targetPrefix). Another service that lists
# "smithy-rpc-v2-cbor" and "json" in botocore's model and that moto serves in JSON is one line here.
SERVICES: dict[str, Service] = {
    "GraniteServiceVersion20100801": Service(
        "cloudwatch", "com.amazonaws.cloudwatch", "moto.cloudwatch.responses:CloudWatchResponse"),
}


def _service_for(segment: str) -> tuple[str, Service] | None:
    if segment in SERVICES:
        return segment, SERVICES[segment]
    for name, service in SERVICES.items():  # the absolute shape id, '#' written '.'
        if segment == f"{service.namespace}.{name}":
            return name, service
    return None


@lru_cache(maxsize=None)
def _service_model(botocore_name: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(botocore_name)


@lru_cache(maxsize=None)
def _implemented(service: Service) -> frozenset[str]:
    import importlib

    from moto.core.utils import method_names_from_class

    module, _, name = service.moto_response.partition(":")
    return frozenset(method_names_from_class(getattr(importlib.import_module(module), name)))


# --- CBOR to the JSON protocol's document ---------------------------------------------------

class MalformedRequest(ValueError):
    pass


def _to_json_value(value: Any) -> Any:
    """A decoded CBOR item as the AWS JSON protocol writes it: timestamps (tag 1, decoded by cbor2
    to an aware datetime) as epoch seconds, blobs as base64, NaN and the infinities as strings,
    null (and CBOR undefined) members left out."""
    import cbor2

    if isinstance(value, dict):
        return {str(k): _to_json_value(v) for k, v in value.items() if v is not None and v is not cbor2.undefined}
    if isinstance(value, (list, tuple)):
        return [None if v is cbor2.undefined else _to_json_value(v) for v in value]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, bool) or isinstance(value, (int, str)) or value is None:
        return value
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, cbor2.CBORTag):  # a tag the protocol does not use: its content
        return _to_json_value(value.value)
    raise MalformedRequest(f"unexpected CBOR item {type(value).__name__}")


def decode_request(body: bytes) -> dict[str, Any]:
    """The JSON document of a CBOR input structure; an empty body is an empty structure."""
    import cbor2

    if not body:
        return {}
    try:
        decoded = cbor2.loads(body)
    except Exception as error:  # cbor2 raises several kinds for malformed input
        raise MalformedRequest(f"the body is not CBOR: {error}") from None
    if decoded is None or decoded is cbor2.undefined:
        return {}
    if not isinstance(decoded, dict):
        raise MalformedRequest("the body is not a CBOR map (the operation's input structure)")
    return _to_json_value(decoded)


# --- The JSON protocol's document to CBOR, by botocore's shapes -----------------------------

class _Float32:
    """A `float` member: CBOR single precision (the SDK for Rust reads f32 from nothing wider)."""

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value


_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}  # the JSON protocol's spelling


def _number(value: Any) -> float:
    if isinstance(value, str) and value in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[value]
    return float(value)


def _epoch(value: Any) -> int | float:
    if isinstance(value, datetime):
        seconds = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    elif isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            from botocore.utils import parse_timestamp

            seconds = parse_timestamp(value).timestamp()
    else:
        seconds = float(value)
    seconds = round(seconds, 3)  # millisecond resolution
    return int(seconds) if seconds.is_integer() else seconds


def to_cbor_value(value: Any, shape: Any) -> Any:
    """A value of moto's JSON answer as the CBOR item of its shape (None: untyped, kept as is)."""
    import cbor2

    if value is None:
        return None
    kind = getattr(shape, "type_name", None)
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: to_cbor_value(v, members.get(k)) for k, v in value.items() if v is not None}
    if kind == "list" and isinstance(value, list):
        return [to_cbor_value(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: to_cbor_value(v, shape.value) for k, v in value.items() if v is not None}
    if kind == "timestamp":
        return cbor2.CBORTag(1, _epoch(value))
    if kind == "blob":
        return base64.b64decode(value) if isinstance(value, str) else bytes(value)
    if kind == "double":
        return _number(value)
    if kind == "float":
        return _Float32(_number(value))
    if kind in ("integer", "long", "short", "byte"):
        return int(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if isinstance(value, dict):
        return {k: to_cbor_value(v, None) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [to_cbor_value(v, None) for v in value]
    return value


def _encode_float(encoder: Any, value: float) -> None:
    # Every double as a CBOR double, NaN and the infinities too: the protocol says floats SHOULD
    # NOT be sent as half precision, which is what cbor2 writes for those three.
    encoder.write(b"\xfb" + struct.pack(">d", value))


def _encode_other(encoder: Any, value: Any) -> None:
    import cbor2

    if isinstance(value, _Float32):
        encoder.write(b"\xfa" + struct.pack(">f", value.value))
        return
    raise cbor2.CBOREncodeTypeError(f"cannot serialize {type(value).__name__} to CBOR")


def encode(document: Any) -> bytes:
    import cbor2

    return cbor2.dumps(document, encoders={float: _encode_float}, default=_encode_other)


# --- Errors ---------------------------------------------------------------------------------

_XML_CODE = re.compile(rb"<Code>([^<]*)</Code>")
_XML_MESSAGE = re.compile(rb"<Message>([^<]*)</Message>")


def _sanitize(code: str) -> str:
    """An error code as the SDKs read it from __type: after the last '#', before any ':'."""
    return code.split(":", 1)[0].rsplit("#", 1)[-1]


def _error_shape(model: Any, operation: str | None, name: str, query_code: str | None) -> Any:
    """The error shape of moto's error: by its name, else by its awsQueryError code, among the
    operation's errors first (two shapes of CloudWatch share the code ResourceNotFound:
    GetDashboard's DashboardNotFoundError and ResourceNotFound), then among the service's."""
    codes = {c for c in (query_code, name) if c}
    listed = list(model.operation_model(operation).error_shapes) if operation in model.operation_names else []
    for shapes in (listed, list(model.error_shapes)):
        for shape in shapes:
            if shape.name == name:
                return shape
        for shape in shapes:
            if (shape.metadata.get("error") or {}).get("code") in codes:
                return shape
    return None


def error_document(service: Service, operation: str | None, status: int, headers: dict[str, str],
                   body: bytes) -> tuple[dict[str, Any], str | None]:
    """moto's error answer (JSON, or the awsQuery XML of auth.py's errors, or anything) as the CBOR
    error map, and the x-amzn-query-error header it carries."""
    from xml.sax.saxutils import unescape

    model = _service_model(service.botocore_name)
    document: dict[str, Any] = {}
    code = message = None
    try:
        parsed = json.loads(body) if body.strip() else {}
        if isinstance(parsed, dict):
            document = parsed
            code = parsed.get("__type") or parsed.get("code") or parsed.get("Code")
            message = parsed.get("message") or parsed.get("Message")
    except ValueError:
        found = _XML_CODE.search(body)
        if found:
            code = unescape(found.group(1).decode(errors="replace"))
            found = _XML_MESSAGE.search(body)
            message = unescape(found.group(1).decode(errors="replace")) if found else None
        else:
            message = f"the emulator answered {status}: {body[:200].decode(errors='replace')}"
    lower = {k.lower(): v for k, v in headers.items()}
    query_error = lower.get("x-amzn-query-error")
    code = _sanitize(str(code or lower.get("x-amzn-errortype") or ""))
    if not code and query_error:
        code = query_error.split(";", 1)[0]
    if not code:
        code = "InternalFailure" if status >= 500 else "UnknownError"
    shape = _error_shape(model, operation, code, query_error.split(";", 1)[0] if query_error else None)
    answer: dict[str, Any] = {"__type": f"{service.namespace}#{shape.name}" if shape is not None else code}
    message_member = "message"
    if shape is not None:
        message_member = next((m for m in shape.members if m.lower() == "message"), "message")
        for member, member_shape in shape.members.items():
            if member.lower() != "message" and document.get(member) is not None:
                answer[member] = to_cbor_value(document[member], member_shape)
    if message:
        answer[message_member] = str(message)
    if query_error is None and "awsQueryCompatible" in model.metadata:
        error = (shape.metadata.get("error") or {}) if shape is not None else {}
        query_code = error.get("code") or (shape.name if shape is not None else code)
        query_error = f"{query_code};{'Sender' if error.get('senderFault', status < 500) else 'Receiver'}"
    return answer, query_error


# --- The WSGI layer -------------------------------------------------------------------------

_DROPPED_HEADERS = {"content-type", "content-length", "status", "x-amzn-errortype", "x-amzn-query-error"}


def _read_body(environ: dict[str, Any]) -> bytes:
    from werkzeug.wsgi import get_input_stream

    return get_input_stream(environ).read()


class RpcV2CborApp:
    """Wraps moto's WSGI application: an RPC v2 CBOR request of a service in SERVICES is answered
    by the same operation in the JSON protocol, translated both ways; every other request is
    moto's, untouched."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = self._route(environ)
        if route is None:
            return self.app(environ, start_response)
        name, service, operation = route
        try:
            return self.serve(environ, start_response, name, service, operation)
        except Exception as error:  # answer in the protocol, whatever went wrong here
            log.exception("RPC v2 CBOR %s %s", name, operation)
            return self._respond(start_response, 500, [], {"__type": "InternalFailure",
                                                           "message": f"{type(error).__name__}: {error}"})

    @staticmethod
    def _route(environ: dict[str, Any]) -> tuple[str, Service, str] | None:
        if environ.get("REQUEST_METHOD") != "POST":
            return None
        if (environ.get("HTTP_SMITHY_PROTOCOL") or "").strip().lower() != PROTOCOL:
            return None
        found = _ROUTE.match(environ.get("PATH_INFO") or "")
        if not found:
            return None
        service = _service_for(found.group("service"))
        if service is None:
            return None
        return service[0], service[1], found.group("operation")

    def serve(self, environ: dict[str, Any], start_response: Callable[..., Any], name: str, service: Service,
              operation: str) -> list[bytes]:
        from moto.core.utils import camelcase_to_underscores

        model = _service_model(service.botocore_name)
        raw = _read_body(environ)
        original = dict(environ)
        original["wsgi.input"] = io.BytesIO(raw)
        if operation not in model.operation_names:
            return self._respond(start_response, 400, [], {
                "__type": "UnknownOperationException",
                "message": f"{model.metadata.get('serviceId')} has no operation {operation}"})
        if camelcase_to_underscores(operation) not in _implemented(service):
            return self._respond(start_response, 501, [], {
                "__type": "NotImplemented",
                "message": f"the emulator (moto) does not implement {model.metadata.get('serviceId')} {operation}"})
        body = raw
        if (environ.get("HTTP_CONTENT_ENCODING") or "").strip().lower() == "gzip":
            try:
                body = gzip.decompress(raw)
            except OSError as error:
                return self._respond(start_response, 400, [], {"__type": "SerializationException",
                                                               "message": f"Content-Encoding gzip: {error}"})
        try:
            document = decode_request(body)
        except MalformedRequest as error:
            return self._respond(start_response, 400, [], {"__type": "SerializationException", "message": str(error)})

        translated = dict(environ)
        payload = json.dumps(document).encode()
        for key in ("HTTP_SMITHY_PROTOCOL", "HTTP_CONTENT_ENCODING", "HTTP_TRANSFER_ENCODING"):
            translated.pop(key, None)
        translated.update({
            "PATH_INFO": "/", "RAW_URI": "/", "REQUEST_URI": "/",
            "CONTENT_TYPE": "application/x-amz-json-1.0", "CONTENT_LENGTH": str(len(payload)),
            "HTTP_X_AMZ_TARGET": f"{name}.{operation}", "wsgi.input": io.BytesIO(payload),
            "wsgi.input_terminated": False, ORIGINAL: original,
        })
        status, headers, answer = self._call(translated)
        kept = [(k, v) for k, v in headers if k.lower() not in _DROPPED_HEADERS]
        if 200 <= status < 300:
            output = model.operation_model(operation).output_shape
            if output is None:
                return self._respond(start_response, 200, kept, None)
            parsed = json.loads(answer) if answer.strip() else {}
            return self._respond(start_response, 200, kept, to_cbor_value(parsed, output))
        document, query_error = error_document(service, operation, status, dict(headers), answer)
        if query_error:
            kept.append(("x-amzn-query-error", query_error))
        return self._respond(start_response, status, kept, document)

    def _call(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"], captured["headers"] = status, list(headers)
            return lambda data: captured.setdefault("written", []).append(data)

        answer = self.app(environ, capture)
        try:
            chunks = list(answer)
        finally:
            if hasattr(answer, "close"):
                answer.close()
        body = b"".join(captured.get("written", []) + [c if isinstance(c, bytes) else c.encode() for c in chunks])
        return int(captured["status"].split()[0]), captured["headers"], body

    @staticmethod
    def _respond(start_response: Callable[..., Any], status: int, headers: list[tuple[str, str]],
                 document: Any) -> list[bytes]:
        from werkzeug.http import HTTP_STATUS_CODES

        body = b"" if document is None else encode(document)
        headers = list(headers) + [("smithy-protocol", PROTOCOL), ("Content-Length", str(len(body)))]
        if document is not None:
            headers.append(("Content-Type", CONTENT_TYPE))
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}", headers)
        return [body]


# --- The signature, as the client computed it -----------------------------------------------

def _patch_signature_check() -> None:
    """With authentication on, moto recomputes the SigV4 signature from the request it handles:
    the translated one (path /, a JSON body, X-Amz-Target) would never match. IAMRequest is given
    the request as it arrived (method, /service/... path, CBOR body, headers) instead."""
    from moto.iam.access_control import IAMRequestBase
    from werkzeug.datastructures import EnvironHeaders

    original_init = IAMRequestBase.__init__

    def __init__(self: Any, account_id: str, method: str, path: str, data: Any, body: Any, headers: Any,
                 action: Any) -> None:
        environ = getattr(headers, "environ", None)
        signed = environ.get(ORIGINAL) if isinstance(environ, dict) else None
        if signed is not None:
            method = signed.get("REQUEST_METHOD", method)
            path = signed.get("RAW_URI") or signed.get("REQUEST_URI") or signed.get("PATH_INFO") or path
            if "?" not in path and signed.get("QUERY_STRING"):
                path += "?" + signed["QUERY_STRING"]
            body = signed["wsgi.input"].getvalue()
            headers = EnvironHeaders(signed)
        original_init(self, account_id, method, path, data, body, headers, action)

    IAMRequestBase.__init__ = __init__


def install() -> None:
    _patch_signature_check()
    for service in SERVICES.values():  # load the models now, not under a request
        _service_model(service.botocore_name)
