"""The bounded job queue and the worker threads that run the generation pipeline."""

from __future__ import annotations

import functools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from plugin_server import inline, paths
from plugin_server.events import EventHub, JobEvent
from plugin_server.jobs import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    SEED_PER_TAKE,
    SUCCEEDED,
    ClipRecord,
    JobRecord,
    JobStore,
)
from v2a import pipeline as v2a_pipeline
from v2a.contracts import (
    ClipAddress,
    ClipEvent,
    GenerationCancelled,
    GenerationParams,
    GenerationRequest,
    GenerationResult,
    Generator,
    Selection,
)
from v2a.folder_lock import FolderLock, remove_leftovers_if_free

if TYPE_CHECKING:
    from v2a.pipeline import Plan

log = logging.getLogger(__name__)

#: Step progress reaches watchers at once but the store at most this often per job.
STEP_PERSIST_SECONDS = 0.5
#: A job that was running when the server stopped this many times is failed, not retried.
MAX_ATTEMPTS = 3
#: Stored in a running job's result once a take of `takes: N` is on the written timeline, with
#: the clips as that take left them: what a restart keeps if the server died in a later take.
TAKES_WRITTEN, CLIPS_AFTER_TAKE = "takes_written", "clips_after_take"
#: Stored in a running job's result just before a take's timeline is renamed into place: that
#: take's result, and the stamps of the timeline files as they were. The store cannot hear of
#: the rename in the same instant, so a restart after a kill -9 tells from the files which side
#: of it the kill came (before: the take's files were removed, though the timeline named them).
WRITING = "writing"
#: What a cancelled job's clips say, by the state they were in: a finished clip's "take N: path"
#: would name a file the cancel removed.
CANCELLED_CLIP_MESSAGES = {
    "queued": "cancelled before it started",
    "running": "cancelled while it was being generated; nothing was written",
    "done": "cancelled after it was generated; its take was removed (the job wrote no timeline)",
}


class Pipeline(Protocol):
    """What the server needs of `v2a.pipeline` (a module satisfies it)."""

    def plan_job(self, request: GenerationRequest) -> Plan: ...

    def run_generation(self, request: GenerationRequest, generator: Generator, on_event=None,
                       cancel: threading.Event | None = None, plan: Plan | None = None,
                       before_write=None) -> GenerationResult: ...


class QueueFull(Exception):
    pass


class ShuttingDown(Exception):
    pass


# --- the generation request a job stands for ----------------------------------------------


def selection_to_json(selection: Selection) -> dict:
    return asdict(selection)


def selection_from_json(data: dict) -> Selection:
    time_range = data.get("time_range")
    return Selection(
        tracks=tuple(data.get("tracks", ())),
        clips=tuple(ClipAddress(**c) for c in data.get("clips", ())),
        time_range=tuple(time_range) if time_range else None,
    )


def generation_request(job: JobRecord, output_folder: str | None = None) -> GenerationRequest:
    data = job.request
    return GenerationRequest(
        timeline_path=job.timeline_path,
        out_dir=output_folder or job.output_folder,
        input_format=job.input_format,
        output_format=job.output_format,
        adapter_options=dict(data.get("adapter_options", {})),
        relink_roots=tuple(data.get("media_search_paths", ())),
        selection=selection_from_json(data.get("selection", {})),
        params=GenerationParams(**data.get("params", {})),
        loudness_target_lufs=data.get("loudness_target_lufs"),  # absent in jobs stored before it
        seed_per_take=data.get(SEED_PER_TAKE, False),  # absent in jobs stored before it
    )


def result_to_json(result: GenerationResult, base: list[dict] | None = None) -> dict:
    """The result as JSON; `generated` keeps one entry per clip, the newest take winning."""
    generated = {g["clip_id"]: g for g in base or ()}
    for audio in result.generated:
        generated[audio.clip_id] = asdict(audio)
    return {
        "timeline_path": result.timeline_path,
        "fallback_otio_path": result.fallback_otio_path,
        "format_note": result.format_note,
        "generated": list(generated.values()),
    }


# --- the runner ------------------------------------------------------------------------------


@dataclass
class _FolderLock:
    """The lock of one output folder and how many jobs hold or wait for it; the holder also
    holds the folder's lock across processes (`file_lock`), taken once this one is."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0
    file_lock: FolderLock | None = None


class JobRunner:
    def __init__(self, store: JobStore, pipeline: Pipeline, generator: Generator,
                 events: EventHub, output_roots: tuple[Path, ...], concurrency: int = 1,
                 queue_size: int = 16, inline_dir: Path | None = None):
        self.store = store
        self.pipeline = pipeline
        self.generator = generator
        self.events = events
        self.output_roots = output_roots
        self.concurrency = max(1, concurrency)
        self.queue_size = max(1, queue_size)
        # Where the timelines sent inline are kept: a job's copy goes when it ends (see inline).
        self.inline_dir = inline_dir
        self._lock = threading.Lock()  # guards claiming and cancelling, and the dicts below
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._waiting: set[str] = set()
        self._running: dict[str, threading.Event] = {}
        self._finished: dict[str, threading.Event] = {}
        self._cancel_reason: dict[str, str] = {}
        # The plan each job's request was checked with, kept for a job that starts at once (see
        # `submit`) so that it does not read and plan its timeline a second time.
        self._plans: dict[str, Plan] = {}
        # One lock per output folder: jobs writing the same timeline run one after the other, so
        # each starts from what the previous one wrote (two at once: the later write drops the
        # earlier job's new takes).
        # An entry lives while some job holds or waits for it.
        self._folder_locks: dict[str, _FolderLock] = {}
        self._stopping = False
        self._threads: list[threading.Thread] = []

    # --- lifecycle ---

    def start(self) -> list[str]:
        """Recover what a previous run left, start the workers; returns the requeued job ids."""
        for job in self.store.list(states=(RUNNING,), limit=1_000_000):
            written = _written_at_the_stop(job.result.pop(WRITING, None))
            if written:
                log.info("job %s: the server stopped just after it wrote %s: keeping its takes",
                         job.job_id, written["timeline_path"])
                self._finish_after_the_write(job, written)
            elif job.result.get(TAKES_WRITTEN):
                log.info("job %s was in a further take when the server stopped: keeping the "
                         "takes it had written", job.job_id)
                self._finish_after_written_takes(job)
            else:
                log.info("job %s was running when the server stopped: cleaning up", job.job_id)
                discard_attempt_files(job)
                for clip in job.clips:
                    if clip.state in ("done", "running"):  # its take, if any, was just removed
                        clip.requeue()
            self.store.save(job)
        requeued = self.store.recover_after_restart(MAX_ATTEMPTS)
        if self.inline_dir is not None:  # of jobs that ended above, or before a stop removed it
            inline.forget_copies_of_ended_jobs(self.inline_dir, self.store)
        for job_id in requeued:
            self._enqueue(job_id)
        for i in range(self.concurrency):
            thread = threading.Thread(target=self._work, name=f"v2a-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return requeued

    def stop(self, grace_seconds: float) -> None:
        """Let running jobs finish for `grace_seconds`, then cancel and requeue them."""
        with self._lock:
            self._stopping = True
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + grace_seconds
        while self.running_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            for job_id, cancel in self._running.items():
                self._cancel_reason[job_id] = "shutdown"
                cancel.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def running_count(self) -> int:
        with self._lock:
            return len(self._running)

    def waiting_count(self) -> int:
        with self._lock:
            return len(self._waiting)

    # --- requests ---

    def submit(self, job: JobRecord, plan: Plan | None = None) -> JobRecord:
        """Store a queued job and queue it; QueueFull past the bound.

        `plan`: its request's plan, which the job runs on if a worker is free for it now and its
        timeline file is unchanged when it starts. A job that waits (for a worker, or for
        another job's output folder) reads and plans its timeline again when its turn comes:
        what it waited for may have written that timeline, and media may have turned up."""
        with self._lock:
            if self._stopping:
                raise ShuttingDown("the server is shutting down")
            if len(self._waiting) >= self.queue_size:
                raise QueueFull(
                    f"{len(self._waiting)} jobs are waiting, the queue holds {self.queue_size}"
                )
            job = self.store.add(job)
            if plan is not None and len(self._running) + len(self._waiting) < self.concurrency:
                self._plans[job.job_id] = plan
            self._waiting.add(job.job_id)
        self._queue.put(job.job_id)
        self._publish(job)
        return job

    def cancel(self, job_id: str, wait_seconds: float = 5.0) -> JobRecord | None:
        """Cancel a queued job at once, a running one within a sampling step."""
        with self._lock:
            job = self.store.get(job_id)
            if job is None or job.terminal:
                return job
            if job.state == QUEUED:
                self._waiting.discard(job_id)
                self._plans.pop(job_id, None)
                job.state, job.message = CANCELLED, "cancelled before it started"
                for clip in job.clips:
                    clip.state, clip.message = "cancelled", CANCELLED_CLIP_MESSAGES["queued"]
                job = self.store.save(job)
                self._forget_inline_copy(job)
                self._publish(job)
                return job
            self._cancel_reason[job_id] = "user"
            self._running[job_id].set()
            finished = self._finished[job_id]
        finished.wait(wait_seconds)
        return self.store.get(job_id)

    # --- the work ---

    def _enqueue(self, job_id: str) -> None:
        with self._lock:
            self._waiting.add(job_id)
        self._queue.put(job_id)

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None or self._stopping:
                return
            job = self._claim(job_id)
            if job is not None:
                self._run(job)

    def _claim(self, job_id: str) -> JobRecord | None:
        with self._lock:
            self._waiting.discard(job_id)
            job = self.store.get(job_id)
            if job is None or job.state != QUEUED or self._stopping:
                return None
            job.state, job.message = RUNNING, ""
            job.attempts += 1
            job = self.store.save(job)
            self._running[job_id] = threading.Event()
            self._finished[job_id] = threading.Event()
        self._publish(job)
        return job

    def _run(self, job: JobRecord) -> None:
        cancel = self._running[job.job_id]
        progress = _Progress(self, job)
        folder_key, stopped, made = None, "", []
        try:
            folder = paths.resolve_output_folder(job.output_folder, self.output_roots, job.job_id)
            folder_key = self._acquire_folder(folder, cancel, f"v2a serve, job {job.job_id}",
                                              on_wait=lambda why: self._wait_for_folder(job, why),
                                              on_wait_over=lambda: self._set_message(job, ""))
            # The folders this attempt makes (it alone writes there now): an attempt whose takes
            # are removed (cancelled, failed, requeued) leaves them empty, and they go too.
            made, _ = v2a_pipeline.missing_folders(str(folder / v2a_pipeline.AUDIO_FOLDER))
            result, stopped = self._generate(job, str(folder), progress.on_event, cancel)
        except GenerationCancelled:
            self._cancelled(job, cancel)
        except paths.PathEscape as error:
            # Refused before anything was written; the folder, now outside the roots, is not ours.
            self._failed(job, str(error), discard_files=False)
        except Exception as error:  # a job's failure must never take the server down
            log.exception("job %s failed", job.job_id)
            self._failed(job, job.as_sent(f"{type(error).__name__}: {error}"))
        else:
            self._succeeded(job, result, stopped)
        finally:
            v2a_pipeline.remove_if_empty(made)  # before the folder is another job's to write
            with self._lock:
                job = self.store.save(job)
                del self._running[job.job_id]
                self._cancel_reason.pop(job.job_id, None)
                self._plans.pop(job.job_id, None)  # left if it ended before its first take
                finished = self._finished.pop(job.job_id)
            try:
                if folder_key is not None:  # released only once the result is in the store
                    self._release_folder(folder_key)
            finally:
                # A cancel returns once this is set: by then the folder is as the job leaves it
                # (the lock file gone, and the folder too if the lock made it and it is empty).
                finished.set()
            if job.terminal:  # gone before a watcher hears of the end
                self._forget_inline_copy(job)
            if job.state != SUCCEEDED or stopped:
                # Failed, cancelled, requeued or stopped in a further take: watchers last saw
                # clips pending, or done with takes now removed.
                for clip in job.clips:
                    self._publish(job, clip)
            self._publish(job, message=job.message)

    def _acquire_folder(self, folder: Path, cancel: threading.Event, what: str = "v2a serve",
                        on_wait: Callable[[str], None] = lambda why: None,
                        on_wait_over: Callable[[], None] = lambda: None) -> str:
        """Wait until no other job, of this server or of another process, writes `folder`
        (cancellable meanwhile; if it must wait, `on_wait` is told why when the wait starts or
        its reason changes, and `on_wait_over` is called once the folder is its); returns the
        key of its lock, now held, for `_release_folder`. `what`: the job, as another process
        waiting for the folder names it."""
        key = str(folder.resolve())
        with self._lock:
            entry = self._folder_locks.setdefault(key, _FolderLock())
            entry.users += 1
        waited = False
        if not entry.lock.acquire(blocking=False):
            waited = True
            on_wait(f"waiting: another job is writing the output folder {folder.name}")
            while not entry.lock.acquire(timeout=0.05):
                if cancel.is_set():
                    self._forget_folder(key)
                    raise GenerationCancelled(f"cancelled while waiting for another job writing {folder}")
        file_lock = FolderLock(str(folder), what)
        try:
            # Another process's run (`v2a generate`, a second server) into this folder: waited
            # for in the queue as another job of ours is, so a panel sees one behaviour.
            waited = file_lock.acquire(cancel=cancel, on_wait=lambda holder: on_wait(
                f"waiting: another v2a run ({holder or 'it has not said which'}) is writing "
                f"the output folder {folder.name}")) or waited
        except BaseException:
            entry.lock.release()
            self._forget_folder(key)
            raise
        entry.file_lock = file_lock
        if waited:
            on_wait_over()
        return key

    def _release_folder(self, key: str) -> None:
        entry = self._folder_locks[key]
        entry.file_lock.release()
        entry.file_lock = None
        entry.lock.release()
        self._forget_folder(key)

    def _forget_folder(self, key: str) -> None:
        """One holder or waiter fewer; the last one removes the entry (folders are not kept forever)."""
        with self._lock:
            entry = self._folder_locks[key]
            entry.users -= 1
            if entry.users == 0:
                del self._folder_locks[key]

    def _generate(self, job: JobRecord, folder: str, on_event,
                  cancel) -> tuple[GenerationResult, str]:
        """The job's takes, one after the other; returns the last written result and, when a
        further take was cancelled or failed (its takes removed), what stopped it."""
        request = generation_request(job, folder)
        takes = job.takes
        base = []
        if job.parent_job_id:  # start from the newest state of the timeline the parent wrote
            parent = self.store.get(job.parent_job_id)
            latest = parent and self.store.latest_succeeded_writing(
                parent.result.get("timeline_path", ""))
            base = (latest or parent).result.get("generated", []) if parent else []
        result, first_seed, stopped = None, request.params.seed, ""
        # Kept for every take: one read from the .otio beside an EDL would write that .otio alone.
        output_format, _ = v2a_pipeline.output_paths(request)
        for take in range(takes):
            if take and not result.timeline_path:
                break  # nothing generated, nothing written: no timeline to take further
            if take:
                # Each further take regenerates the same clips on the timeline just written: with
                # seed, seed + 1, seed + 2, …; without a seed given, each from its take number.
                params = (request.params if request.seed_per_take
                          else replace(request.params, seed=first_seed + take))
                timeline, fmt = result.timeline_path, request.output_format
                if result.fallback_otio_path:  # the format could not carry the audio tracks
                    timeline, fmt = result.fallback_otio_path, "otio_json"
                options = v2a_pipeline.adapter_options_reading(request, timeline, fmt)
                request = replace(request, timeline_path=timeline, input_format=fmt,
                                  output_format=output_format, params=params,
                                  adapter_options=options)
            # The clips as the last written timeline has them, to go back to if a further take
            # stops (the first take's failure is the job's).
            before = [replace(clip) for clip in job.clips] if take else []
            try:
                result_of_take = self.pipeline.run_generation(
                    request, self.generator, functools.partial(on_event, take=take + 1), cancel,
                    plan=None if take else self._accepted_plan(job.job_id),
                    before_write=functools.partial(self._before_write, job, base=base,
                                                   take=take + 1))
            except Exception as error:
                job.result.pop(WRITING, None)
                if not take:
                    raise
                # Takes 1..take are on the timeline this job wrote: keep them rather than leave
                # that timeline behind a cancelled or failed job whose clips say nothing was
                # written (and whose requeued rerun orphaned them).
                self._undo_take(job, before)
                if isinstance(error, GenerationCancelled):
                    shutdown = self._cancel_reason_of(job.job_id) == "shutdown"
                    why = "the server was shutting down" if shutdown else "cancelled"
                else:
                    why = job.as_sent(f"{type(error).__name__}: {error}")
                stopped = f"stopped after take {take} of {takes} ({why})"
                break
            result = result_of_take
            base = result_to_json(result, base)["generated"]
            if take + 1 < takes:
                # The timeline now refers to these takes. Stored, so that a server killed in a
                # later take keeps them at restart instead of running the job again from the
                # source (which left this attempt's takes on disk, referred to by nothing).
                job.result = {**result_to_json(result, base), TAKES_WRITTEN: take + 1,
                              CLIPS_AFTER_TAKE: [_without_take(clip) for clip in job.clips]}
                self.store.save(job)
        job.result = result_to_json(result, base)
        return result, stopped

    def _before_write(self, job: JobRecord, pending: GenerationResult, base: list[dict],
                      take: int) -> None:
        """Store the take's result before its timeline is written over (see WRITING)."""
        files = v2a_pipeline.timeline_files(pending.timeline_path)
        job.result = {**job.result, WRITING: {
            "result": result_to_json(pending, base), "take": take,
            "files": [list(file) for file in zip(files, v2a_pipeline.file_stamps(files),
                                                 strict=True)]}}
        self.store.save(job)

    def _finish_after_the_write(self, job: JobRecord, written: dict) -> None:
        """At restart, a job the server stopped just after a take's timeline was written ends as
        if the store had heard of it: SUCCEEDED with that take's result and its clips as they
        were stored before the write, and "stopped after take K of N" if takes were left."""
        take, takes = written.pop("take"), job.takes
        job.result = written
        remove_leftovers_if_free(job.output_folder, "v2a serve, starting")
        self._conclude(job, f"stopped after take {take} of {takes} (the server stopped)"
                       if take < takes else "")

    def _finish_after_written_takes(self, job: JobRecord) -> None:
        """At restart, a job the server stopped in a further take of `takes: N` ends as a stop
        in that take would have: the takes on its last written timeline kept, the unfinished
        take's files removed, SUCCEEDED with what stopped it."""
        written = job.result.pop(TAKES_WRITTEN)
        after = [ClipRecord(**{"take": written, **clip})
                 for clip in job.result.pop(CLIPS_AFTER_TAKE)]
        self._undo_take(job, after)
        self._conclude(job, f"stopped after take {written} of {job.takes} (the server stopped)")

    def _undo_take(self, job: JobRecord, before: list[ClipRecord]) -> None:
        """Remove the takes an unfinished further take wrote and put the clips back as the last
        written timeline has them."""
        earlier = {clip.clip_id: clip for clip in before}
        fresh = [clip for clip in job.clips if clip.state == "done"
                 and clip.media_path != getattr(earlier.get(clip.clip_id), "media_path", "")]
        self._discard_attempt(replace(job, clips=fresh))
        for clip in job.clips:
            if clip.clip_id in earlier:
                vars(clip).update(vars(earlier[clip.clip_id]))

    def _succeeded(self, job: JobRecord, result: GenerationResult, stopped: str = "") -> None:
        written = {audio.clip_id: audio.path for audio in result.generated}
        for clip in job.clips:
            clip.media_path = written.get(clip.clip_id, clip.media_path)
        self._conclude(job, stopped)

    @staticmethod
    def _conclude(job: JobRecord, stopped: str = "") -> None:
        """The job's end state from its clips: SUCCEEDED if any clip was generated."""
        done = [c for c in job.clips if c.state == "done"]
        failed = [c for c in job.clips if c.state in ("failed", "skipped")]
        if job.clips and not done:
            job.state = FAILED
            job.message = "no clip could be generated: " + "; ".join(
                f"{c.clip_name or c.clip_id}: {c.message}" for c in failed
            )
        else:
            job.state = SUCCEEDED
            job.message = "; ".join(filter(None, (
                stopped,
                f"{len(failed)} of {len(job.clips)} clips could not be generated" if failed else "",
            )))

    def _failed(self, job: JobRecord, message: str, discard_files: bool = True) -> None:
        """The job as a whole failed (a full disk, a folder it cannot write): like a cancel, its
        attempt leaves no takes behind, and every clip it had not finished fails with its reason."""
        if discard_files:
            self._discard_attempt(job)
        job.fail(message)

    def _cancelled(self, job: JobRecord, cancel: threading.Event) -> None:
        requeue = self._cancel_reason_of(job.job_id) == "shutdown"
        self._discard_attempt(job)
        for clip in job.clips:
            if requeue and clip.state in ("running", "done"):
                clip.requeue()
            elif not requeue and clip.state in CANCELLED_CLIP_MESSAGES:
                clip.state, clip.message = "cancelled", CANCELLED_CLIP_MESSAGES[clip.state]
        if requeue:
            job.state, job.message = QUEUED, "requeued: the server was shutting down"
        else:
            job.state, job.message = CANCELLED, "cancelled"

    def _forget_inline_copy(self, job: JobRecord) -> None:
        """An ended job's inline timeline: nothing reads it again (see inline)."""
        if self.inline_dir is not None:
            inline.forget_copy(self.inline_dir, job)

    def _cancel_reason_of(self, job_id: str) -> str:
        """Why a running job was cancelled: "shutdown" or "user"."""
        with self._lock:
            return self._cancel_reason.get(job_id, "user")

    def _discard_attempt(self, job: JobRecord) -> None:
        """discard_attempt_files for a job that ends unfinished."""
        with self._lock:
            shared = any(
                other != job.job_id and self._folder_of(other) == job.output_folder
                for other in self._running
            )
        # Another job's temp file in the same folder may still be being written: leave those.
        discard_attempt_files(job, sweep_temp=not shared)

    def _folder_of(self, job_id: str) -> str:
        job = self.store.get(job_id)
        return job.output_folder if job else ""

    def _accepted_plan(self, job_id: str) -> Plan | None:
        """The plan kept by `submit` for this job, handed over once."""
        with self._lock:
            return self._plans.pop(job_id, None)

    def _wait_for_folder(self, job: JobRecord, message: str) -> None:
        """The job waits for another job's output folder: it plans again once that is done."""
        with self._lock:
            self._plans.pop(job.job_id, None)
        self._set_message(job, message)

    def _set_message(self, job: JobRecord, message: str) -> None:
        """A running job's message, stored (GetJob and a watcher who comes later see it) and sent."""
        job.message = message
        self.store.save(job)
        self._publish(job, message=message)

    def _publish(self, job: JobRecord, clip: ClipRecord | None = None, message: str = "") -> None:
        self.events.publish(JobEvent(job.job_id, job.state, replace(clip) if clip else None,
                                     message))


def _written_at_the_stop(writing: dict | None) -> dict | None:
    """A WRITING record's result with its take number, if its timeline was written after all:
    a file it may write is no longer what it was (each write replaces the file). The written
    path is the output unless only the .otio beside it changed (the format could not carry the
    audio); a changed .otio beside a changed output is its fallback."""
    if not writing:
        return None
    files = tuple(path for path, _ in writing["files"])
    # A file gone is not one written (an .otiod swap stopped half-way leaves none).
    changed = [path for (path, then), now in zip(writing["files"], v2a_pipeline.file_stamps(files),
                                                 strict=True) if now != then and os.path.exists(path)]
    if not changed:
        return None
    output, beside = files[0], files[-1]
    fallback = beside if beside in changed and beside != output else ""
    timeline = output if output in changed else fallback
    # Why a fallback was written is known only once written: what it is for is said instead.
    note = "" if not fallback else (f"the full result is in {fallback}" if timeline == output
                                    else f"wrote {fallback} instead of {output}")
    return {**writing["result"], "timeline_path": timeline, "fallback_otio_path": fallback,
            "format_note": note, "take": writing["take"]}


def _without_take(clip: ClipRecord) -> dict:
    """A clip as CLIPS_AFTER_TAKE stores it: without its take, which is the takes written. An
    older v2a restarting on the store builds its clip records from these, and a field it does
    not know failed its start (TypeError), where the store's layout promises it works."""
    fields = asdict(clip)
    del fields["take"]
    return fields


def discard_attempt_files(job: JobRecord, sweep_temp: bool = True) -> None:
    """Remove what an unfinished attempt wrote: half-written temp files, and the takes of clips
    it finished (no timeline refers to them: the pipeline writes the timeline last)."""
    folder = Path(job.output_folder)
    if sweep_temp:  # the caller holds the folder, or no run does: else that run's files
        remove_leftovers_if_free(folder, f"v2a serve, cleaning up after job {job.job_id}")
    for clip in job.clips:
        if clip.state == "done" and clip.media_path:
            take = Path(clip.media_path)
            if folder in take.parents and take.is_file():
                take.unlink()
            clip.media_path = ""


class _Progress:
    """Turns the pipeline's ClipEvents into the job's clip records, the store and watchers."""

    def __init__(self, runner: JobRunner, job: JobRecord):
        self.runner = runner
        self.job = job
        self.last_persist = 0.0
        # By id, with its place in the job's list (the store's key): a scan of the job's clips
        # for each of its ~20 events per clip was quadratic.
        self.clips = {clip.clip_id: (position, clip) for position, clip in enumerate(job.clips)}
        self.added = False  # clips the store has no row for yet

    def on_event(self, event: ClipEvent, take: int = 1) -> None:
        """`take`: which of the job's takes the pipeline is running (it knows of one only)."""
        position, clip = self.clips.get(event.clip_id, (len(self.job.clips), None))
        if clip is None:  # not in the plan the job was stored with (its timeline changed since)
            clip = ClipRecord(event.clip_id, event.clip_name)
            self.job.clips.append(clip)
            self.clips[clip.clip_id] = (position, clip)
            self.added = True
        state_changed = (clip.state, clip.take) != (event.state, take)
        clip.state, clip.take = event.state, take
        clip.step, clip.total_steps = event.step, event.total_steps
        clip.message = self.job.as_sent(event.message)  # an inline timeline's, not our copy's
        if event.state == "done":  # the take was written just before this event
            clip.media_path = event.output_path
        now = time.monotonic()
        if state_changed or now - self.last_persist >= STEP_PERSIST_SECONDS:
            self.last_persist = now
            if self.added:
                self.runner.store.save(self.job)
                self.added = False
            else:  # the clip's row alone: the whole job's grew with its clips
                self.runner.store.save_clip(self.job.job_id, position, clip)
        self.runner._publish(self.job, clip)
