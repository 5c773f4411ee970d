"""The bearer token a panel sends over TCP.

Created on first start in the user's config folder with mode 0600, so only that user (and the
panels they run) can read it. Over a Unix domain socket the socket file's permissions guard
access instead, so no token is asked there. The standard health service stays open: a panel may
check that the server is up before it has the token.
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
    """UNAUTHENTICATED for TCP calls without `authorization: Bearer <token>`."""

    def __init__(self, token: str, token_file: Path):
        self._expected = f"Bearer {token}".encode()
        self._token_file = token_file

    def _authorized(self, metadata: tuple) -> bool:
        for key, value in metadata or ():
            if key == "authorization":
                given = value.encode() if isinstance(value, str) else value
                return hmac.compare_digest(given, self._expected)
        return False

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        if self._authorized(handler_call_details.invocation_metadata):
            return handler
        return _guarded(handler, self._token_file)


def _guarded(handler: grpc.RpcMethodHandler, token_file: Path) -> grpc.RpcMethodHandler:
    """The same handler, but refusing TCP peers (the peer is only known inside the call).

    The request is read only once the peer has passed: every handler here takes a request
    stream, so a unary request stays unread until the check asks for it. Handed a unary handler,
    gRPC reads the whole message first, up to the message limit: one unauthenticated 200 MB
    CreateJob grew the server by 665 MiB before it was refused."""

    def check(context):
        if not _is_unix_peer(context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          "missing or wrong token: send 'authorization: Bearer <token>' "
                          f"metadata; the token is in {token_file}")

    def one_request(requests, context):
        request = next(requests, None)
        if request is None:  # as gRPC answers a unary call that sent none
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "the call requires one request message")
        return request

    def checked_unary(behavior):
        def call(requests, context):
            check(context)
            return behavior(one_request(requests, context), context)

        return call

    def checked_stream(behavior):
        def call(requests, context):
            check(context)
            return behavior(requests, context)

        return call

    codecs = (handler.request_deserializer, handler.response_serializer)
    if handler.unary_unary:
        return grpc.stream_unary_rpc_method_handler(checked_unary(handler.unary_unary), *codecs)
    if handler.unary_stream:
        return grpc.stream_stream_rpc_method_handler(checked_unary(handler.unary_stream), *codecs)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(checked_stream(handler.stream_unary), *codecs)
    return grpc.stream_stream_rpc_method_handler(checked_stream(handler.stream_stream), *codecs)
