"""`v2a serve` and `v2a client …`: thin layers over server.py and client.py."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import grpc
from google.protobuf import json_format

from plugin_server import paths
from v2a.cli import USER_ERROR_EXIT, user_error

#: How long `watch` tries to reach a server it lost, by default: time for `v2a serve` to be
#: restarted (by hand, or by whatever supervises it).
RECONNECT_SECONDS = 60.0
#: The pauses between its tries: the first soon (a quick restart), then at most this far apart.
RECONNECT_FIRST_PAUSE, RECONNECT_LONGEST_PAUSE = 0.25, 4.0
_JOB_ID_HELP = "a job's id, as `submit` and `list` print it"


def add_commands(subparsers) -> None:
    serve = subparsers.add_parser(
        "serve", help="run the gRPC server editor panels call",
        description="Run the local gRPC server that editors' panels and `v2a client` call: it "
        "listens on 127.0.0.1:50051 (loopback only; --uds for a Unix socket, --ws-port for "
        "Premiere UXP panels' WebSocket bridge), writes on first start the token a caller sends "
        "with each call over TCP, keeps its jobs in --state-dir across restarts, and writes "
        "outputs only inside --output-root. It prints one line once it is ready; SIGTERM or "
        "Ctrl-C stops it, running jobs given --grace seconds to finish, then queued again for "
        "its next start.",
        epilog="Exit status: 0 stopped (SIGTERM, Ctrl-C); 2 it could not start (a port in use, "
        "a state dir another server holds: one line on stderr).",
    )
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=int, default=None,
                       help="TCP port (default 50051; 0: any free one; omitted with --uds: no TCP)")
    serve.add_argument("--uds", default="", help="also (or only) listen on this Unix socket")
    serve.add_argument("--concurrency", type=int, default=1,
                       help="jobs generated at once (default: 1)")
    serve.add_argument("--queue-size", type=int, default=16,
                       help="jobs that may wait; past it CreateJob gets RESOURCE_EXHAUSTED "
                            "(default: 16)")
    serve.add_argument("--state-dir", type=Path, default=None,
                       help="job store and inline timelines (default $XDG_STATE_HOME/v2a)")
    serve.add_argument("--generator", default="default",
                       help="generator spec (model.generators), or py:module:factory "
                            "(default: default, the shipped model)")
    serve.add_argument("--output-root", action="append", default=[],
                       help=f"folder outputs must lie in (repeatable; default {paths.DEFAULT_OUTPUT_ROOT})")
    serve.add_argument("--token-file", type=Path, default=None,
                       help="default $XDG_CONFIG_HOME/v2a/token, created 0600 on first start")
    serve.add_argument("--grace", type=float, default=10.0,
                       help="seconds running jobs may finish on SIGTERM before they are requeued "
                            "(default: 10)")
    serve.add_argument("--ws-port", type=int, default=None,
                       help="also serve the WebSocket/JSON bridge for UXP panels on this port "
                            "(0: any free one; default: no bridge)")
    serve.add_argument("--keep-jobs-days", type=float, default=30.0,
                       help="forget jobs that ended longer ago than this, except each timeline's "
                            "latest (default: 30; 0: keep every job)")
    serve.add_argument("--downgrade-store", action="store_true",
                       help="rewrite the state dir's job store for a v2a from before its results "
                       "were compressed (which refuses it as a newer v2a's), then exit")
    serve.set_defaults(func=_serve)

    client = subparsers.add_parser(
        "client", help="talk to a running v2a server",
        description="Talk to a running `v2a serve` from a shell or a script: submit a timeline "
        "as a job and follow it (--watch), watch, cancel, get or list jobs, make a new take of "
        "one clip (regenerate), and fetch a job's result: its timeline, take files and waveform "
        "peaks, a picture or a stem. It connects to --address or --uds with the token the "
        "server wrote.",
        epilog="Exit status: 0 done; 1 the job followed did not succeed, a watch gave up "
        "reconnecting, cancel found the job already ended, or result's --picture or --stem "
        "could not be made; 2 a problem with the request, or a server refusing it or not there "
        "(one line on stderr: its status code and message, then its details); 130 Ctrl-C while "
        "watching (the job keeps running).",
    )
    client.add_argument("--address", default="",
                        help="host:port (default: $V2A_ADDRESS, else 127.0.0.1:50051)")
    client.add_argument("--uds", default="", help="Unix socket path instead of TCP")
    client.add_argument("--token-file", type=Path, default=None,
                        help="default $XDG_CONFIG_HOME/v2a/token, as the server writes it")
    commands = client.add_subparsers(dest="client_command", required=True)

    commands.add_parser("info", help="server version, model, formats").set_defaults(func=_info)

    submit = commands.add_parser("submit", help="queue a job for a timeline file")
    submit.add_argument("timeline", type=Path,
                        help="timeline file, sent as its absolute path (--inline: its bytes)")
    submit.add_argument("--inline", action="store_true", help="send the file's bytes (a request carries at most 64 MiB: "
                        "send a bigger file by path)")
    submit.add_argument("--format", default="", help="timeline adapter (default: from extension)")
    # As `v2a generate --rate`: a CMX 3600 EDL does not say its frame rate.
    submit.add_argument("--rate", type=float, default=None, metavar="R",
                        help="a CMX 3600 EDL's frame rate, sent as the adapter option 'rate' "
                        "(default: 24)")
    submit.add_argument("--out", default="",
                        help="output folder, inside the server's roots (default: the first "
                        "root's JOB_ID folder)")
    submit.add_argument("--output-format", default="",
                        help="format to write: an adapter's name or an extension (default: the "
                        "timeline's)")
    # One value per flag, repeatable, spelt as `v2a generate` spells them too.
    submit.add_argument("--track", "--tracks", action="append", default=[], metavar="T",
                        help="only this video track: name or index (repeatable)")
    submit.add_argument("--clip", "--clips", action="append", default=[], metavar="ID",
                        help="only this clip: a clip id (see `v2a inspect`) or TRACK@SECONDS, as "
                             "`v2a generate` takes it (repeatable)")
    submit.add_argument("--range", nargs=2, type=float, metavar=("START", "END"),
                        help="only clips overlapping this record range, seconds from the "
                        "timeline's start")
    submit.add_argument("--prompt", default="",
                        help="what the sound should be (default: each clip's 'v2a: ...' marker)")
    submit.add_argument("--negative-prompt", default="",
                        help="what it should not be (default: each clip's 'v2a not: ...' marker)")
    submit.add_argument("--seed", type=int, default=None,
                        help="noise seed; takes use seed, seed + 1, ... (default: none; take n "
                        "of a clip uses seed n - 1, so a job on v2a's result adds new sound)")
    submit.add_argument("--steps", type=int, default=0,
                        help="sampling steps (default: 0, the generator's own)")
    submit.add_argument("--guidance", type=float, default=0.0,
                        help="classifier-free guidance (default: 0, the generator's own)")
    submit.add_argument("--takes", type=int, default=1,
                        help="takes of each clip, each written to the timeline (default: 1)")
    submit.add_argument("--loudness", type=float, default=None, metavar="LUFS",
                        help="bring each take to this integrated loudness (e.g. -23), its true "
                        "peak at most -1 dBTP; default: as the model made it")
    submit.add_argument("--media-path", action="append", default=[],
                        help="folder to search for offline media (repeatable)")
    submit.add_argument("--watch", action="store_true", help="follow it with a progress bar")
    _add_reconnect_option(submit)
    submit.set_defaults(func=_submit)

    for name, func, text in (("watch", _watch, "follow a job with a progress bar"),
                             ("cancel", _cancel, "cancel a job"),
                             ("get", _get, "a job's state as JSON")):
        command = commands.add_parser(name, help=text)
        command.add_argument("job_id", help=_JOB_ID_HELP)
        if name == "watch":
            _add_reconnect_option(command)
        command.set_defaults(func=func)

    listing = commands.add_parser("list", help="jobs, newest first")
    listing.set_defaults(func=_list)

    regenerate = commands.add_parser("regenerate", help="a new take for one clip of a job")
    regenerate.add_argument("job_id", help=_JOB_ID_HELP)
    regenerate.add_argument("--clip", default="", metavar="ID",
                            help="a clip id or TRACK@SECONDS, as `submit --clip` takes it")
    regenerate.add_argument("--track", default="", help="with --time: as --clip TRACK@SECONDS")
    regenerate.add_argument("--time", type=float, default=None, help="record time in seconds")
    regenerate.add_argument("--seed", type=int, default=None,
                            help="noise seed (default: a random one)")
    regenerate.add_argument("--prompt", default=None,
                            help="a new prompt (default: the job's)")
    regenerate.add_argument("--watch", action="store_true", help="follow it with a progress bar")
    _add_reconnect_option(regenerate)
    regenerate.set_defaults(func=_regenerate)

    result = commands.add_parser("result", help="the updated timeline and per-clip files")
    result.add_argument("job_id", help=_JOB_ID_HELP)
    result.add_argument("--peaks", type=int, default=0, help="waveform points per clip to print")
    result.add_argument("--save-timeline", type=Path, default=None,
                        help="write the returned timeline bytes here")
    result.add_argument("--picture", type=Path, default=None, metavar="FILE.png",
                        help="draw the shots, each clip's current take under them and its "
                        "spectrogram, as `v2a generate --picture` does (the server's files must "
                        "be on this machine, as they are for a local server)")
    result.add_argument("--stem", type=Path, default=None, metavar="FILE.wav",
                        help="write the job's v2a sound as its written timeline plays it into one "
                        "WAV from the timeline's start, as `v2a generate --stem` does (the "
                        "server's files must be on this machine)")
    result.add_argument("--media-path", action="append", default=[], metavar="DIR",
                        help="for --picture: a folder to find the shots' media in by name, as the "
                        "job was submitted with (repeatable)")
    result.set_defaults(func=_result)


def _add_reconnect_option(parser) -> None:
    parser.add_argument("--reconnect-for", type=float, default=RECONNECT_SECONDS, metavar="S",
                        help="when the server goes away while watching (a restart), try to "
                        f"reconnect for this many seconds (default: {RECONNECT_SECONDS:g}; "
                        "0: one try)")


# --- serve ------------------------------------------------------------------------------------


def _serve(args) -> int:
    from plugin_server.server import ServerConfig, default_state_dir, downgrade_store, serve

    if args.downgrade_store:
        state_dir = args.state_dir or default_state_dir()
        try:
            rewritten = downgrade_store(state_dir)
        except (OSError, ValueError) as error:  # ValueError: jobs.StoreError
            return user_error("serve", error)
        results = f"{rewritten} result" + ("" if rewritten == 1 else "s")
        print(f"{state_dir / 'jobs.sqlite3'}: {results} rewritten uncompressed; a v2a from "
              "before they were compressed reads it now")
        return 0
    config = ServerConfig(
        host=args.host, port=args.port, uds=args.uds, concurrency=args.concurrency,
        queue_size=args.queue_size, state_dir=args.state_dir or default_state_dir(),
        generator=args.generator, output_roots=tuple(args.output_root),
        token_file=args.token_file, grace_seconds=args.grace, ws_port=args.ws_port,
        keep_jobs_days=args.keep_jobs_days,
    )
    try:
        return serve(config)
    except (OSError, ValueError, ImportError) as error:
        return user_error("serve", error)


# --- client -----------------------------------------------------------------------------------


class _UserError(Exception):
    """A problem the user can fix before any call (the token file, the timeline to send):
    said as every v2a command says one (`v2a.cli.user_error`)."""


def _client(args):
    from plugin_server.client import V2AClient

    try:
        return V2AClient(args.address, uds=args.uds, token_file=args.token_file)
    except FileNotFoundError as error:
        raise _UserError(f"no token file ({error.filename}); start `v2a serve` once on this "
                         "machine, or pass --token-file") from None
    except ValueError as error:  # a token no call can carry (client.checked_token)
        raise _UserError(error) from None


#: The request's fields, as the server's messages name them for any client, and the options
#: that set them here: "add media_search_paths to relink it" told a command line's user of a
#: field they never see.
_OPTION_OF_FIELD = {
    "media_search_paths": "--media-path", "timeline.format": "--format",
    "output.format": "--output-format", "output.folder": "--out", "params.steps": "--steps",
    "params.guidance": "--guidance", "params.seed": "--seed", "params.takes": "--takes",
    "params.prompt": "--prompt", "params.negative_prompt": "--negative-prompt",
    "params.loudness_target_lufs": "--loudness",
}
_FIELD_NAMES = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, _OPTION_OF_FIELD)) + r")(?![\w.])")


def _in_options(message: str) -> str:
    """The server's message with the request fields it names said as this command's options."""
    return _FIELD_NAMES.sub(lambda match: _OPTION_OF_FIELD[match[1]], message)


def _handles_rpc_errors(func):
    """A refused or failed call said as a user error, exit status 2, with the status code, a
    hint where the server is not there, and the google.rpc details (machine-readable, as
    sent). Status 1 stays for what the server did: a job that did not succeed."""
    def call(args) -> int:
        try:
            return func(args)
        except _UserError as error:
            return user_error("client", error)
        except grpc.RpcError as error:
            from plugin_server.errors import details_of

            user_error("client", f"{error.code().name}: {_in_options(error.details() or '')}")
            if error.code() == grpc.StatusCode.UNAVAILABLE:
                print("  is `v2a serve` running there? (--address / --uds)", file=sys.stderr)
            for detail in details_of(error):
                text = json_format.MessageToJson(detail, indent=None,
                                                 preserving_proto_field_name=True)
                print(f"  {type(detail).__name__}: {text}", file=sys.stderr)
            return USER_ERROR_EXIT

    return call


def _print(message) -> None:
    # The .proto's field names (`job_id`), as `result` prints, the Node client reads and the
    # bridge sends: proto3 JSON's camelCase (`jobId`) made `get` and `result` disagree.
    print(json_format.MessageToJson(message, indent=2, preserving_proto_field_name=True))


@_handles_rpc_errors
def _info(args) -> int:
    with _client(args) as client:
        _print(client.info())
    return 0


@_handles_rpc_errors
def _submit(args) -> int:
    from v2a.v1 import jobs_pb2 as pb

    params = pb.GenerationParams(prompt=args.prompt, negative_prompt=args.negative_prompt,
                                 seed=args.seed, steps=args.steps, guidance=args.guidance,
                                 takes=args.takes, loudness_target_lufs=args.loudness)
    with _client(args) as client:
        try:
            job = client.submit(
                args.timeline, inline=args.inline, timeline_format=args.format,
                output_folder=args.out, output_format=args.output_format, tracks=tuple(args.track),
                clips=tuple(_clip_address_message(c) for c in args.clip),
                time_range=tuple(args.range) if args.range else None, params=params,
                media_search_paths=tuple(args.media_path),
                adapter_options={"rate": str(args.rate)} if args.rate is not None else None,
                on_retry=_say_retry("CreateJob"),
            )
        except ValueError as error:  # an inline timeline too big to send, a folder, unreadable
            return user_error("client", error)
        print(job.job_id)
        return _follow(client, job.job_id, args.reconnect_for) if args.watch else 0


def _say_retry(call: str):
    """What tells the user of each retry of `call` (client.V2AClient's on_retry)."""
    def say(error: grpc.RpcError, pause: float) -> None:
        print(f"v2a client: {call} got {error.code().name} ({error.details()}); trying again "
              f"in {pause:g} s with the same request_id, which cannot queue the job twice",
              file=sys.stderr, flush=True)
    return say


@_handles_rpc_errors
def _watch(args) -> int:
    with _client(args) as client:
        return _follow(client, args.job_id, args.reconnect_for)


def _follow(client, job_id: str, reconnect_for: float = RECONNECT_SECONDS) -> int:
    """A progress bar over the job's clips until it ends (on a terminal; in a log, one line per
    clip as it ends, since a bar redrawn on every step event is one endless line there); exit
    status 0 when the job succeeded. A server lost on the way (a restart: it keeps its jobs) is
    reconnected to for `reconnect_for` seconds, and the same job followed again."""
    from plugin_server.client import TERMINAL_STATES
    from v2a.v1 import jobs_pb2 as pb

    interactive = sys.stderr.isatty()
    total = len(client.get(job_id).clips)  # the stream's opening states come one clip at a time
    clips: dict = {}  # clip id -> its latest ClipProgress, kept across reconnections
    try:
        while True:
            try:
                _follow_events(client, job_id, total, interactive, clips)
                job = client.get(job_id)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                lost = error.details()
            else:
                if job.state in TERMINAL_STATES:
                    break
                # A stopping server ends its streams, then answers a while longer (its grace).
                lost = "the server ended the stream; the job is still " + _state_name(job.state)
            if not _reconnect(client, job_id, lost, reconnect_for):
                return 1
    except KeyboardInterrupt:
        # Only the watching stops, as when a panel closes its stream: said so, since a bare
        # "interrupted" read as a stopped job that in fact kept the generator busy.
        print(f"\n{job_id}: stopped watching; the job keeps running on the server (`v2a client "
              f"watch {job_id}` to follow it again, `v2a client cancel {job_id}` to stop it)",
              file=sys.stderr)
        return 130  # 128 + SIGINT, as v2a.cli answers any other Ctrl-C
    state = _state_name(job.state)
    # A cancelled job's message is "cancelled": it read "cancelled (cancelled)".
    print(f"{job_id}: {state}" + (f" ({job.message})" if job.message not in ("", state) else ""))
    if job.result_timeline_path:
        print(f"timeline: {job.result_timeline_path}")
    return 0 if job.state == pb.JOB_STATE_SUCCEEDED else 1


def _state_name(state: int) -> str:
    from v2a.v1 import jobs_pb2 as pb

    return pb.JobState.Name(state).removeprefix("JOB_STATE_").lower()


def _reconnect(client, job_id: str, lost: str, seconds: float) -> bool:
    """Try to reach the server again for `seconds`, pausing longer between tries; True once it
    answers for the job. The server stopped under the stream (an update, a restart): the
    generic "is `v2a serve` running there?" read as if it never had, and a watch that ended
    there left the job, which a stop requeues and a start runs again, unfollowed."""
    import time

    print(f"{job_id}: lost the server while watching ({lost}); reconnecting for up to "
          f"{seconds:g} s", file=sys.stderr, flush=True)
    deadline, pause = time.monotonic() + seconds, RECONNECT_FIRST_PAUSE
    while True:
        time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
        client.reconnect()
        try:
            job = client.get(job_id)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE:
                raise  # e.g. NOT_FOUND: a server on another state folder answered
            last = error.details()
        else:
            print(f"{job_id}: reconnected (the job is {_state_name(job.state)}); following it "
                  "again", file=sys.stderr, flush=True)
            return True
        if time.monotonic() >= deadline:
            print(f"{job_id}: gave up reconnecting after {seconds:g} s ({last}); the server keeps "
                  "its jobs, and queues one it stopped for its next start (`v2a client watch "
                  f"{job_id}` follows it then)", file=sys.stderr)
            return False
        pause = min(2 * pause, RECONNECT_LONGEST_PAUSE)


def _follow_events(client, job_id: str, total: int, interactive: bool, clips: dict) -> None:
    """`_follow`'s bar (or log lines) over the job's WatchJob stream, until it ends. `clips`:
    each clip's latest progress, updated here and kept across reconnections, so that a new
    stream's opening states print only the clips that changed meanwhile."""
    from tqdm import tqdm

    from plugin_server.client import job_fraction
    from v2a.v1 import jobs_pb2 as pb

    ended = (pb.CLIP_STATE_DONE, pb.CLIP_STATE_FAILED, pb.CLIP_STATE_SKIPPED, pb.CLIP_STATE_CANCELLED)
    # In a log, clips that end cancelled or skipped in a row are held and said together, one
    # line for each reason with the clips' count: a cancel ends every clip not yet done with
    # the same words, and a 600-clip job printed 600 lines. A skipped clip's reason names its
    # media, so those stay a line each unless they share it; done and failed clips print at once.
    alike = (pb.CLIP_STATE_CANCELLED, pb.CLIP_STATE_SKIPPED)
    held: dict[tuple, list[str]] = {}  # (state, take, take_count, message) -> clip names

    def log_line(what: str, state: int, take: int, take_count: int, message: str) -> None:
        name = pb.ClipState.Name(state).removeprefix("CLIP_STATE_").lower()
        done = sum(c.state in ended for c in clips.values())
        # Each take of `takes: N` ends every clip again: say which one this is.
        in_take = f" in take {take} of {take_count}" if take_count > 1 else ""
        print(f"{job_id}: {done}/{max(total, len(clips))} {what}{name}{in_take}"
              + (f" ({message})" if message else ""), file=sys.stderr, flush=True)

    def say_held() -> None:
        for (state, take, take_count, message), names in held.items():
            what = f"{names[0]}: " if len(names) == 1 else f"{len(names)} clips "
            log_line(what, state, take, take_count, message)
        held.clear()

    with tqdm(total=100, unit="%", desc=job_id, bar_format="{l_bar}{bar}| {elapsed} {postfix}",
              disable=not interactive) as bar:
        try:
            for event in client.watch(job_id):
                if event.HasField("clip"):
                    clip = event.clip
                    previous = clips.get(clip.clip_id)
                    newly = previous is None or previous.state != clip.state
                    if not (newly and clip.state in alike):
                        say_held()  # before this event changes the count they are said with
                    clips[clip.clip_id] = clip
                    name = clip.clip_name or clip.clip_id
                    if not interactive and newly and clip.state in alike:
                        key = (clip.state, clip.take, clip.take_count, clip.message)
                        held.setdefault(key, []).append(name)
                    elif not interactive and newly and clip.state in ended:
                        log_line(f"{name}: ", clip.state, clip.take, clip.take_count,
                                 clip.message)
                    elif clip.state == pb.CLIP_STATE_FAILED and newly:
                        bar.write(f"clip {name} failed: {clip.message}")
                    bar.set_postfix_str(name, refresh=False)
                elif event.message:
                    say_held()
                    bar.write(event.message)
                bar.n = round(100 * job_fraction(list(clips.values())), 1)
                bar.refresh()
        finally:  # the stream's end, or a Ctrl-C or lost server part-way
            say_held()


@_handles_rpc_errors
def _cancel(args) -> int:
    """The job as `get` prints it, and on stderr what the cancel did; exit status 1 when nothing
    was cancelled. CancelJob answers a job that already ended with that job as it is, no error:
    the command printed it with status 0, and a finished job read as one it had cancelled."""
    from plugin_server.client import TERMINAL_STATES
    from v2a.v1 import jobs_pb2 as pb

    with _client(args) as client:
        before = client.get(args.job_id)
        job = before if before.state in TERMINAL_STATES else client.cancel(args.job_id)
    _print(job)
    state = pb.JobState.Name(job.state).removeprefix("JOB_STATE_").lower()
    said = state + (f" ({job.message})" if job.message and job.message != state else "")
    if job.state not in TERMINAL_STATES:  # CancelJob waits 5 s for the job to stop
        print(f"{job.job_id}: asked to stop, still {said}: its clip stops within a sampling "
              f"step (`v2a client get {job.job_id}` shows when it has)", file=sys.stderr)
        return 0
    # A cancel in a further take of `takes: N` keeps the takes written: the job succeeds,
    # "stopped after take K of N (cancelled)".
    if job is not before and (job.state == pb.JOB_STATE_CANCELLED
                              or job.message.endswith("(cancelled)")):
        print(f"{job.job_id}: {said}", file=sys.stderr)
        return 0
    # Ended before the GetJob, or on its own in the instant between it and the cancel.
    print(f"{job.job_id}: had already ended, {said}; nothing was cancelled", file=sys.stderr)
    return 1


@_handles_rpc_errors
def _get(args) -> int:
    with _client(args) as client:
        _print(client.get(args.job_id))
    return 0


@_handles_rpc_errors
def _list(args) -> int:
    from v2a.v1 import jobs_pb2 as pb

    with _client(args) as client:
        for job in client.list():
            state = pb.JobState.Name(job.state).removeprefix("JOB_STATE_").lower()
            print(f"{job.job_id}  {state:<10} {len(job.clips):>3} clips  {job.timeline_path}")
    return 0


def _clip_address_message(text: str):
    """`--clip` as `v2a generate` reads it (an id, or TRACK@SECONDS), as the request's message."""
    from v2a.contracts import ClipAddress
    from v2a.v1 import jobs_pb2 as pb

    address = ClipAddress.from_text(text)
    if address.clip_id:
        return pb.ClipAddress(clip_id=address.clip_id)
    return pb.ClipAddress(track=address.track, record_time=address.record_time)


@_handles_rpc_errors
def _regenerate(args) -> int:
    from v2a.contracts import ClipAddress

    clip = (ClipAddress.from_text(args.clip) if args.clip
            else ClipAddress(track=args.track, record_time=args.time))
    with _client(args) as client:
        job = client.regenerate(args.job_id, clip_id=clip.clip_id, track=clip.track,
                                record_time=clip.record_time, seed=args.seed, prompt=args.prompt,
                                on_retry=_say_retry("RegenerateClip"))
        print(job.job_id)
        return _follow(client, job.job_id, args.reconnect_for) if args.watch else 0


@_handles_rpc_errors
def _result(args) -> int:
    from v2a.files import atomic_write, output_file_problem

    picture, stem, saved = args.picture, args.stem, args.save_timeline
    problems = [output_file_problem(str(picture), "--picture", ".png") if picture else "",
                output_file_problem(str(stem), "--stem", ".wav") if stem else "",
                # Any extension: the timeline comes in the job's format.
                output_file_problem(str(saved), "--save-timeline", "") if saved else ""]
    if any(problems):
        return user_error("client", "; ".join(p for p in problems if p))
    with _client(args) as client:
        result = client.result(args.job_id, peak_points=args.peaks or 64,
                               include_timeline_data=saved is not None)
    if saved is not None:
        try:
            saved.parent.mkdir(parents=True, exist_ok=True)  # as --stem's and --picture's are
            atomic_write(str(saved), result.timeline_data)
        except OSError as error:  # a folder by that name, a full disk
            return user_error("client", f"--save-timeline {saved}: {error}")
    summary = {
        "timeline": result.timeline_path, "format": result.timeline_format,
        "fallback_otio": result.fallback_otio_path, "note": result.format_note,
        "clips": [{
            "clip_id": c.clip_id, "name": c.clip_name, "file": c.media_path,
            "start_sample": c.start_sample, "num_samples": c.num_samples,
            # The file holds this much sound before and after the part under the picture.
            "handle_before_samples": c.handle_before_samples,
            "handle_after_samples": c.handle_after_samples,
            **({"peaks_min": list(c.peaks.min), "peaks_max": list(c.peaks.max)}
               if args.peaks else {}),
        } for c in result.clips],
    }
    print(json.dumps(summary, indent=2))
    failed = picture is not None and _draw_result_picture(picture, result, tuple(args.media_path))
    failed = (stem is not None and _write_result_stem(stem, result)) or failed
    return 1 if failed else 0


def _write_result_stem(path: Path, result) -> int:
    """`result --stem`: the job's written timeline rendered here (its takes, as the server
    wrote them); 1 when it cannot be, saying why."""
    from otio_adapters.stem import write_stem_of_file

    written = result.fallback_otio_path or result.timeline_path  # the .otio holds every take
    try:
        loudness = write_stem_of_file(written, str(path))
    except Exception as error:  # noqa: BLE001 - a remote server's path, a take gone since
        print(f"v2a client: no stem written ({type(error).__name__}: {error})", file=sys.stderr)
        return 1
    print(f"stem: {path} ({loudness.text()})", file=sys.stderr)
    return 0


def _draw_result_picture(path: Path, result, media_paths: tuple[str, ...]) -> int:
    """`result --picture`: the job's current takes (their files, as the server wrote them) under
    the shots of its written timeline, planned here for their pictures."""
    from fractions import Fraction

    from otio_adapters.plan import timeline_start
    from v2a.contracts import GeneratedAudio, GenerationRequest
    from v2a.pipeline import plan_request
    from v2a.result_picture import draw_result_picture

    takes = [GeneratedAudio(c.clip_id, c.media_path, c.start_sample, c.num_samples,
                            c.handle_before_samples, c.handle_after_samples)
             for c in result.clips if c.media_path]
    if not takes:
        print("v2a client: no picture drawn: the job has no take", file=sys.stderr)
        return 1
    written = result.fallback_otio_path or result.timeline_path  # the .otio holds every take
    try:
        timeline, segments = plan_request(
            GenerationRequest(written, out_dir="", relink_roots=media_paths))
        start = timeline_start(timeline)
    except Exception as error:  # noqa: BLE001 - a remote server's path, a file gone since
        print(f"v2a client: the shots are left grey: {written} cannot be read here ({error})",
              file=sys.stderr)
        segments, start = [], Fraction(0)
    offline = sum(segment.status != "ok" for segment in segments)
    if offline:
        print(f"v2a client: {offline} of {len(segments)} shot(s) drawn grey: their media is not "
              "found here (--media-path DIR finds it by name, as the job did)", file=sys.stderr)
    title = f"{Path(result.timeline_path).name}: {len(takes)} clip(s), each at its current take"
    try:
        draw_result_picture(str(path), segments, takes,
                            {c.clip_id: c.clip_name for c in result.clips}, start, title)
    except Exception as error:  # noqa: BLE001 - a take not on this machine, a full disk
        print(f"v2a client: no picture drawn ({type(error).__name__}: {error})", file=sys.stderr)
        return 1
    print(f"picture: {path}", file=sys.stderr)
    return 0
