"""The bearer token a panel sends over TCP.

Created on first start in the user's config folder with mode 0600, so only that user (and the
panels they run) can read it. Over a Unix domain socket the socket file's permissions guard
access instead, so no token is asked there. The standard health service stays open: a panel may
check that the server is up before it has the token (over TCP it then answers for the server as
a whole, its request unread).
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

import grpc

OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/",)


def default_token_path() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
    return Path(config) / "v2a" / "token"


def load_or_create_token(path: Path | None = None) -> str:
    """Read the token, creating it (0600, in a 0700 folder) when absent."""
    path = path or default_token_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)  # repair a token file someone loosened
        token = path.read_text().strip()
        if token:
            return token
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def read_token(path: Path | None = None) -> str:
    return (path or default_token_path()).read_text().strip()


def _is_unix_peer(context: grpc.ServicerContext) -> bool:
    return context.peer().startswith("unix:")


class TokenAuthInterceptor(grpc.ServerInterceptor):
    """UNAUTHENTICATED for TCP calls without exactly one `authorization: Bearer <token>`."""

    def __init__(self, token: str, token_file: Path):
        self._expected = token.encode()
        self._token_file = token_file

    def _refusal(self, metadata: tuple) -> str | None:
        """Why a TCP call may not pass, or None when it carries the token."""
        given = [value for key, value in metadata or () if key == "authorization"]
        if len(given) > 1:
            # Which of several a server reads is up to it (this one read the first), so a
            # proxy's header could decide for the panel's: refused rather than guessed.
            return (f"{len(given)} 'authorization' headers sent; send exactly one, "
                    f"'authorization: Bearer <token>'; the token is in {self._token_file}")
        if given:
            value = given[0].encode() if isinstance(given[0], str) else given[0]
            # The scheme is case-insensitive (RFC 9110 11.1): "bearer" is "Bearer".
            scheme, _, credentials = value.partition(b" ")
            if scheme.lower() == b"bearer" and hmac.compare_digest(
                    credentials.lstrip(b" "), self._expected):
                return None
        return ("missing or wrong token: send 'authorization: Bearer <token>' "
                f"metadata; the token is in {self._token_file}")

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return handler
        refusal = self._refusal(handler_call_details.invocation_metadata)
        if refusal is None:
            return handler
        if handler_call_details.method.startswith(OPEN_METHOD_PREFIXES):
            return _unread(handler)
        return _guarded(handler, refusal)


def _guarded(handler: grpc.RpcMethodHandler, refusal: str) -> grpc.RpcMethodHandler:
    """The same handler, but refusing TCP peers (the peer is only known inside the call).

    The request is read only once the peer has passed (_read_when_asked): handed a unary
    handler, gRPC reads the whole message first, up to the message limit: one unauthenticated
    200 MB CreateJob grew the server by 665 MiB before it was refused."""

    def check(requests, context):
        if not _is_unix_peer(context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, refusal)
        return requests

    return _read_when_asked(handler, check)


def _unread(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """An open method's handler for a caller without the token: over TCP it answers the
    method's default request (for the health service: the server as a whole, whatever service
    is named) and never reads the one sent. Read, a request of up to the message limit cost the
    server three times its size (one 60 MiB Check: 148 -> 330 MiB at its peak), and one that
    never came held an RPC thread while gRPC waited for it: 130 such Checks left no thread for
    any other call. A Unix socket's peers are read as usual (its 0600 mode is their token)."""
    parse = handler.request_deserializer
    default = parse(b"") if parse else b""

    def unread(requests, context):
        return requests if _is_unix_peer(context) else iter((default,))

    return _read_when_asked(handler, unread)


def _read_when_asked(handler: grpc.RpcMethodHandler, first) -> grpc.RpcMethodHandler:
    """The same handler taking its request as a stream, which gRPC reads only when the handler
    asks for a message (a unary request is read whole before the handler runs): `first(requests,
    context)` runs before anything is read and gives the requests the behaviour gets (or aborts).
    A non-blocking behaviour (the health service's Watch) stays one: a blocking stream holds an
    RPC thread for as long as it is open."""

    def one_request(requests, context):
        request = next(requests, None)
        if request is None:  # as gRPC answers a unary call that sent none
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "the call requires one request message")
        return request

    def wrap(behavior, unary_request: bool):
        def call(requests, context, *send_response_callback):  # given when non-blocking
            requests = first(requests, context)
            if unary_request:
                requests = one_request(requests, context)
            return behavior(requests, context, *send_response_callback)

        call.experimental_non_blocking = getattr(behavior, "experimental_non_blocking", False)
        call.experimental_thread_pool = getattr(behavior, "experimental_thread_pool", None)
        return call

    codecs = (handler.request_deserializer, handler.response_serializer)
    if handler.unary_unary:
        return grpc.stream_unary_rpc_method_handler(wrap(handler.unary_unary, True), *codecs)
    if handler.unary_stream:
        return grpc.stream_stream_rpc_method_handler(wrap(handler.unary_stream, True), *codecs)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(wrap(handler.stream_unary, False), *codecs)
    return grpc.stream_stream_rpc_method_handler(wrap(handler.stream_stream, False), *codecs)
