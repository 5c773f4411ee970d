"""The V2AService RPCs: check the request, turn it into a job, hand it to the runner."""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
import queue
import re
import secrets
import threading
import time
from pathlib import Path

import grpc
import opentimelineio as otio

import v2a
from otio_adapters.plan import ClipNotFoundError
from otio_adapters.read import FORMAT_BY_EXTENSION, adapter_name, format_label
from otio_adapters.write import EXTENSIONS
from plugin_server import convert, errors, paths
from plugin_server.events import EventHub
from plugin_server.inline import inline_timelines_dir, remove_inline_timeline
from plugin_server.jobs import (
    GENERATE,
    QUEUED,
    REGENERATE,
    SEED_PER_TAKE,
    SUCCEEDED,
    ClipRecord,
    JobRecord,
)
from plugin_server.jobs import new_job_id as _new_job_id
from plugin_server.worker import (
    JobRunner,
    QueueFull,
    ShuttingDown,
    generation_request,
    selection_from_json,
)
from v2a import params
from v2a.contracts import SAMPLE_RATE, ClipAddress, Segment
from v2a.files import atomic_write
from v2a.pipeline import Plan, adapter_options_reading, output_paths
from v2a.v1 import jobs_pb2 as pb
from v2a.v1 import v2a_service_pb2 as api
from v2a.v1 import v2a_service_pb2_grpc

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 50
DEFAULT_PEAK_POINTS, MAX_PEAK_POINTS = 256, 8192
CAPABILITIES = ("inline_timeline", "timeline_path", "selection", "takes", "watch", "cancel",
                "regenerate", "waveform_peaks", "unix_socket", "loudness_target",
                "create_request_id", "regenerate_request_id")
#: A CreateJob or RegenerateClip request_id: what a log line and an error message can quote as
#: it is (a UUID).
REQUEST_ID = re.compile(r"[!-~]{1,128}")
#: Key of a job's stored request: a hash of the CreateJob or RegenerateClip request that queued
#: it with a request_id, which a retry with that id must match.
REQUEST_DIGEST = "request_digest"


def rpc(method):
    """ServiceError → its status with details; anything else → INTERNAL, logged, server alive."""

    @functools.wraps(method)
    def call(self, request, context):
        try:
            return method(self, request, context)
        except errors.ServiceError as error:
            context.abort_with_status(error.to_status())
        except Exception:
            if not context.is_active():
                raise
            log.exception("%s failed", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"{method.__name__}: internal error (logged)")

    return call


def adapters() -> tuple[list[str], list[str], dict[str, str]]:
    """OTIO adapters that read, that write, and the adapter of each file extension."""
    reads, writes, by_suffix = [], [], {}
    for name in otio.adapters.available_adapter_names():
        adapter = otio.adapters.from_name(name)
        if adapter.has_feature("read"):
            reads.append(name)
        if adapter.has_feature("write"):
            writes.append(name)
        for suffix in adapter.suffixes:
            by_suffix.setdefault(suffix.lower(), name)
    return reads, writes, by_suffix


def timeline_formats(names: list[str]) -> list[api.TimelineFormat]:
    """Each adapter of `names` with its extensions: first the one v2a names a file it writes in
    that format, then those v2a reads as it, then the adapter's own."""
    suffixes = {name: otio.adapters.from_name(name).suffixes for name in names}
    formats = []
    for name in names:
        extensions = [EXTENSIONS.get(name, "")]
        extensions += [ext for ext, adapter in FORMAT_BY_EXTENSION.items() if adapter == name]
        extensions += ["." + suffix.lower() for suffix in suffixes[name]]
        unique = dict.fromkeys(ext.lstrip(".") for ext in extensions if ext)
        formats.append(api.TimelineFormat(name=name, extensions=list(unique),
                                          label=format_label(name)))
    return formats


class V2AService(v2a_service_pb2_grpc.V2AServiceServicer):
    def __init__(self, runner: JobRunner, events: EventHub, state_dir: Path,
                 max_watchers: int = 112):
        self.runner = runner
        self.store = runner.store
        self.events = events
        self.inline_dir = inline_timelines_dir(state_dir)
        self.read_formats, self.write_formats, self.suffix_format = adapters()
        self.read_timeline_formats = timeline_formats(self.read_formats)
        self.write_timeline_formats = timeline_formats(self.write_formats)
        # A stream holds an RPC thread until its job ends; past this many it is refused rather
        # than left to take the threads the other calls need.
        self.max_watchers = max_watchers
        self._watch_slots = threading.BoundedSemaphore(max_watchers)
        self._stopping = threading.Event()  # `end_watches`: streams read the store no more
        # A call's "no job has this request_id yet" and its queueing as one step: two retries
        # at once would each find none, and queue the edit twice.
        self._create_lock = threading.Lock()

    # --- info ---

    @rpc
    def GetServerInfo(self, request, context):
        provenance = self.runner.generator.provenance()
        return api.GetServerInfoResponse(
            version=v2a.__version__,
            model_name=str(provenance.get("generator") or self.runner.generator.name),
            checkpoint_hash=str(provenance.get("checkpoint_hash")
                                or provenance.get("checkpoint_sha256") or ""),
            input_formats=self.read_formats, output_formats=self.write_formats,
            sample_rate=SAMPLE_RATE, capabilities=CAPABILITIES,
            output_roots=[str(r) for r in self.runner.output_roots],
            concurrency=self.runner.concurrency, queue_size=self.runner.queue_size,
            input_timeline_formats=self.read_timeline_formats,
            output_timeline_formats=self.write_timeline_formats,
        )

    # --- jobs ---

    @rpc
    def CreateJob(self, request, context):
        request_id, digest = _request_key(request)
        known = self._created(request_id, digest, GENERATE)
        if known is not None:  # a retry of a CreateJob whose answer was lost: its job
            return api.CreateJobResponse(job=convert.job_message(known))
        selection = request.selection
        generation = convert.params_json(request.params)
        loudness_target = convert.loudness_target(request.params)
        _check_params(generation, request.params.takes, _CREATE_FIELDS, loudness_target)
        _check_selection(params.selection_violations(
            selection_from_json(convert.selection_json(selection))))
        output_format = self._format(request.output.format, "output.format", self.write_formats)
        job_id = _new_job_id()
        folder = self._output_folder(request.output.folder, job_id)
        timeline_path, input_format = self._timeline(request.timeline, job_id)  # writes inline
        job = JobRecord(
            job_id=job_id, kind=GENERATE, state=QUEUED, timeline_path=timeline_path,
            output_folder=str(folder), input_format=input_format,
            output_format=output_format, request_id=request_id,
            request={
                "selection": convert.selection_json(selection),
                "params": generation,
                # No seed given: take n of each clip uses seed n - 1, so a job on v2a's result
                # adds new sound (a seed of 0 made every later take a copy of the first).
                SEED_PER_TAKE: not request.params.HasField("seed"),
                "takes": max(1, request.params.takes),
                "loudness_target_lufs": loudness_target,
                "media_search_paths": list(request.timeline.media_search_paths),
                "adapter_options": _adapter_options(request.timeline.adapter_options),
                "timeline_name": _inline_name(request.timeline),
                REQUEST_DIGEST: digest,
            },
        )
        inline_copy = Path(timeline_path).parent if request.timeline.HasField("inline_data") else None
        try:
            job.clips, plan = self._plan(job, requested_clips=bool(selection.clips))
            job, queued = self._submit_once(job, plan, context)
        except errors.ServiceError:
            if inline_copy:
                remove_inline_timeline(inline_copy)  # it wrote nothing
            raise
        if inline_copy and not queued:
            remove_inline_timeline(inline_copy)  # the job found reads its own
        return api.CreateJobResponse(job=convert.job_message(job))

    def _created(self, request_id: str, digest: str, kind: str) -> JobRecord | None:
        """The job a call with this request_id queued, if the store keeps one: `kind` is the
        call's (GENERATE for CreateJob, REGENERATE for RegenerateClip)."""
        job = self.store.get_by_request_id(request_id) if request_id else None
        # A digest of another call's request could match this one's bytes: the kind is checked.
        if job is not None and (job.kind != kind or job.request.get(REQUEST_DIGEST) != digest):
            raise errors.already_exists(
                "job", job.job_id, f"request_id {request_id!r} queued job {job.job_id} for "
                "another request: a new request takes a new request_id")
        return job

    def _submit_once(self, job: JobRecord, plan: Plan, context) -> tuple[JobRecord, bool]:
        """(`job`, True) once queued; (the job, False) when a call with its request_id queued
        one while this one was planned (a retry sent at once)."""
        with self._create_lock:
            known = self._created(job.request_id, job.request[REQUEST_DIGEST], job.kind)
            if known is not None:
                return known, False
            return self._submit(job, plan, context), True

    @rpc
    def GetJob(self, request, context):
        return api.GetJobResponse(job=convert.job_message(self._job(request.job_id)))

    @rpc
    def ListJobs(self, request, context):
        size = request.page_size or DEFAULT_PAGE_SIZE
        if size < 0 or size > 1000:
            raise errors.invalid_argument("bad page size", [("page_size", "1..1000")])
        after = _page_key(request.page_token)
        states = _state_filter(request.states)
        jobs = self.store.list(states, limit=size + 1, after=after, brief=True)
        more = len(jobs) > size
        last = jobs[size - 1] if more else None
        return api.ListJobsResponse(
            jobs=[convert.job_message(j) for j in jobs[:size]],
            next_page_token=f"{last.created!r}/{last.job_id}" if last else "",
        )

    @rpc
    def CancelJob(self, request, context):
        self._job(request.job_id)
        job = self.runner.cancel(request.job_id)
        return api.CancelJobResponse(job=convert.job_message(job))

    def WatchJob(self, request, context):
        try:
            self._job(request.job_id)
        except errors.ServiceError as error:
            context.abort_with_status(error.to_status())
        if not self._watch_slots.acquire(blocking=False):
            context.abort_with_status(errors.resource_exhausted(
                f"{self.max_watchers} WatchJob streams are open, the most this server holds; "
                "close one, or poll GetJob, and retry later").to_status())
        watcher = self.events.subscribe(request.job_id)
        try:
            yield from self._watch(request.job_id, watcher, context)
        finally:
            self.events.unsubscribe(request.job_id, watcher)
            self._watch_slots.release()

    def end_watches(self, timeout: float) -> None:
        """Stop every WatchJob stream reading the job store, and wait (at most `timeout`) for
        them to end: the server closes the store next. A stream woke from its wait for events
        after that and read it, and the log of every stop with a panel watching ended in
        `Exception iterating responses` (sqlite3: Cannot operate on a closed database)."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        held = 0  # every slot free is every stream ended
        while held < self.max_watchers and self._watch_slots.acquire(
                timeout=max(0.0, deadline - time.monotonic())):
            held += 1
        for _ in range(held):
            self._watch_slots.release()

    def _watch(self, job_id: str, watcher: queue.Queue, context):
        job = self.store.get(job_id)
        state = convert.JOB_STATES[job.state]
        sent: dict = {}  # clip id -> its last ClipProgress on this stream
        progress_of = functools.partial(convert.clip_message, take_count=job.takes)

        def clip_response(clip) -> api.WatchJobResponse:
            sent[clip.clip_id] = progress_of(clip)
            return api.WatchJobResponse(job_id=job_id, job_state=state, clip=sent[clip.clip_id])

        for clip in job.clips:  # first what is known already
            yield clip_response(clip)
        if job.message and not job.terminal:  # e.g. why a running job is still at 0 %
            yield api.WatchJobResponse(job_id=job_id, job_state=state, message=job.message)
        while context.is_active():
            if job.terminal:
                # A watcher too slow for its queue lost events, a clip's last state among them:
                # the stream ends with every clip as the store has it, whatever was lost.
                for clip in job.clips:
                    if sent.get(clip.clip_id) != progress_of(clip):
                        yield clip_response(clip)
                yield api.WatchJobResponse(job_id=job_id, job_state=state, message=job.message)
                return
            try:
                event = watcher.get(timeout=1.0)
            except queue.Empty:
                event = None
            if self._stopping.is_set():
                return  # the server is stopping, its store about to close (`end_watches`)
            if event is None:
                job = self.store.get(job_id)  # an event lost to a full queue ends no stream
                state = convert.JOB_STATES[job.state]
                continue
            state = convert.JOB_STATES[event.job_state]
            # A job that starts sends its clips' queued states again: each was sent already.
            if event.clip is not None and sent.get(event.clip.clip_id) != progress_of(event.clip):
                yield clip_response(event.clip)
            elif event.job_state in ("succeeded", "failed", "cancelled"):
                job = self.store.get(job_id)
            elif event.message:
                yield api.WatchJobResponse(job_id=job_id, job_state=state, message=event.message)

    @rpc
    def RegenerateClip(self, request, context):
        request_id, digest = _request_key(request)
        known = self._created(request_id, digest, REGENERATE)
        if known is not None:  # a retry of a RegenerateClip whose answer was lost: its job
            return api.RegenerateClipResponse(job=convert.job_message(known))
        parent = self._job(request.job_id)
        if parent.state != SUCCEEDED:
            raise errors.failed_precondition(
                f"job {parent.job_id} is {parent.state}: only a succeeded job's clips can be "
                "regenerated", [("JOB_NOT_SUCCEEDED", parent.job_id, parent.state)])
        address = request.clip
        if not address.clip_id and not (address.track and address.HasField("record_time")):
            raise errors.invalid_argument("which clip?", [
                ("clip", "give clip_id, or track and record_time")])
        _check_selection(params.address_violations(ClipAddress(
            clip_id=address.clip_id, track=address.track,
            record_time=address.record_time if address.HasField("record_time") else None), "clip"))
        generation = dict(parent.request.get("params", {}))
        generation["seed"] = request.seed if request.HasField("seed") else secrets.randbelow(2**31)
        if request.HasField("prompt"):
            generation["prompt"] = request.prompt
        if request.HasField("negative_prompt"):
            generation["negative_prompt"] = request.negative_prompt
        _check_params(generation, 1, _REGENERATE_FIELDS)
        result = parent.result
        timeline, input_format = result.get("timeline_path", ""), parent.output_format
        # The format the parent wrote, also where it came in as ('' in its request): read from
        # the .otio beside it, the regeneration would otherwise write that .otio alone.
        output_format = output_paths(generation_request(parent))[0]
        if result.get("fallback_otio_path"):  # the requested format could not carry the audio
            timeline, input_format = result["fallback_otio_path"], "otio_json"
        selection = pb.Selection(clips=[address])
        job = JobRecord(
            job_id=_new_job_id(), kind=REGENERATE, state=QUEUED, timeline_path=timeline,
            output_folder=parent.output_folder, input_format=input_format,
            output_format=output_format, parent_job_id=parent.job_id, request_id=request_id,
            # It reads the parent's written timeline, a path the client was given: no inline name.
            request={**parent.request, "selection": convert.selection_json(selection),
                     "params": generation, "takes": 1, "timeline_name": "",
                     REQUEST_DIGEST: digest,  # its own, not the parent's
                     SEED_PER_TAKE: False,  # its own seed, given or drawn
                     "adapter_options": adapter_options_reading(generation_request(parent),
                                                                timeline, input_format)},
        )
        job.clips, plan = self._plan(job, requested_clips=True)
        job, _ = self._submit_once(job, plan, context)
        return api.RegenerateClipResponse(job=convert.job_message(job))

    @rpc
    def GetJobResult(self, request, context):
        job = self._job(request.job_id)
        if job.state != SUCCEEDED:
            raise errors.failed_precondition(
                f"job {job.job_id} is {job.state}: a result exists once it succeeded",
                [("JOB_NOT_SUCCEEDED", job.job_id, job.state)])
        points = request.peak_points or DEFAULT_PEAK_POINTS
        if points < 0 or points > MAX_PEAK_POINTS:
            raise errors.invalid_argument("bad peak_points", [
                ("peak_points", f"1..{MAX_PEAK_POINTS}")])
        result = job.result
        timeline_path = result.get("timeline_path", "")
        response = api.GetJobResultResponse(
            job=convert.job_message(job), timeline_path=timeline_path,
            timeline_format=job.output_format or self._format_of(timeline_path),
            fallback_otio_path=result.get("fallback_otio_path", ""),
            format_note=result.get("format_note", ""),
        )
        if request.include_timeline_data:
            response.timeline_data = _timeline_bytes(job, timeline_path)
        names = {clip.clip_id: clip.clip_name for clip in job.clips}
        for audio in _asked_for(result.get("generated", ()), request.clip_ids, job):
            response.clips.append(_clip_result(audio, job, names, points))
        return response

    # --- helpers ---

    def _job(self, job_id: str) -> JobRecord:
        if not job_id:
            raise errors.invalid_argument("job_id is empty", [("job_id", "required")])
        job = self.store.get(job_id)
        if job is None:
            raise errors.not_found("job", job_id, "no such job on this server (jobs that ended more "
                                   "than --keep-jobs-days ago are forgotten)")
        return job

    def _submit(self, job: JobRecord, plan: Plan, context) -> JobRecord:
        if not context.is_active():
            # The caller's deadline passed (or it cancelled) while the timeline was read and
            # planned: it never gets this job's id to watch or cancel, and a retry would run the
            # edit a second time into the same folder. Planning a feature edit takes a second.
            log.info("%s not queued: its caller gave up while it was planned", job.job_id)
            raise errors.ServiceError(grpc.StatusCode.CANCELLED, "the caller gave up (deadline "
                                      "or cancel) while the timeline was planned: not queued")
        try:
            return self.runner.submit(job, plan)
        except QueueFull as error:
            raise errors.resource_exhausted(f"queue full: {error}; retry later") from None
        except ShuttingDown as error:
            raise errors.ServiceError(grpc.StatusCode.UNAVAILABLE, str(error)) from None

    def _output_folder(self, requested: str, job_id: str) -> Path:
        try:
            return paths.resolve_output_folder(requested, self.runner.output_roots, job_id)
        except paths.PathEscape as error:
            raise errors.invalid_argument(str(error), [("output.folder", error.reason)]) from None

    def _format(self, name: str, field: str, allowed: list[str]) -> str:
        """The adapter `name` means: its own name or an extension (`edl`, `xml`), as `v2a
        generate` takes them (`read.adapter_name`); CreateJob refused `edl` that the CLI took."""
        adapter = adapter_name(name)
        if adapter and adapter not in allowed:
            extensions = sorted(ext.lstrip(".") for ext, fmt in FORMAT_BY_EXTENSION.items()
                                if fmt in allowed)
            raise errors.invalid_argument(f"unknown timeline format {name!r}", [
                (field, f"one of {', '.join(allowed)}, or an extension: {', '.join(extensions)}")])
        return adapter

    def _format_of(self, path: str) -> str:
        return self.suffix_format.get(Path(path).suffix.lstrip(".").lower(), "")

    def _timeline(self, source: pb.TimelineSource, job_id: str) -> tuple[str, str]:
        """The timeline file to read and its adapter ('' to detect from the extension)."""
        fmt = self._format(source.format, "timeline.format", self.read_formats)
        kind = source.WhichOneof("source")
        if kind == "path":
            if not os.path.isabs(source.path):
                raise errors.invalid_argument(f"timeline path {source.path!r} is not absolute", [
                    ("timeline.path", "must be an absolute path on the server's machine")])
            # An .otiod bundle is a folder; any other folder is not a timeline.
            bundle = (fmt or self._format_of(source.path)) == "otiod"
            if os.path.isdir(source.path) and not bundle:
                raise errors.invalid_argument(f"timeline path {source.path} is a folder", [
                    ("timeline.path", f"{source.path} is a folder, not a timeline file")])
            if not (os.path.isfile(source.path) or (bundle and os.path.isdir(source.path))):
                raise errors.invalid_argument(f"timeline file {source.path} does not exist", [
                    ("timeline.path", f"no such file: {source.path}")])
            if not fmt and not self._format_of(source.path):
                raise errors.invalid_argument(f"cannot tell the format of {source.path}", [
                    ("timeline.format", "set it: the extension names no known adapter")])
            return source.path, fmt
        if kind != "inline_data" or not source.inline_data:
            raise errors.invalid_argument("no timeline sent", [
                ("timeline", "send inline_data (the file's bytes) or a path")])
        name = paths.safe_file_name(source.file_name, "timeline")
        if not self._format_of(name):
            if not fmt:
                raise errors.invalid_argument("cannot tell the inline timeline's format", [
                    ("timeline.format", "set it, or a file_name with a known extension")])
            name += "." + otio.adapters.from_name(fmt).suffixes[0]
        folder = self.inline_dir / job_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        atomic_write(str(path), source.inline_data)
        return str(path), fmt

    def _plan(self, job: JobRecord, requested_clips: bool) -> tuple[list[ClipRecord], Plan]:
        """Read and plan the timeline now, so a bad one is refused before it is queued; the job's
        clips, and the plan, which the job runs on if it starts at once (`JobRunner.submit`)."""
        name = job.timeline_name
        request = generation_request(job)
        try:
            plan = self.runner.pipeline.plan_job(request)
        except ClipNotFoundError as error:
            raise errors.not_found("clip", _address_text(job), job.as_sent(str(error))) from None
        except Exception as error:
            message = job.as_sent(str(error))
            if name not in message:  # readers and planners name the file; a surprise may not
                message = f"{name}: {message}"
            raise errors.invalid_argument(message, [
                (Path(name).name, f"{type(error).__name__}: {message}")]) from None
        segments = plan.segments
        if not segments:
            if requested_clips:
                raise errors.not_found("clip", _address_text(job),
                                       f"no video clip there in {Path(name).name}")
            raise errors.invalid_argument(f"{name}: the selection matches no visible video clip", [
                ("selection", "matches no visible video clip")])
        offline = [s for s in segments if s.status == "offline"]
        if len(offline) == len(segments):
            # Sent inline, the timeline has no folder of its own for relative media paths.
            inline = "; or send it by path, not inline" if job.sent_inline else ""
            raise errors.failed_precondition(
                f"{name}: the media of every selected clip is offline "
                f"(add media_search_paths to relink it{inline})",
                [("MEDIA_OFFLINE", s.clip_name or s.clip_id,
                  job.as_sent(s.problem or s.media.referenced)) for s in offline])
        return [_clip_record(s) for s in segments], plan


# The request field each generation parameter comes from, to name it in a refusal.
_CREATE_FIELDS = {"takes": "params.takes", "steps": "params.steps", "guidance": "params.guidance",
                  "seed": "params.seed", "prompt": "params.prompt",
                  "negative_prompt": "params.negative_prompt",
                  "loudness_target_lufs": "params.loudness_target_lufs"}
# A regeneration brings its own seed and prompts; the rest is the parent job's (Job.params).
_REGENERATE_FIELDS = {**_CREATE_FIELDS, "seed": "seed", "prompt": "prompt",
                      "negative_prompt": "negative_prompt"}


def _check_params(generation: dict, takes: int, fields: dict[str, str],
                  loudness_target: float | None = None) -> None:
    """INVALID_ARGUMENT naming each bad generation parameter, before anything is queued."""
    problems = [(fields[name], why) for name, why in params.violations(generation, takes)
                + params.loudness_target_violations(loudness_target)]
    if problems:
        raise errors.invalid_argument(
            "bad generation parameters: " + "; ".join(f"{f} {why}" for f, why in problems),
            problems)


def _check_selection(problems: list[tuple[str, str]]) -> None:
    """INVALID_ARGUMENT naming each clip address or time range that names no place."""
    if problems:
        raise errors.invalid_argument(
            "bad selection: " + "; ".join(f"{field} {why}" for field, why in problems), problems)


def _page_key(token: str) -> tuple[float, str] | None:
    """The (created, job_id) of the last job of the previous page; None for the first page."""
    if not token:
        return None
    text, _, job_id = token.partition("/")
    try:
        created = float(text)
    except ValueError:
        created = math.nan
    if job_id and math.isfinite(created):  # float() reads "nan": a page that listed nothing
        return created, job_id
    raise errors.invalid_argument("bad page token", [("page_token", "not from ListJobs")])


def _state_filter(states) -> tuple[str, ...]:
    """ListJobs' `states` as the store names them. A state this server does not know (0, or a
    newer panel's) is refused: dropped, it left the filter empty, which lists every job."""
    for index, state in enumerate(states):
        if state not in convert.JOB_STATE_NAMES:
            known = ", ".join(pb.JobState.Name(s) for s in convert.JOB_STATE_NAMES)
            raise errors.invalid_argument(f"unknown job state {state} in states", [
                (f"states[{index}]", f"{state} is no job state of this server: one of {known}")])
    return tuple(convert.JOB_STATE_NAMES[state] for state in states)


def _clip_record(segment: Segment) -> ClipRecord:
    if segment.status == "ok":
        return ClipRecord(segment.clip_id, segment.clip_name)
    return ClipRecord(segment.clip_id, segment.clip_name, state="failed",
                      message=segment.problem or segment.status)


def _address_text(job: JobRecord) -> str:
    clips = job.request.get("selection", {}).get("clips", ())
    return ", ".join(c.get("clip_id") or f"{c.get('track')}@{c.get('record_time')}s"
                     for c in clips) or "selection"


def _request_key(request: api.CreateJobRequest | api.RegenerateClipRequest) -> tuple[str, str]:
    """A CreateJob's or RegenerateClip's request_id (checked) and its request's digest ("", ""
    without an id)."""
    if not request.request_id:
        return "", ""
    if not REQUEST_ID.fullmatch(request.request_id):
        raise errors.invalid_argument("bad request_id", [
            ("request_id", "at most 128 printable ASCII characters without spaces (a UUID)")])
    # The whole request, its id too (the same in a retry); deterministic: map fields in order.
    digest = hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()
    return request.request_id, digest


def _inline_name(source: pb.TimelineSource) -> str:
    """The name a client sent an inline timeline under, for messages ('' for a path)."""
    if source.WhichOneof("source") != "inline_data":
        return ""
    return source.file_name.strip() or "the inline timeline"


def _adapter_options(options) -> dict:
    """Numbers stay numbers (`rate: 25` for CMX 3600), the rest stays text."""
    out = {}
    for key, value in options.items():
        try:
            out[key] = int(value)
        except ValueError:
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
    return out


def _timeline_bytes(job: JobRecord, path: str) -> bytes:
    """The written timeline's bytes; refused saying why where there are none to send."""
    if os.path.isdir(path):  # an .otiod bundle
        raise errors.failed_precondition(
            f"job {job.job_id}'s timeline {path} is a folder (an .otiod bundle): open it there, "
            "or ask for the output format otioz for one file", [("TIMELINE_IS_A_FOLDER", path,
                                                                "a folder has no bytes to send")])
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise errors.not_found("timeline", path, f"job {job.job_id} wrote it, and it has been "
                               "moved or deleted since") from None


def _asked_for(generated: list[dict], clip_ids, job: JobRecord) -> list[dict]:
    """The result's takes of `clip_ids`, in the result's order; all of them when none is named."""
    if not clip_ids:
        return list(generated)
    listed = {audio["clip_id"] for audio in generated}
    missing = [clip_id for clip_id in clip_ids if clip_id not in listed]
    if missing:
        raise errors.not_found("clip", missing[0], f"job {job.job_id}'s result lists no such clip")
    wanted = set(clip_ids)
    return [audio for audio in generated if audio["clip_id"] in wanted]


def _clip_result(audio: dict, job: JobRecord, names: dict[str, str],
                 points: int) -> pb.ClipResult:
    import json

    from v2a.media.audio import read_wav

    # A regeneration's job has only its own clip, but its result lists every clip's current
    # take: the others are named as their take recorded them (1,999 of 2,000 were unnamed).
    provenance = audio.get("provenance") or {}
    name = names.get(audio["clip_id"]) or provenance.get("source_clip", "")
    clip = pb.ClipResult(
        clip_id=audio["clip_id"], clip_name=name, media_path=audio["path"],
        start_sample=audio["start_sample"], num_samples=audio["num_samples"],
        handle_before_samples=audio["handle_before_samples"],
        handle_after_samples=audio["handle_after_samples"],
        provenance_json=json.dumps(provenance),
    )
    try:
        samples, rate = read_wav(audio["path"])
    except (OSError, ValueError) as error:
        log.warning("job %s: cannot read %s for peaks: %s", job.job_id, audio["path"], error)
        return clip
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    clip.peaks.CopyFrom(convert.waveform_peaks(samples, rate, points))
    return clip
