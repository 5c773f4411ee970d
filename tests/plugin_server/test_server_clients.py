"""What a panel developer and an editor meet in the clients (`V2AClient`, `v2a client …`)
against a real server: tokens as files hold them, the CLI's JSON, cancel, watching into a log."""

from __future__ import annotations

import grpc
import pytest

from plugin_server.client import V2AClient
from v2a.cli import main


def test_a_token_with_the_newline_of_its_file_is_taken_as_the_token(make_server, roots):
    """A token read with `cat` (or `open().read()`) ends in the newline the server writes after
    it: gRPC refused the call on the client's side with `INTERNAL: Invalid metadata`, never
    naming the token. The server and the bridge strip it; so does the client now."""
    server = make_server()
    contents = roots["token"].read_text()
    assert contents.endswith("\n")
    for given in (contents, f"  {server.token}\r\n", f"\t{server.token} "):
        with V2AClient(server.address, token=given) as client:
            assert client.info().version


def test_a_token_no_call_can_carry_is_refused_naming_where_it_came_from(make_server, roots,
                                                                        tmp_path):
    """A line break or a non-ASCII character inside the token: gRPC refuses the call itself
    (`INTERNAL: Invalid metadata`); the client says what is wrong with which token, and never
    prints the token."""
    server = make_server()
    secret = server.token
    with pytest.raises(ValueError) as raised:
        V2AClient(server.address, token=f"{secret}\n{secret}")
    message = str(raised.value)
    assert message.startswith("the token given (token=) holds a line break")
    assert secret not in message
    two_lines = tmp_path / "token"
    two_lines.write_text(f"{secret}\nsomething else\n")
    with pytest.raises(ValueError) as raised:
        V2AClient(server.address, token_file=two_lines)
    message = str(raised.value)
    assert message.startswith(f"the token in {two_lines} holds a line break")
    assert secret not in message
    with pytest.raises(ValueError, match=r"token=\) holds a character a token never has"):
        V2AClient(server.address, token="tökén")
    # A space inside is something a call carries: the server answers, and says it is wrong.
    with V2AClient(server.address, token="not the token") as client, \
            pytest.raises(grpc.RpcError) as refused:
        client.info()
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # The command line says it in one line too (SystemExit prints it, and exits 1).
    with pytest.raises(SystemExit) as exited:
        main(["client", "--address", server.address, "--token-file", str(two_lines), "info"])
    assert exited.value.code == (
        f"v2a client: the token in {two_lines} holds a line break: a token is the one line "
        "`v2a serve` writes in its token file")
