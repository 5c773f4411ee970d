"""The Python client of the v2a server: what a panel (or `v2a client`) calls."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import grpc

from plugin_server import auth
from v2a.v1 import jobs_pb2 as pb
from v2a.v1 import v2a_service_pb2 as api
from v2a.v1 import v2a_service_pb2_grpc

DEFAULT_ADDRESS = "127.0.0.1:50051"
#: The largest request the server reads (its grpc.max_receive_message_length): an inline
#: timeline is the only big one, and a 2,000-clip edit (1,700 audio clips beside) exported as
#: OTIO JSON, the most verbose format, measured 34 MiB. A bigger timeline goes by path.
MAX_REQUEST_BYTES = 64 * 2**20
#: The largest reply: a result's timeline bytes, which hold the generated tracks and takes too.
MAX_RESPONSE_BYTES = 256 * 2**20
MESSAGE_SIZE_OPTIONS = [("grpc.max_receive_message_length", MAX_RESPONSE_BYTES),
                        ("grpc.max_send_message_length", MAX_REQUEST_BYTES)]
TERMINAL_STATES = (pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_FAILED, pb.JOB_STATE_CANCELLED)
#: A CreateJob or RegenerateClip that ends so may have queued its job all the same (its answer
#: lost on the way): tried again with the same request_id, which answers that job rather than
#: queueing another.
RETRY_CODES = (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)
#: Seconds before each further try of a CreateJob or RegenerateClip.
RETRY_PAUSES = (0.5, 1.0)


def checked_token(token: str, source: str) -> str:
    """The token as a call can carry it. The whitespace around it goes, as the server and the
    bridge read it: a token read with `cat` or `read()` ends in its file's newline, which gRPC
    refused on this side with `INTERNAL: Invalid metadata`, naming neither the token nor its
    file. A character a header value cannot hold (a line break, a non-ASCII letter) inside it
    is refused here, saying where the token came from (`source`) but never the token itself."""
    token = token.strip()
    for char in token:
        if char in "\r\n":
            raise ValueError(f"the token {source} holds a line break: a token is the one line "
                             "`v2a serve` writes in its token file")
        if not " " <= char <= "~":  # what gRPC (and HTTP/2) let a header value hold
            raise ValueError(f"the token {source} holds a character a token never has "
                             f"(U+{ord(char):04X}): a token is the one line `v2a serve` writes "
                             "in its token file")
    return token


_STATES = {state.value[0]: state for state in grpc.ChannelConnectivity}


def _connectivity(channel: grpc.Channel) -> grpc.ChannelConnectivity | None:
    """The channel's connectivity now, without connecting it; None where this gRPC cannot say.
    A grpc.Channel has no public getter of it (grpc.aio's has, get_state): its subscribe()
    tells the changes from a polling thread, which fails when the channel is closed under it
    ("Cannot monitor channel state: Channel closed!": 1 of 40 submits closed at once here)."""
    check = getattr(getattr(channel, "_channel", None), "check_connectivity_state", None)
    return _STATES.get(check(False)) if check is not None else None


def _never_sent(before: grpc.ChannelConnectivity | None,
                after: grpc.ChannelConnectivity | None) -> bool:
    """Whether a call that ended between these states of its channel surely never went out:
    not connected as it started, and its connecting failed (connection refused, no such host).
    A connection lost after the call went out leaves the channel IDLE, not TRANSIENT_FAILURE;
    a state unknown (None) or READY at the start may have carried it."""
    return (before not in (None, grpc.ChannelConnectivity.READY)
            and after == grpc.ChannelConnectivity.TRANSIENT_FAILURE)


class V2AClient:
    """One channel to one server. Over TCP the token is read from the user's config folder
    unless given; over a Unix socket (`uds=`) none is needed."""

    def __init__(self, address: str = "", *, uds: str = "", token: str | None = None,
                 token_file: Path | None = None, timeout: float = 30.0):
        source = "given (token=)"
        if uds:
            target, token = f"unix:{uds}", token or ""
        else:
            target = address or os.environ.get("V2A_ADDRESS") or DEFAULT_ADDRESS
            if token is None:
                token_file = token_file or auth.default_token_path()
                source, token = f"in {token_file}", auth.read_token(token_file)
        token = checked_token(token, source)
        self.target = target
        self.channel = grpc.insecure_channel(target, options=MESSAGE_SIZE_OPTIONS)
        self.stub = v2a_service_pb2_grpc.V2AServiceStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout = timeout
        # GetServerInfo's capabilities, once asked (by `info`, or before a first retry).
        self._capabilities: frozenset[str] | None = None

    def reconnect(self) -> None:
        """A fresh channel to the same server, for a caller that lost it (a restart). The old
        channel connects again on its own, but after each failed try it waits a backoff (gRPC's
        default grows from 1 s to 120 s), failing every call meanwhile without trying. Calls
        still open on the old channel end with it (CANCELLED)."""
        self.channel.close()
        self.channel = grpc.insecure_channel(self.target, options=MESSAGE_SIZE_OPTIONS)
        self.stub = v2a_service_pb2_grpc.V2AServiceStub(self.channel)
        self._capabilities = None  # a restart may have brought another version

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> V2AClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method, request):
        return method(request, metadata=self.metadata, timeout=self.timeout)

    def _call_retrying(self, method, request, capability: str, on_retry) -> pb.Job:
        """The job of a CreateJob or RegenerateClip `request`, which carries a request_id: a
        try that ends in one of RETRY_CODES may have queued the job all the same, so it is tried
        again after each of RETRY_PAUSES with the same id, and the server answers the job it
        queued rather than queueing another. Not when no try so far reached the server (it
        was not running: nothing can have been queued), and only where the server lists
        `capability`: one older than the field ignores it, and a retry there could queue the
        job twice. `on_retry(error, pause)` hears of each retry before its pause; the last
        try's error is raised."""
        pauses = iter(RETRY_PAUSES)
        reached = False  # whether a try may have reached the server, and queued the job
        while True:
            before = _connectivity(self.channel)
            try:
                return self._call(method, request).job
            except grpc.RpcError as error:
                reached = reached or not _never_sent(before, _connectivity(self.channel))
                pause = next(pauses, None) if error.code() in RETRY_CODES else None
                if pause is None or not reached or self._server_reads(capability) is False:
                    raise
                if on_retry is not None:
                    on_retry(error, pause)
                time.sleep(pause)
                # Asked again where it could not be just now: a call cut off by its connection
                # leaves the channel on that connection a moment (the ask failed "Broken pipe").
                if not self._server_reads(capability):  # still unknown: no retry
                    raise

    def _server_reads(self, capability: str) -> bool | None:
        """Whether the server lists `capability`; None where it cannot be asked now. Asked once
        (the answer kept), the first time it matters, so that a call answered at once costs no
        second one."""
        if self._capabilities is None:
            try:
                self.info()
            except grpc.RpcError:
                return None
        return capability in self._capabilities

    # --- calls ---

    def info(self) -> api.GetServerInfoResponse:
        response = self._call(self.stub.GetServerInfo, api.GetServerInfoRequest())
        self._capabilities = frozenset(response.capabilities)
        return response

    def submit(
        self,
        timeline: str | Path,
        *,
        inline: bool = False,
        timeline_format: str = "",
        output_folder: str = "",
        output_format: str = "",
        tracks: tuple[str, ...] = (),
        clips: tuple[pb.ClipAddress, ...] = (),
        time_range: tuple[float, float] | None = None,
        params: pb.GenerationParams | None = None,
        media_search_paths: tuple[str, ...] = (),
        adapter_options: dict[str, str] | None = None,
        request_id: str = "",
        on_retry: Callable[[grpc.RpcError, float], None] | None = None,
    ) -> pb.Job:
        """Queue a job for a timeline file: by path (the server reads it), or its bytes inline.

        Safe to retry, and retried where the server lists `create_request_id`
        (`_call_retrying`): the request carries a request_id (`request_id`, else a new UUID),
        so a retry after a lost answer cannot queue the edit twice. `on_retry(error, pause)`
        hears of each retry."""
        path = Path(timeline)
        source = pb.TimelineSource(format=timeline_format,
                                   media_search_paths=[str(p) for p in media_search_paths],
                                   adapter_options=adapter_options or {})
        if inline:
            if path.is_dir():
                raise ValueError(f"{path} is a folder (an .otiod bundle): send it by path, "
                                 "not inline")
            try:
                source.inline_data = path.read_bytes()
            except OSError as error:
                raise ValueError(f"cannot read {path}: {error.strerror}") from error
            if not source.inline_data:  # proto3 sends no bytes as no field: "no timeline sent"
                raise ValueError(f"{path} is empty: no timeline to send")
            source.file_name = path.name
        else:
            source.path = str(path.resolve())
        selection = pb.Selection(tracks=tracks, clips=clips)
        if time_range is not None:
            selection.time_range.CopyFrom(pb.TimeRange(start_seconds=time_range[0],
                                                       end_seconds=time_range[1]))
        request = api.CreateJobRequest(
            timeline=source, selection=selection, params=params or pb.GenerationParams(),
            output=pb.OutputSpec(folder=output_folder, format=output_format),
            request_id=request_id or uuid.uuid4().hex,
        )
        size = request.ByteSize()
        if size > MAX_REQUEST_BYTES:  # the server would refuse it unread
            raise ValueError(
                f"{path} is {size / 2**20:,.1f} MiB, more than the "
                f"{MAX_REQUEST_BYTES // 2**20} MiB a request may carry: send it by path "
                "(not inline)")
        return self._call_retrying(self.stub.CreateJob, request, "create_request_id", on_retry)

    def get(self, job_id: str) -> pb.Job:
        return self._call(self.stub.GetJob, api.GetJobRequest(job_id=job_id)).job

    def list(self, states: tuple[int, ...] = (), page_size: int = 50) -> list[pb.Job]:
        jobs, token = [], ""
        while True:
            page = self._call(self.stub.ListJobs, api.ListJobsRequest(
                page_size=page_size, page_token=token, states=states))
            jobs.extend(page.jobs)
            token = page.next_page_token
            if not token:
                return jobs

    def cancel(self, job_id: str) -> pb.Job:
        return self._call(self.stub.CancelJob, api.CancelJobRequest(job_id=job_id)).job

    def watch(self, job_id: str) -> Iterator[api.WatchJobResponse]:
        """Events until the job ends (no deadline: a job can take long)."""
        return self.stub.WatchJob(api.WatchJobRequest(job_id=job_id), metadata=self.metadata)

    def wait(self, job_id: str,
             on_event: Callable[[api.WatchJobResponse], None] | None = None) -> pb.Job:
        """Follow a job to its end; returns its final state."""
        for event in self.watch(job_id):
            if on_event is not None:
                on_event(event)
        return self.get(job_id)

    def regenerate(self, job_id: str, *, clip_id: str = "", track: str = "",
                   record_time: float | None = None, seed: int | None = None,
                   prompt: str | None = None, negative_prompt: str | None = None,
                   request_id: str = "",
                   on_retry: Callable[[grpc.RpcError, float], None] | None = None) -> pb.Job:
        """Queue a new take of one clip of a succeeded job. Safe to retry, and retried, as
        `submit` is, where the server lists `regenerate_request_id`: with `request_id`, else a
        new UUID."""
        address = pb.ClipAddress(clip_id=clip_id, track=track)
        if record_time is not None:
            address.record_time = record_time
        request = api.RegenerateClipRequest(job_id=job_id, clip=address,
                                            request_id=request_id or uuid.uuid4().hex)
        if seed is not None:
            request.seed = seed
        if prompt is not None:
            request.prompt = prompt
        if negative_prompt is not None:
            request.negative_prompt = negative_prompt
        return self._call_retrying(self.stub.RegenerateClip, request, "regenerate_request_id",
                                   on_retry)

    def result(self, job_id: str, peak_points: int = 256, include_timeline_data: bool = False,
               clip_ids: Sequence[str] = ()) -> api.GetJobResultResponse:
        """The job's result; `clip_ids`: only those clips' takes (all when empty)."""
        response = self._call(self.stub.GetJobResult, api.GetJobResultRequest(
            job_id=job_id, peak_points=peak_points, include_timeline_data=include_timeline_data,
            clip_ids=clip_ids))
        if clip_ids:
            # A server older than `clip_ids` does not see it and sends every clip's take, the
            # one asked for among them, not first: kept as asked whichever server answered.
            wanted = set(clip_ids)
            kept = [clip for clip in response.clips if clip.clip_id in wanted]
            del response.clips[:]
            response.clips.extend(kept)
        return response


def job_fraction(clips) -> float:
    """How far a job is, 0..1, from its clips' progress (ClipProgress messages, the latest of
    each clip): the mean of `clip_fraction`, which only goes forward across a job's takes."""
    if not clips:
        return 0.0
    return sum(clip_fraction(clip) for clip in clips) / len(clips)


def clip_fraction(clip) -> float:
    """How far a clip is, 0..1, through all its job's takes: a take that ended (done, failed,
    skipped) counts whole, a running one by its steps. Each take of `takes: N` runs the clip from
    QUEUED again: without the take the bar ran 0 -> 1 once per take."""
    if clip.state in (pb.CLIP_STATE_DONE, pb.CLIP_STATE_FAILED, pb.CLIP_STATE_SKIPPED):
        in_take = 1.0
    elif clip.state == pb.CLIP_STATE_RUNNING and clip.total_steps:
        in_take = min(1.0, clip.step / clip.total_steps)
    else:
        in_take = 0.0
    if clip.take < 1 or clip.take_count < 1:  # a server older than the take fields
        return in_take
    return (min(clip.take, clip.take_count) - 1 + in_take) / clip.take_count
