"""A WebSocket/JSON bridge for panels that cannot speak HTTP/2 gRPC (Premiere's UXP panels have
fetch, XHR and WebSocket only).

It is just another gRPC client of the server: each JSON request becomes the same RPC, each
response or stream event goes back as JSON (proto3 JSON with the .proto's field names), errors
carry the gRPC code name, message and google.rpc details. One connection carries many calls,
told apart by the `id` the panel gives each.

    panel → {"id": 0, "method": "Authenticate", "token": "<token file contents>"}   (first)
    panel → {"id": 1, "method": "CreateJob", "request": {...CreateJobRequest...}}
    bridge → {"id": 1, "response": {...CreateJobResponse...}}
    panel → {"id": 2, "method": "WatchJob", "request": {"job_id": "..."}}
    bridge → {"id": 2, "event": {...WatchJobResponse...}} ... {"id": 2, "end": true}
    bridge → {"id": 3, "error": {"code": "NOT_FOUND", "message": "...", "details": [...]}}

A browser page can open a WebSocket to localhost too, so the token is asked here whatever the
transport behind it, and nothing but Authenticate is answered before it. A handshake from a web
page (an http(s) Origin other than this machine's; a DNS-rebound name included) is refused
outright: a page the editor visits could otherwise hold connections open and send the largest
messages the bridge takes. Panels send no Origin, or one of their own scheme.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import json
import logging
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import urlsplit

import grpc
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from plugin_server.client import MESSAGE_SIZE_OPTIONS
from plugin_server.errors import details_of
from v2a.v1 import v2a_service_pb2, v2a_service_pb2_grpc

log = logging.getLogger(__name__)

_SERVICE = v2a_service_pb2.DESCRIPTOR.services_by_name["V2AService"]
_METHODS = {m.name: (m, message_factory.GetMessageClass(m.input_type)) for m in _SERVICE.methods}
_STREAMING = {m.name for m in _SERVICE.methods if m.server_streaming}
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

#: A panel that takes in nothing the bridge sends for this long is hung (a suspended host, a
#: stopped process): its connection is dropped, which ends its calls. A send waiting on a full
#: socket holds the connection's lock, so websockets' keepalive (a ping unanswered for 20 s)
#: cannot close it: a hung panel's watch streams held their server slots for as long as it hung.
SEND_TIMEOUT_SECONDS = 30.0
#: How often sends are checked against SEND_TIMEOUT_SECONDS.
SEND_CHECK_SECONDS = 0.5
#: On stop, how long panels get to take their close frame before their sockets are shut: a
#: hung panel's close waited for a send that never ended, and `v2a serve` ignored SIGTERM.
CLOSE_GRACE_SECONDS = 2.0
#: Calls of one connection that run at once, each on a thread of its own; later ones wait their
#: turn. A thread per call as it arrived ran 3,078 threads for a burst of 3,000 WatchJob calls on
#: one connection. The server runs 128 RPCs at once, at most 112 of them watches, so waiting
#: costs a panel nothing and its watches never hold every turn.
MAX_CALLS_PER_CONNECTION = 128


_INT64_TYPES = {FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64}


def _to_json(message) -> dict:
    """proto3 JSON with the .proto's field names, except that every field is there (the first
    clip's `start_sample` 0, a clip's `step` 0) and 64-bit integers are numbers, as the Node
    client reads them: to a panel an absent field is `undefined`, and a string sample count adds
    up as text ("69120" + "76800" is "6912076800"). The server keeps them below 2^53."""
    body = json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)
    return _int64_as_numbers(message.DESCRIPTOR, body)


def _int64_as_numbers(descriptor, body: dict) -> dict:
    for field in descriptor.fields:
        kind = field.message_type
        if field.name not in body or (kind and kind.GetOptions().map_entry):
            continue  # maps: none in what the server answers
        items = body[field.name] if field.is_repeated else [body[field.name]]
        if field.cpp_type in _INT64_TYPES:
            numbers = [int(item) for item in items]
            body[field.name] = numbers if field.is_repeated else numbers[0]
        elif kind:  # a well-known type's JSON (a Timestamp's string) is no dict: left as it is
            for item in items:
                if isinstance(item, dict):
                    _int64_as_numbers(kind, item)
    return body


class _Panel:
    """One panel's connection: its messages sent one at a time, its calls and open streams."""

    def __init__(self, connection: ServerConnection):
        self.connection = connection
        self._send_lock = threading.Lock()
        self._sending_since: float | None = None
        self._lock = threading.Lock()  # guards _streams, _gone and the calls' turns
        self._streams: set[grpc.Call] = set()
        self._gone = False
        self._running = 0
        self._waiting: deque[Callable[[], None]] = deque()
        self.aborted = False

    def send(self, payload: dict) -> None:
        text = json.dumps(payload)
        with self._send_lock:
            self._sending_since = time.monotonic()
            try:
                self.connection.send(text)
            finally:
                self._sending_since = None

    def send_blocked_for(self) -> float:
        """How long the send under way has waited for the panel to take it in (0: none)."""
        since = self._sending_since
        return 0.0 if since is None else time.monotonic() - since

    def abort(self) -> None:
        """Drop the connection now, a send blocked on it included (close() would wait for that
        send); its handler then cancels the panel's streams."""
        self.aborted = True
        with contextlib.suppress(OSError):
            self.connection.socket.shutdown(socket.SHUT_RDWR)

    def run(self, call: Callable[[], None]) -> None:
        """Run a call on a thread, now or once fewer than MAX_CALLS_PER_CONNECTION run."""
        with self._lock:
            if self._running >= MAX_CALLS_PER_CONNECTION:
                self._waiting.append(call)
                return
            self._running += 1
        threading.Thread(target=self._run_calls, args=(call,), daemon=True).start()

    def _run_calls(self, call: Callable[[], None] | None) -> None:
        """`call`, then the calls waiting their turn, in order (none once the panel has gone)."""
        while call is not None:
            try:
                call()
            except Exception:  # one call's failure must not stop the panel's other calls
                log.exception("a WebSocket bridge call failed")
            with self._lock:
                call = self._waiting.popleft() if self._waiting else None
                if call is None:
                    self._running -= 1

    def add_stream(self, stream: grpc.Call) -> bool:
        """Note an open stream, to cancel if the panel goes; False if it has gone already."""
        with self._lock:
            if not self._gone:
                self._streams.add(stream)
            return not self._gone

    def remove_stream(self, stream: grpc.Call) -> None:
        # Ended streams leave at once: a panel connected all day watched thousands of jobs,
        # and every watch it ever ran was kept (10,000: 29 MiB) until it disconnected.
        with self._lock:
            self._streams.discard(stream)

    def gone(self) -> None:
        """The panel disconnected: its open streams are cancelled (the server frees their slots)."""
        with self._lock:
            self._gone = True
            streams, self._streams = self._streams, set()
            self._waiting.clear()  # no one is left to answer
        for stream in streams:
            stream.cancel()


class WebSocketBridge:
    def __init__(self, target: str, token: str, host: str = "127.0.0.1", port: int = 0):
        self.token = token
        self.channel = grpc.insecure_channel(target, options=MESSAGE_SIZE_OPTIONS)
        self.stub = v2a_service_pb2_grpc.V2AServiceStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),)
        self.server: Server = serve(self._handle, host, port, compression=None,
                                    process_request=_refuse_web_pages,
                                    max_size=64 * 1024 * 1024)  # inline timelines can be big
        self.host = host
        self.port = self.server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="v2a-ws",
                                        daemon=True)
        self._panels: set[_Panel] = set()
        self._panels_lock = threading.Lock()
        self._stopped = threading.Event()
        self._send_checker = threading.Thread(target=self._drop_hung_panels,
                                              name="v2a-ws-sends", daemon=True)

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        self._send_checker.start()

    def stop(self) -> None:
        self._stopped.set()
        closing = threading.Thread(target=self.server.shutdown, name="v2a-ws-stop", daemon=True)
        closing.start()  # closes every connection with 1001, waiting for each panel's reply
        closing.join(CLOSE_GRACE_SECONDS)
        if closing.is_alive():  # a hung panel: its close frame waits behind a blocked send
            for panel in self._open_panels():
                panel.abort()
            closing.join(5)
        self._thread.join(timeout=5)
        self.channel.close()

    def _open_panels(self) -> list[_Panel]:
        with self._panels_lock:
            return list(self._panels)

    def _drop_hung_panels(self) -> None:
        while not self._stopped.wait(SEND_CHECK_SECONDS):
            for panel in self._open_panels():
                blocked = panel.send_blocked_for()
                if blocked > SEND_TIMEOUT_SECONDS and not panel.aborted:
                    log.warning("dropped a WebSocket panel that took in nothing for %.0f s "
                                "(hung?); its watch streams are cancelled", blocked)
                    panel.abort()

    # --- one connection ---

    def _handle(self, connection: ServerConnection) -> None:
        panel = _Panel(connection)
        with self._panels_lock:
            self._panels.add(panel)
        authenticated = False
        try:
            for raw in connection:
                try:
                    message = json.loads(raw)
                    call_id, method = message.get("id"), message.get("method", "")
                except (ValueError, AttributeError):
                    panel.send({"id": None, "error": _error("INVALID_ARGUMENT",
                                                            "not a JSON object")})
                    continue
                if isinstance(call_id, float) and not math.isfinite(call_id):
                    # Python's JSON reads 1e400 as infinity and NaN as NaN; echoed, the reply
                    # was no JSON (`Infinity`), which a panel's JSON.parse throws on.
                    panel.send({"id": None, "error": _error(
                        "INVALID_ARGUMENT", "id: a string or a finite number")})
                    continue
                if method == "Authenticate":
                    # As bytes: compare_digest refuses str with non-ASCII characters. Stripped as
                    # the server reads its token file: a panel sends that file's contents, and
                    # its newline made it "wrong token".
                    given = str(message.get("token", "")).strip()
                    authenticated = hmac.compare_digest(given.encode(), self.token.encode())
                    panel.send({"id": call_id, **({"response": {}} if authenticated else {
                        "error": _error("UNAUTHENTICATED", "wrong token")})})
                elif not authenticated:
                    panel.send({"id": call_id, "error": _error(
                        "UNAUTHENTICATED", "send {method: 'Authenticate', token} first")})
                elif not isinstance(method, str):
                    # A list or an object is no key of _METHODS: the TypeError closed the whole
                    # connection (1011), every call and watch of the panel with it.
                    panel.send({"id": call_id, "error": _error(
                        "INVALID_ARGUMENT", f"method: a string, one of {', '.join(_METHODS)}")})
                elif method not in _METHODS:
                    panel.send({"id": call_id, "error": _error(
                        "UNIMPLEMENTED", f"no method {method!r}; one of {', '.join(_METHODS)}")})
                elif not isinstance(message.get("request") or {}, dict):
                    # ParseDict reads a string or a list as field names and raises TypeError on
                    # a number, which the call's thread logged: that call was never answered.
                    panel.send({"id": call_id, "error": _error(
                        "INVALID_ARGUMENT", f"request: a JSON object, the {method}Request's "
                        "fields")})
                else:
                    panel.run(functools.partial(self._call, method, call_id,
                                                message.get("request") or {}, panel))
        except ConnectionClosed:
            pass
        finally:
            with self._panels_lock:
                self._panels.discard(panel)
            panel.gone()  # a closed panel stops its watch streams

    def _call(self, method: str, call_id, body: dict, panel: _Panel) -> None:
        descriptor, request_class = _METHODS[method]
        send = panel.send
        try:
            request = json_format.ParseDict(body, request_class())
        except json_format.ParseError as error:
            # protobuf ends a nested field's message with its own period and one more ("..").
            reason = str(error).rstrip(".")
            send({"id": call_id, "error": _error("INVALID_ARGUMENT", f"request: {reason}.")})
            return
        rpc = getattr(self.stub, method)
        try:
            if method in _STREAMING:
                self._stream(rpc(request, metadata=self.metadata), call_id, panel)
            else:
                send({"id": call_id, "response": _to_json(rpc(request, metadata=self.metadata))})
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.CANCELLED:
                return
            details = [{"type": type(d).__name__, **_to_json(d)} for d in details_of(error)]
            try:
                send({"id": call_id, "error": _error(error.code().name, error.details(), details)})
            except ConnectionClosed:
                pass
        except ConnectionClosed:
            pass

    def _stream(self, stream, call_id, panel: _Panel) -> None:
        try:
            if panel.add_stream(stream):  # else the panel has gone already
                for event in stream:
                    panel.send({"id": call_id, "event": _to_json(event)})
                panel.send({"id": call_id, "end": True})
        finally:
            panel.remove_stream(stream)
            # Nothing once the stream ended; if the panel went mid-stream (or before it began),
            # the server's side stops now rather than when the call is garbage collected.
            stream.cancel()


def _refuse_web_pages(connection: ServerConnection, request: Request) -> Response | None:
    """403 for a handshake a web page made: an http(s) Origin whose host is not loopback."""
    origin = request.headers.get("Origin")
    if origin is None or _is_allowed_origin(origin):
        return None
    log.warning("refused a WebSocket from the web page %s", origin)
    return connection.respond(HTTPStatus.FORBIDDEN, "web pages may not use the v2a bridge\n")


def _is_allowed_origin(origin: str) -> bool:
    """Any origin but a web page's: panels send none, or one of their own scheme (file://,
    'null'); a page served from this machine is the user's own."""
    parts = urlsplit(origin)
    return parts.scheme not in ("http", "https") or parts.hostname in _LOOPBACK_HOSTS


def _error(code: str, message: str, details: list | None = None) -> dict:
    return {"code": code, "message": message, "details": details or []}
