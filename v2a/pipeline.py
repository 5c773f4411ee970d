"""One generation job: read the timeline, plan, generate each clip's sound, write it all back.

The CLI and the server both run jobs through `run_generation`; they differ only in how they
show `ClipEvent`s. A clip that cannot be generated (media offline, unreadable, out of range) is
reported as an event and the job goes on; the timeline is written once, at the end, atomically,
so a failed or cancelled job never leaves a half-written timeline.
"""

from __future__ import annotations

import datetime
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import opentimelineio as otio

from otio_adapters import timing
from otio_adapters.earlier_result import (
    EarlierSound,
    quoted_names,
    shot_record,
    shot_records,
    take_v2a_tracks,
    v2a_clips,
)
from otio_adapters.media_refs import media_base_dir, otioz_extraction
from otio_adapters.plan import is_enabled, segment_label, timeline_start
from otio_adapters.read import (
    TimelineReadError,
    assumed_rate_note,
    format_for_path,
    read_timeline,
)
from otio_adapters.takes import (
    claim_take_file,
    file_stem,
    find_moved_takes,
    find_v2a_tracks,
    highest_takes,
    holds_only_takes,
    offline_takes,
    reference_takes_in,
    take_origin,
    track_name,
    track_stem,
)
from otio_adapters.write import (
    BUNDLES,
    EXTENSIONS,
    edit_rate,
    join_notes,
    records_file_written,
    write_audio_tracks,
    write_timeline,
)
from v2a.contracts import (
    SAMPLE_RATE,
    ClipEvent,
    GeneratedAudio,
    GenerationCancelled,
    GenerationParams,
    GenerationRequest,
    GenerationResult,
    Generator,
    Segment,
    check_cancel,
)
from v2a.files import missing_folders, remove_if_empty
from v2a.folder_lock import hold_folder, remove_leftovers

if TYPE_CHECKING:
    from otio_adapters.plan import TimelinePlanner
    from v2a.media.loudness import Loudness

log = logging.getLogger(__name__)

AUDIO_FOLDER = "audio"


@dataclass(frozen=True)
class _TimelineFacts:
    """What each take file of a run says of the timeline it belongs to."""

    offset: int  # the timeline's start timecode in samples: where its time references count from
    project: str  # the timeline's name (the take's iXML PROJECT)
    # Where v2a's sound will start and end on the timeline written (samples from the timeline's
    # start; `_sound_edges`): a take edge that meets none of them meets silence, and fades there
    # (`_edge_fades`).
    starts: frozenset[int] = frozenset()
    ends: frozenset[int] = frozenset()


class PipelineError(ValueError):
    """The job cannot run as asked (output folder, nothing to generate); the message says why."""


def plan_request(request: GenerationRequest) -> tuple[otio.schema.Timeline, list[Segment]]:
    """Read the request's timeline and plan its segments (one per visible, selected video clip).

    With an output folder, a request whose write would replace the editor's own timeline is
    refused here (PipelineError), so the server refuses such a job before it is queued.
    """
    plan = plan_job(request)
    return plan.timeline, plan.segments


def _read(request: GenerationRequest) -> otio.schema.Timeline:
    timeline = read_timeline(
        request.timeline_path, request.input_format, dict(request.adapter_options)
    )
    if request.out_dir:
        _check_source_kept(request, timeline)
    return timeline


def output_paths(request: GenerationRequest) -> tuple[str, str]:
    """(output format, output timeline path): same file name in the output folder."""
    input_format = request.input_format or format_for_path(request.timeline_path)
    output_format = request.output_format or input_format
    name = os.path.basename(os.path.normpath(request.timeline_path))
    if output_format != input_format:
        name = os.path.splitext(name)[0] + EXTENSIONS.get(output_format, ".otio")
    return output_format, os.path.join(request.out_dir, name)


def _check_source_kept(request: GenerationRequest, timeline: otio.schema.Timeline) -> None:
    """Refuse to write over the timeline being read, unless v2a wrote it.

    Re-running on v2a's own output in its folder is how takes are added (the editor's tracks
    come back as they were read); an editor's timeline without a v2a track is their source, and
    an adapter's round trip is not lossless, so it must never be replaced.
    """
    _, output_path = output_paths(request)
    source = request.timeline_path
    clash = next((path for path in timeline_files(output_path) if _same_file(source, path)), None)
    if clash is None or find_v2a_tracks(timeline, "SFX"):
        return
    what = "the output"
    if clash != output_path:
        what = (
            f"the .otio written beside {os.path.basename(output_path)} when that format cannot "
            "carry the result,"
        )
    raise PipelineError(
        f"will not overwrite the source timeline {source}: {what} {clash} is the same file; "
        f"choose another output folder than {request.out_dir}{_unmarked_takes(timeline)}"
    )


def _unmarked_takes(timeline: otio.schema.Timeline) -> str:
    """Why a timeline that holds v2a's takes may still not be v2a's output: its tracks of takes
    are not marked as v2a's (`takes.track_stem`), and so are the editor's."""
    names = [
        repr(track.name or f"audio {index + 1}")
        for index, track in enumerate(timeline.audio_tracks())
        if track_stem(track) is None and holds_only_takes(track)
    ]
    if not names:
        return ""
    return (f" (its audio track {', '.join(names)} holds v2a's takes but is not named as v2a "
            "names its tracks: renamed, or the editor's own copies of takes beside v2a's track; "
            "v2a keeps it as the editor's)")


def _earlier_sound(request: GenerationRequest, timeline: otio.schema.Timeline) -> EarlierSound:
    """Where `timeline` is the editor's (no v2a track in it) and the output folder holds v2a's
    result for it, that result's v2a tracks put on it (`earlier_result`): the clips not selected
    keep the sound the result gives them, as in a run on the result itself. Its result for this
    timeline: written under the same file name (`output_paths`), v2a's track in it, for a
    timeline of the same name, or of another name where its clips were made for this
    timeline's shots (`_result_of_another_name`). A file there with no v2a track is not v2a's
    result: the run is refused rather than replace it."""
    if not request.out_dir or any(track_stem(track) for track in timeline.tracks):
        return EarlierSound()
    try:
        path, result = _earlier_result(request)
    except TimelineReadError as error:
        return EarlierSound(note=f"v2a's earlier result in the output folder could not be read "
                                 f"({error}): its sound is not on the timeline written")
    if result is None:
        return EarlierSound()
    if not (any(track_stem(track) for track in result.tracks)
            or find_v2a_tracks(result, "SFX")):  # an FCP7 XML or EDL v2a wrote before its marks
        # Not v2a's output: an editor's file of that name (exported into the folder, or
        # another project's), which the write would replace, and nothing gives it back.
        raise PipelineError(
            f"will not overwrite {path}: it holds no track of v2a's, so it is not a result v2a "
            f"wrote but a timeline of the same name; move it, or choose another output folder "
            f"than {request.out_dir}{_unmarked_takes(result)}"
        )
    if result.name != timeline.name:
        return _result_of_another_name(request, timeline, result, path)
    return take_v2a_tracks(timeline, result, path)


def _result_of_another_name(request: GenerationRequest, timeline: otio.schema.Timeline,
                            result: otio.schema.Timeline, path: str) -> EarlierSound:
    """v2a's result in the output folder for a timeline of another name: the editor renamed the
    sequence and kept its file name, or another timeline was saved under it. Each of its clips
    records the shot it was made for (its name and media file, `earlier_result.shot_record`):
    those made for a shot this timeline shows (or disables) are taken, the others not, so a
    renamed sequence keeps its sound and another cut gets none of another's; each clip taken
    then stays only under the frames it was made for (`follow_edit`), as on a result of the same
    name. A result recording no shot (FCP7 XML, FCPXML, AAF, EDL without the .otio beside them:
    names and places alone, which another cut of the same shots shares with other frames)
    cannot be told from another timeline's: not taken. Either way the note says what happened."""
    from otio_adapters.plan import TimelinePlanner

    names = f"the timeline {result.name!r}, not {timeline.name!r}"
    clips = v2a_clips(result)
    if not clips:
        return take_v2a_tracks(timeline, result, path)  # no sound to take: its tracks alone
    recorded = [clip for clip in clips if shot_record(clip) is not None]
    shots: set[tuple[str, str]] = set()
    if recorded:  # planned here for its shots alone, before its ids are inherited from the result
        planner = TimelinePlanner(timeline, timeline_path=request.timeline_path,
                                  relink_roots=request.relink_roots,
                                  cut_handle_seconds=request.cut_handle_seconds)
        shots = shot_records(planner.segments() + planner.disabled())
    kept = [clip for clip in recorded if shot_record(clip) in shots]
    audio_dir = os.path.join(request.out_dir, AUDIO_FOLDER)
    if not kept:
        why = (f"none of its {len(clips)} clips was made for a shot this timeline shows" if recorded
               else "records no shot its clips were made for (FCP7 XML, FCPXML, AAF and EDL "
                    "keep none), so it cannot be told from another timeline of that file name")
        return EarlierSound(note=(
            f"{path} in the output folder held v2a's sound for {names}, and {why}: it was written "
            f"over without that sound (its takes stay in {audio_dir}); a run of every clip gives "
            f"this timeline's shots sound, and to keep each one's result, write each timeline to "
            f"an output folder of its own"))
    earlier = take_v2a_tracks(timeline, result, path, shots)
    left = [clip.name for clip in clips if shot_record(clip) not in shots]
    taken_from = (f"v2a's earlier result {path} in the output folder is for {names} (renamed, or "
                  f"another timeline of that file name): the sound of the {len(kept)} clips in it "
                  f"made for shots this timeline shows is kept")
    if left:
        taken_from += (f", not that of the other {len(left)} ({quoted_names(left)}), made for shots "
                       f"it does not show (their takes stay in {audio_dir})")
    log.info("%s", taken_from)
    return replace(earlier, taken_from=taken_from)


def _earlier_result(request: GenerationRequest) -> tuple[str, otio.schema.Timeline | None]:
    """(path, timeline) of v2a's result for `request`'s timeline in its output folder, or ("",
    None): the output file, or the .otio beside it where that is the whole of the same result
    (its record names the file as v2a wrote it) or the file is not there (its format could not
    carry the sound)."""
    output_format, output_path = output_paths(request)
    files = timeline_files(output_path)
    if len(files) > 1 and os.path.isfile(files[-1]):
        full = read_timeline(files[-1], "otio_json")
        if not os.path.exists(output_path) or records_file_written(full, output_format, output_path):
            return files[-1], full
    if not os.path.exists(output_path):
        return "", None
    options = adapter_options_reading(request, output_path, output_format)
    return output_path, read_timeline(output_path, output_format, options)


#: Formats v2a writes into the editor's own file, which keeps the file's other timelines: there
#: the option `timeline` still picks the one v2a wrote.
_WRITTEN_WITH_EVERY_TIMELINE = ("fcp_xml", "fcpx_xml", "AAF")


def adapter_options_reading(request: GenerationRequest, path: str, fmt: str) -> dict:
    """`request`'s adapter options for reading v2a's written `path` (in `fmt`) in place of its
    timeline: they are for the reader of its timeline, so none where another reader reads `path`
    (the OTIO JSON reader refused an EDL's `rate`: such a job failed its second take, and
    regenerating a clip of it was refused). Nor `timeline` where `path` holds the one picked
    alone (`timeline: 1` found no second timeline in it, with the same failures)."""
    reader = _reader_of(path, fmt)
    if reader != _reader_of(request.timeline_path, request.input_format):
        return {}
    options = dict(request.adapter_options)
    if reader not in _WRITTEN_WITH_EVERY_TIMELINE:
        options.pop("timeline", None)
    return options


def _reader_of(path: str, fmt: str) -> str:
    try:
        return fmt or format_for_path(path)
    except TimelineReadError:
        return ""  # an extension no adapter reads: no reader to share options with


def timeline_files(output_path: str) -> tuple[str, ...]:
    """The files writing a timeline to `output_path` may replace: that file, and the .otio
    written beside it when its format cannot carry the audio (otio_adapters.write)."""
    beside = os.path.splitext(output_path)[0] + ".otio"
    return (output_path,) if beside == output_path else (output_path, beside)


def file_stamps(paths: tuple[str, ...]) -> list[str]:
    """What each file is now (`_file_stamp`, as text a job store can keep): a stamp that differs
    later says the file was replaced meanwhile."""
    return [repr(_file_stamp(path)) for path in paths]


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)  # links, case-insensitive disks: the same file either way
    except OSError:
        return False  # one of them does not exist: the output is not written yet


def run_generation(
    request: GenerationRequest,
    generator: Generator,
    on_event: Callable[[ClipEvent], None] | None = None,
    cancel: threading.Event | None = None,
    plan: Plan | None = None,
    before_write: Callable[[GenerationResult], None] | None = None,
) -> GenerationResult:
    """Generate sound for every runnable segment and write the timeline into `request.out_dir`.

    `plan`: a `plan_job` of this same request made just before (the server's, from accepting
    the job), used only if its timeline file has not changed since; otherwise, and without one,
    the timeline is read and planned here. A plan is used once: the write-back changes its
    timeline.

    Holds the output folder's lock throughout (`v2a.folder_lock`): another run writing into
    that folder, in this process or another, is waited for (a cancel ends the wait), and what
    a killed run left there is removed before the takes are numbered.

    `before_write`: called with the result just before the timeline is written over (its
    `timeline_path` the output path, no fallback known yet). A caller that must survive a kill -9
    stores it then: once the file is renamed into place it names the new takes, and a restart
    tells from `file_stamps` of `timeline_files` whether the kill came before or after that.

    Raises TimelineReadError / PlanError / PipelineError / TimelineWriteError (all with a message
    naming what and where) for a job that cannot run,
    GenerationCancelled when `cancel` is set (no timeline written, and no take of this run left:
    the folder is as it was found). Stopped (Ctrl-C) in the write after one of the timeline's
    files was put in place, the exception says which (`files_kept`); those and the takes they
    name stay. Per-clip problems are events, never exceptions; when every clip fails, no timeline is
    written (timeline_path is empty and format_note says so).
    """
    emit = on_event or (lambda event: None)
    _check_output(request.out_dir)  # said before the lock makes the folder
    what = f"v2a generating {os.path.basename(os.path.normpath(request.timeline_path))}"
    with hold_folder(request.out_dir, what, cancel=cancel):
        remove_leftovers(request.out_dir)  # a killed run's: its claimed takes skewed the numbers
        return _run_holding_the_folder(request, generator, emit, cancel, plan, before_write)


def _run_holding_the_folder(request: GenerationRequest, generator: Generator,
                            emit: Callable[[ClipEvent], None], cancel: threading.Event | None,
                            plan: Plan | None,
                            before_write: Callable[[GenerationResult], None] | None,
                            ) -> GenerationResult:
    plan = prepare_generation(request, plan)
    output_format, output_path = output_paths(request)
    # The cache copy of the .otioz read, when this run made it and writes that .otioz again (a
    # further take, a regeneration): the new bundle holds its media itself and is unpacked
    # under a key of its own, so once it is written nothing needs the copy. Each take left one
    # more copy of the whole media in the cache before. A copy this run found is not its own:
    # a timeline written from the bundle in another format may name the media there.
    rewrites_input = os.path.realpath(request.timeline_path) == os.path.realpath(output_path)
    unpacked = plan.unpacked_media if output_format == "otioz" and rewrites_input else ""
    audio_dir, created = _make_output(request.out_dir)
    try:
        result = _generate_all(request, generator, plan, audio_dir, output_format, output_path,
                               emit, cancel, before_write)
    finally:
        remove_if_empty(created)  # a run that wrote nothing leaves no empty folders behind
    if unpacked and result.timeline_path == output_path and not result.fallback_otio_path:
        shutil.rmtree(unpacked, ignore_errors=True)
    return result


def prepare_generation(request: GenerationRequest, plan: Plan | None = None) -> Plan:
    """Every check `run_generation` makes before its first clip, and the plan it generates
    (`plan`, a `plan_job` of this request, is used if its timeline is unchanged); raises as
    `run_generation` does. `v2a generate` calls it before loading the model, which takes
    seconds: a misspelt path waited for the load before it was said."""
    _check_output(request.out_dir)
    _check_output_format(request.output_format)
    if plan is None or not plan.is_current(request):
        # Read first: reading says a folder or a missing file as what it is, where naming the
        # output file from the input's extension said "unknown timeline format".
        plan = plan_job(request)
    output_paths(request)  # an output format it cannot name a file for
    if not plan.segments:
        raise PipelineError(_nothing_to_do(request, plan.timeline))
    return plan


def _generate_all(request: GenerationRequest, generator: Generator, plan: Plan, audio_dir: str,
                  output_format: str, output_path: str, emit: Callable[[ClipEvent], None],
                  cancel: threading.Event | None,
                  before_write: Callable[[GenerationResult], None] | None) -> GenerationResult:
    timeline, segments, earlier = plan.timeline, plan.segments, plan.earlier
    visible, disabled = plan.visible, plan.planner.disabled()
    for segment in segments:
        emit(ClipEvent(segment.clip_id, segment.clip_name, "queued", media_path=_media(segment)))

    starts, ends = _sound_edges(timeline, segments, visible)
    facts = _TimelineFacts(_timeline_offset_samples(timeline), timeline.name, starts, ends)
    takes = highest_takes(timeline, audio_dir)
    finals: dict[str, ClipEvent] = {}
    generated: list[GeneratedAudio] = []
    try:
        for segment in segments:
            check_cancel(cancel)
            first_free = takes.get(file_stem(segment.clip_id), 0) + 1
            event, audio, take = _run_clip(segment, generator, request, first_free, audio_dir,
                                           facts, emit, cancel)
            finals[segment.clip_id] = event
            if audio is not None:  # before the event: a listener that raises leaves it behind
                takes[file_stem(segment.clip_id)] = take
                generated.append(audio)
            emit(event)
        check_cancel(cancel)
    except BaseException:
        # A cancel, Ctrl-C or a failing disk: no timeline will name the takes finished so far
        # (it is written last). Kept, they were files nothing refers to, and the next run
        # numbered its takes past them, so it drew other seeds than an uninterrupted run.
        _remove_takes(generated)
        raise

    if not generated:
        # Nothing new to put on the timeline: leave whatever the folder holds (an earlier run's
        # output with its sound) as it is, rather than overwrite it with the bare input.
        return GenerationResult(
            timeline_path="",
            format_note=join_notes(f"no clip could be generated: {output_path} was not written",
                               plan.rate_note),
            clips=tuple(finals[s.clip_id] for s in segments),
        )
    if (request.input_format or format_for_path(request.timeline_path)) in BUNDLES:
        reference_takes_in(timeline, audio_dir)  # not the copies in a bundle this write replaces
    else:
        # A result whose folder the editor moved names its takes where they were: they are in
        # the output's audio folder (run into its own folder), or in the one beside it.
        beside = os.path.join(media_base_dir(request.timeline_path), AUDIO_FOLDER)
        find_moved_takes(timeline, (audio_dir, beside))
    write_audio_tracks(timeline, segments, generated, visible=visible, disabled=disabled)
    earlier_note = earlier.result_note(timeline, audio_dir)
    offline_note = _offline_takes_note(timeline)
    # Relative media paths were relative to the input's folder; the output is elsewhere.
    media_dir = media_base_dir(request.timeline_path)
    steps_note = _steps_note(timeline, media_dir)
    result = GenerationResult(timeline_path=output_path,
                              clips=tuple(finals[s.clip_id] for s in segments),
                              generated=tuple(generated))
    if before_write:
        before_write(result)
    files = timeline_files(output_path)
    stamps = file_stamps(files)
    try:
        written, fallback, note = write_timeline(timeline, output_path, output_format, media_dir,
                                                 tuple(request.relink_roots))
    except BaseException as error:
        # A write that failed (a full disk, a folder where the file goes) or was stopped before
        # it put a file in place: as for a cancel, no timeline names this run's takes. One that
        # did (the .otio beside an EDL, then Ctrl-C) names them: they stay, and the caller is
        # told which files are in place (`files_kept`), not that the folder is as it was.
        put = [path for path, stamp in zip(files, stamps, strict=True)
               if file_stamps((path,)) != [stamp]]
        if put:
            setattr(error, _FILES_KEPT, tuple(put))
        else:
            _remove_takes(generated)
        raise
    note = join_notes(plan.rate_note, note, earlier_note, offline_note, steps_note)
    if note:
        # The result carries it (`v2a generate`'s summary, the job's result): as a warning too,
        # the CLI printed the same long note twice.
        log.debug("%s", note)
    return replace(result, timeline_path=written, fallback_otio_path=fallback, format_note=note)


def _offline_takes_note(timeline: otio.schema.Timeline) -> str:
    """What the note says of v2a's clips whose take file is gone (the editor deleted or renamed
    it): their sound is offline on the timeline written, which named them without a word."""
    offline = offline_takes(timeline)
    if not offline:
        return ""
    shown = ", ".join(f"{name!r} ({path})" for name, path, _ in offline[:5])
    more = f" and {len(offline) - 5} more" if len(offline) > 5 else ""
    again = " ".join(f"--clips {clip_id}" for _, _, clip_id in offline)
    return (f"the take file of {len(offline)} clip(s) on v2a's track is missing, deleted or "
            f"renamed since it was made: {shown}{more}; their sound is offline on the timeline "
            f"written (make it anew: v2a generate {again}, or RegenerateClip with those ids)")


def _steps_note(timeline: otio.schema.Timeline, base_dir: str) -> str:
    """What the note says of v2a's clips that start or stop at full level where they meet
    silence (`stem.steps_at_silence`): their takes were made to meet sound there, and only a
    new take, made to meet silence, fades there. Before the sound-edges session they clicked
    without a word."""
    from otio_adapters.stem import steps_at_silence
    from otio_adapters.timing import exact_rate, format_timecode

    steps = steps_at_silence(timeline, base_dir)
    if not steps:
        return ""
    start, rate = timeline_start(timeline), exact_rate(edit_rate(timeline))
    shown = ", ".join(
        f"{step.clip_name!r} at {format_timecode(start + Fraction(step.at, SAMPLE_RATE), rate)} "
        f"({step.level_db:.1f} dBFS)" for step in steps[:5])
    more = f" and {len(steps) - 5} more" if len(steps) > 5 else ""
    again = " ".join(f"--clips {clip_id}" for clip_id in dict.fromkeys(s.clip_id for s in steps))
    return (f"{len(steps)} edge(s) of v2a's clips meet silence where their takes play at full "
            f"level, a click: {shown}{more}; those takes were made to meet sound there (a shot "
            f"beside since lifted, the clip trimmed, or a clip beside that failed): make them "
            f"again to fade there (v2a generate {again}, or RegenerateClip with those ids)")


#: The attribute `_generate_all` sets on an exception that stopped it after it had put files in
#: place: an exception passes through callers that know nothing of it (Ctrl-C's, a signal's).
_FILES_KEPT = "v2a_files_kept"


def files_kept(error: BaseException) -> tuple[str, ...]:
    """The timeline files a run stopped by `error` had put in place (the .otio beside an EDL,
    written first, then Ctrl-C), kept with the takes they name; () for a run that left its
    output folder as it found it."""
    return getattr(error, _FILES_KEPT, ())


@dataclass(frozen=True)
class Plan:
    """A request's timeline as read and planned: what `run_generation` generates and writes."""

    request: GenerationRequest  # what was planned
    timeline_stamp: tuple | None  # the timeline file when it was read (`_file_stamp`)
    timeline: otio.schema.Timeline
    segments: list[Segment]  # the selection's: to generate
    planner: TimelinePlanner  # of `timeline`, for `visible`
    unpacked_media: str = ""  # the cache copy of an .otioz's media that this planning unpacked
    earlier: EarlierSound = EarlierSound()  # v2a's sound taken from its result in the folder
    output_stamps: tuple[str, ...] = ()  # the output folder's timeline files when it was read
    rate_note: str = ""  # an EDL read at a rate its media do not run at (`assumed_rate_note`)

    @property
    def visible(self) -> list[Segment]:
        """Every segment of the edit as it is now, whatever the selection: the v2a clips not
        regenerated follow it (cut to their picture, or off the track where it is gone).
        Planned when first asked for (by the run, not the server's accepting of the job), from
        the walk that planned the selection."""
        return self.planner.segments()

    def is_current(self, request: GenerationRequest) -> bool:
        """Whether this is a plan of `request` whose timeline file, and the timeline files in
        its output folder (`_output_stamps`), are still as they were when it was read."""
        stamp = _file_stamp(request.timeline_path)
        return (request == self.request and stamp is not None and stamp == self.timeline_stamp
                and _output_stamps(request) == self.output_stamps)


def _output_stamps(request: GenerationRequest) -> tuple[str, ...]:
    """`file_stamps` of the timeline files in the output folder: a plan of the editor's timeline
    holds the sound of v2a's result there (`_earlier_sound`), which a run writing there since
    has replaced."""
    if not request.out_dir:
        return ()
    return tuple(file_stamps(timeline_files(output_paths(request)[1])))


def plan_job(request: GenerationRequest) -> Plan:
    """Read a request's timeline and plan its selection for `run_generation`; errors as
    `plan_request`. The whole edit's segments (`Plan.visible`) come from the same walk of the
    timeline, each clip's media probed once: planned apart, a clip regenerated on a 2,000-clip
    edit planned (and probed) it twice."""
    from otio_adapters.plan import TimelinePlanner

    stamp = _file_stamp(request.timeline_path)  # before reading: a write meanwhile changes it
    copy = _bundle_media_copy(request.timeline_path)
    found = bool(copy) and os.path.isdir(copy)
    timeline = _read(request)
    output_stamps = _output_stamps(request)  # before reading v2a's result there
    earlier = _earlier_sound(request, timeline)  # before planning: ids inherited from its clips
    planner = TimelinePlanner(timeline, timeline_path=request.timeline_path,
                              relink_roots=request.relink_roots,
                              cut_handle_seconds=request.cut_handle_seconds)
    segments = planner.segments(request.selection)  # resolving the media unpacks a bundle's
    unpacked = copy if copy and not found and os.path.isdir(copy) else ""
    rate_note = assumed_rate_note(timeline, segments)
    if rate_note:  # said before the clips are made, and again in the result's note
        log.warning("%s: %s", request.timeline_path, rate_note)
    return Plan(request, stamp, timeline, segments, planner, unpacked, earlier, output_stamps,
                rate_note)


def _bundle_media_copy(path: str) -> str:
    """Where reading the .otioz at `path`, as it is now, unpacks its media; "" for another file."""
    if not path.lower().endswith(".otioz"):
        return ""
    try:
        return otioz_extraction(path)
    except OSError:
        return ""


def _file_stamp(path: str) -> tuple | None:
    """What changes when a timeline file is written: its identity, size and time, and those of
    the files directly inside a bundle folder (.fcpxmld, .otiod) as well. v2a and most editors
    write by replacing the file, which gives it a new identity even within one clock tick."""
    try:
        stamps = [_stat_key(os.stat(path))]
        if os.path.isdir(path):
            with os.scandir(path) as entries:
                stamps += sorted((entry.name, _stat_key(entry.stat())) for entry in entries)
    except OSError:
        return None  # unreadable: no plan is reused, and planning again says why
    return tuple(stamps)


def _stat_key(stat: os.stat_result) -> tuple:
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def _check_output(out_dir: str) -> None:
    """Say clearly why the output folder cannot be used, before any work and without creating it."""
    _, folder = missing_folders(out_dir)  # it will be created under its nearest existing parent
    if not os.path.isdir(folder):
        raise PipelineError(f"cannot use output folder {out_dir}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PipelineError(f"cannot use output folder {out_dir}: {folder} is not writable")
    # An audio folder already there is where the takes are written: found only at the first
    # take before, after the model had loaded, and said as the OS's bare "File exists".
    audio = os.path.join(out_dir, AUDIO_FOLDER)
    if os.path.lexists(audio) and not os.path.isdir(audio):
        raise PipelineError(
            f"cannot use output folder {out_dir}: {audio}, where the takes go, is not a folder")
    if os.path.isdir(audio) and not os.access(audio, os.W_OK | os.X_OK):
        raise PipelineError(
            f"cannot use output folder {out_dir}: {audio}, where the takes go, is not writable")


def _check_output_format(name: str) -> None:
    """A misspelt adapter would only fail after every clip was generated, at the write."""
    if not name:
        return
    writers = sorted(a.name for a in otio.plugins.ActiveManifest().adapters if a.has_feature("write"))
    if name not in writers:
        raise PipelineError(f"unknown output format {name!r}; one of: {', '.join(writers)}")


def _make_output(out_dir: str) -> tuple[str, list[str]]:
    """The audio folder, made if needed, and the folders this made (deepest first)."""
    audio_dir = os.path.join(out_dir, AUDIO_FOLDER)
    created, _ = missing_folders(audio_dir)
    try:
        os.makedirs(audio_dir, exist_ok=True)
    except OSError as error:
        raise PipelineError(
            f"cannot use output folder {out_dir}: {error.strerror or error}"
        ) from None
    return audio_dir, created


def _remove_takes(generated: list[GeneratedAudio]) -> None:
    _remove_files(audio.path for audio in generated)


def _remove_files(paths: Iterable[str]) -> None:
    for path in paths:
        try:
            os.remove(path)
        except OSError:
            pass  # already gone: nothing left to tidy


def _nothing_to_do(request: GenerationRequest, timeline: otio.schema.Timeline) -> str:
    if not any(track.find_clips() for track in timeline.video_tracks()):
        return f"{request.timeline_path}: the timeline has no video clips to generate sound for"
    if request.selection.tracks or request.selection.clips or request.selection.time_range:
        return f"{request.timeline_path}: no visible video clip matches the selection"
    shown = [
        (number, clip)
        for number, track in enumerate(timeline.video_tracks(), start=1)
        if is_enabled(track)
        for clip in track.find_clips()
        if is_enabled(clip)
    ]
    if shown and all(isinstance(clip.media_reference, otio.schema.GeneratorReference)
                     for _, clip in shown):
        # The editor sees these on screen, enabled: "no visible, enabled video clip" (all this
        # said before) left them wondering what v2a read (generator_reference_test.otio's bars).
        names = ", ".join(f"{clip.name!r} (V{number})" for number, clip in shown)
        return (f"{request.timeline_path}: no video clip to generate sound for: the enabled ones "
                "are generators (titles, bars), which have no media to make sound for: "
                f"{names}")
    return f"{request.timeline_path}: no visible, enabled video clip to generate sound for"


def _timeline_offset_samples(timeline: otio.schema.Timeline) -> int:
    """The timeline's start timecode in samples: bext time references count from 00:00:00:00."""
    from otio_adapters.timing import to_samples

    return to_samples(timeline_start(timeline))


def _media(segment: Segment) -> str:
    media = segment.media
    if media.image_sequence is not None:
        return media.image_sequence.directory
    return media.path or media.referenced




def _run_clip(
    segment: Segment,
    generator: Generator,
    request: GenerationRequest,
    take: int,
    audio_dir: str,
    facts: _TimelineFacts,
    emit: Callable[[ClipEvent], None],
    cancel: threading.Event | None,
) -> tuple[ClipEvent, GeneratedAudio | None, int]:
    """Generate one clip as take `take`, or the next one free where another run writing this
    folder has claimed it (`claim_take_file`); the final event for it, its audio (None when it
    could not be generated) and its take number."""
    if segment.status != "ok":
        state = "skipped" if segment.status == "offline" else "failed"
        event = ClipEvent(segment.clip_id, segment.clip_name, state, media_path=_media(segment),
                          message=segment.problem or segment.status)
        return event, None, take
    take, path = claim_take_file(audio_dir, segment.clip_id, take)
    audio = None
    try:
        event, audio = _generate_take(segment, generator, request, take, path, facts, emit,
                                      cancel)
    finally:
        if audio is None:  # failed, cancelled or stopped: the claimed file holds no take
            _remove_files([path])
    return event, audio, take


def _generate_take(
    segment: Segment,
    generator: Generator,
    request: GenerationRequest,
    take: int,
    path: str,
    facts: _TimelineFacts,
    emit: Callable[[ClipEvent], None],
    cancel: threading.Event | None,
) -> tuple[ClipEvent, GeneratedAudio | None]:
    """Generate take `take` of one clip into `path`; the final event for it and its audio, or
    None when it could not be."""
    from v2a.media.errors import MediaError

    def event(state: str, message: str = "", step: int = 0, total: int = 0, output: str = "") -> ClipEvent:
        return ClipEvent(
            segment.clip_id, segment.clip_name, state, step, total, _media(segment), message, output
        )

    emit(event("running"))
    started = time.monotonic()

    # A generator may sample a clip more than once (the model draws a near-silent draw again; a
    # clip whose context cannot be decoded is generated without it), each pass counting from
    # step 1: only steps that take the clip further are passed on, so a progress bar never runs
    # back. The clip stays at its furthest step until it ends.
    furthest, steps = Fraction(0), 0

    def progress(done: int, total: int) -> None:
        nonlocal furthest, steps
        if total <= 0 or Fraction(done, total) <= furthest:
            return
        furthest, steps = Fraction(done, total), total
        emit(event("running", step=done, total=total))

    seen = segment.seen()  # with the context beyond the handles, trimmed off below
    longest = getattr(generator, "max_samples", None)
    if longest and seen.generated_samples > longest:
        if segment.generated_samples > longest:
            return event("failed", _too_long(segment, generator.name, longest)), None
        seen = segment  # the context is a nicety; the clip itself fits
    params = _take_params(request, segment, take)
    try:
        try:
            samples = _generate_seen(seen, segment, generator, params, progress, cancel)
        except MediaError:
            if seen == segment:
                raise
            # Context is a nicety: a frame missing there (a gap in an image sequence) must not
            # fail a clip whose own frames are all there.
            seen = segment
            samples = _generate_seen(seen, segment, generator, params, progress, cancel)
    except MediaError as error:
        return event("failed", f"{segment_label(segment)}: {error}"), None
    except _ClipFailed as failure:
        return event("failed", str(failure)), None
    context_samples = seen.handle_before_samples - segment.handle_before_samples  # trimmed below
    check_cancel(cancel)  # a clip cancelled mid-way writes no file
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if samples.shape[0] != seen.generated_samples:
        message = (
            f"generator {generator.name!r} returned {samples.shape[0]} samples, "
            f"asked for {seen.generated_samples}"
        )
        return event("failed", message), None
    samples = samples[context_samples : context_samples + segment.generated_samples]
    if not np.all(np.isfinite(samples)):  # a numerical blow-up: this clip's, not the run's
        return event("failed", f"generator {generator.name!r} returned NaN or infinite samples"), None
    samples = _edge_fades(samples, segment, facts)

    provenance = _provenance(segment, generator, params, take, time.monotonic() - started)
    samples, loudness, level_note = _leveled(samples, request.loudness_target_lufs, provenance)
    _write_take(path, samples, segment, provenance, facts, loudness)
    audio = GeneratedAudio(
        clip_id=segment.clip_id,
        path=os.path.abspath(path),
        start_sample=segment.start_sample,
        num_samples=segment.num_samples,
        handle_before_samples=segment.handle_before_samples,
        handle_after_samples=segment.handle_after_samples,
        provenance=provenance,
    )
    # All its steps done: a bar drawn from step / total_steps ends full, not back at 0/0.
    message = f"take {take}: {path} ({loudness.text()}{level_note})"
    return event("done", message, steps, steps, audio.path), audio


def _sound_edges(timeline: otio.schema.Timeline, segments: list[Segment],
                 visible: list[Segment]) -> tuple[frozenset[int], frozenset[int]]:
    """(starts, ends) of the sound the written timeline will hold beside each take: the clips
    this run generates, and those of v2a's enabled clips already laid (an earlier run's) that
    still sit on a visible shot's edge. No sound meets a take at a clip this run does not
    generate that has no sound yet (`--clips`), a clip whose media is offline, a shot lifted
    out since (its sound leaves the track), a gap, the timeline's start or end. Before the
    sound-edges session every clip that could have sound counted, so a take generated alone
    beside a clip without sound started at full level inside its file (its handle unplayed)."""
    generated = [s for s in segments if s.status == "ok"]  # offline media makes no sound
    laid_starts, laid_ends = set(), set()
    for track in timeline.tracks:
        if not (track_stem(track) and track.enabled):
            continue
        position = Fraction(0)  # exact seconds, as the track counts them; one pass
        for item in track:
            if isinstance(item, otio.schema.Transition):
                continue
            start, position = position, position + timing.seconds(item.duration())
            if isinstance(item, otio.schema.Clip) and item.enabled:
                laid_starts.add(timing.to_samples(start))
                laid_ends.add(timing.to_samples(position))
    shown = [s for s in visible if s.status == "ok"]
    starts = {s.start_sample for s in generated}
    starts |= {s.start_sample for s in shown} & laid_starts
    ends = {s.start_sample + s.num_samples for s in generated}
    ends |= {s.start_sample + s.num_samples for s in shown} & laid_ends
    return frozenset(starts), frozenset(ends)


def _edge_fades(samples: np.ndarray, segment: Segment, facts: _TimelineFacts) -> np.ndarray:
    """The take faded in (out) over the first (last) 5 ms the timeline plays of it where no
    other sound meets it there (`_sound_edges`). The model's sound runs on past the picture's
    edges, so a take cut there started or stopped mid-sound, a click on a monitor (up to -26
    dBFS in one sample on the bundled sample's takes). The timeline plays a take from its
    record start, inside its file where it has a handle before (and to its record end), so the
    fade is there; the unplayed handle fades out towards it (`fade_edges`). Where another
    clip's sound meets it (a crossfade, or a hard cut asked for with --cut-handle 0) it is left
    as made: a fade there would dip the sound at the cut. docs/media.md, "Edges"."""
    from v2a.media.audio import fade_edges

    end = segment.start_sample + segment.num_samples
    return fade_edges(samples, segment.start_sample not in facts.ends, end not in facts.starts,
                      start=segment.handle_before_samples,
                      end=segment.handle_before_samples + segment.num_samples)


def _leveled(
    samples: np.ndarray, target: float | None, provenance: dict
) -> tuple[np.ndarray, Loudness, str]:
    """The take brought to `target` LUFS where one is asked for (GenerationRequest.
    loudness_target_lufs), its loudness (of the whole file, handles included) and what the
    "done" message adds; `provenance` gets the levels and the gain."""
    from v2a.media.loudness import measure_loudness, normalize_loudness

    loudness = measure_loudness(samples)
    note = ""
    if target is not None:
        samples, normalization = normalize_loudness(samples, target, loudness)
        if normalization.gain_db:
            loudness = measure_loudness(samples)  # the gate may keep other windows after a gain
        provenance.update(loudness_target_lufs=target, gain_db=round(normalization.gain_db, 2))
        if missed_by := normalization.missed_by():
            provenance["loudness_target_missed_by"] = missed_by
        note = f"; {normalization.text()}"
    provenance.update(
        loudness_lufs=_rounded(loudness.integrated), true_peak_dbtp=_rounded(loudness.true_peak)
    )
    return samples, loudness, note


def _rounded(level: float | None) -> float | None:
    return None if level is None else round(level, 1)


def _too_long(segment: Segment, generator: str, longest: int) -> str:
    """What an editor reads when a clip is longer than the generator makes in one piece."""
    def duration(samples: int) -> str:
        seconds = samples / SAMPLE_RATE
        return f"{seconds:.1f} s" if seconds < 90 else f"{seconds / 60:.1f} min"

    return (f"{segment_label(segment)} is {duration(segment.generated_samples)} long with its "
            f"handles; {generator} makes at most {duration(longest)} a clip: cut it into shorter "
            "clips on the timeline")


class _ClipFailed(Exception):
    """One clip could not be generated; the message says why (the job goes on)."""


def _generate_seen(seen: Segment, segment: Segment, generator: Generator, params: GenerationParams,
                   progress: Callable[[int, int], None], cancel: threading.Event | None) -> np.ndarray:
    """The generator's samples for the picture under `seen`; MediaError when that picture cannot
    be read. A generator that reads frames on demand (`frames_on_demand`) is handed them undecoded
    and decodes a span at a time, so a long take is never in memory whole."""
    from v2a.media.errors import MediaError
    from v2a.media.frames import SegmentFrames, read_segment_frames

    fps, size = generator.frame_rate, generator.frame_size
    on_demand = getattr(generator, "frames_on_demand", False)
    try:
        if on_demand:
            frames = SegmentFrames.at_frame_rate(seen, fps, size)
        else:
            frames = read_segment_frames(seen, fps, size)
    except MediaError:
        raise
    except Exception as error:  # noqa: BLE001 - a decoder surprise fails this clip, not the job
        log.exception("decoding failed on clip %s", segment.clip_id)
        raise _ClipFailed(
            f"{segment_label(segment)}: cannot decode {_media(segment)}: {error}"
        ) from error
    # Frames decoded on demand fail inside the generator; they are the picture's failures.
    passed_on = (GenerationCancelled, MediaError) if on_demand else (GenerationCancelled,)
    context = seen.handle_before_samples - segment.handle_before_samples
    try:
        return generator.generate(
            frames, fps, seen.generated_samples, params, progress=progress, cancel=cancel,
            kept=(context, context + segment.generated_samples),
        )
    except passed_on:
        raise
    except Exception as error:  # noqa: BLE001 - one clip's failure must not end the job
        log.exception("generator failed on clip %s", segment.clip_id)
        raise _ClipFailed(
            f"{segment_label(segment)}: generator {generator.name!r} failed: {error}"
        ) from error
    finally:
        if on_demand:
            frames.close()


def _take_params(request: GenerationRequest, segment: Segment, take: int) -> GenerationParams:
    """The generation parameters of take `take` of a clip (GenerationRequest.seed_per_take):
    the run's, with the prompts the clip's `v2a:` markers give where the run gives none."""
    params = request.params
    if request.seed_per_take:
        params = replace(params, seed=params.seed + take - 1)
    return replace(
        params,
        prompt=params.prompt or segment.prompt,
        negative_prompt=params.negative_prompt or segment.negative_prompt,
    )


def _provenance(
    segment: Segment, generator: Generator, params: GenerationParams, take: int, seconds: float
) -> dict:
    """What made take `take` of the clip, with `params` (`_take_params`)."""
    return {
        **generator.provenance(),
        "generator": generator.name,
        "seed": params.seed,
        "prompt": params.prompt,
        "negative_prompt": params.negative_prompt,
        "steps": params.steps,
        "cfg_strength": params.cfg_strength,
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "clip_id": segment.clip_id,
        "source_clip": segment.clip_name,
        "source_track": segment.track_name,
        "take": take,
    }


def _write_take(
    path: str, samples: np.ndarray, segment: Segment, provenance: dict, facts: _TimelineFacts,
    loudness: Loudness,
) -> None:
    from v2a.media.audio import ProductionNotes, write_wav

    # The file starts `handle_before` samples before the record start; DAWs place its first
    # sample at the time reference, so that is where the file begins on the timeline.
    reference = take_origin(facts.offset, segment.start_sample, segment.handle_before_samples)
    generator, take = provenance["generator"], provenance["take"]
    write_wav(
        path,
        samples,
        description=(
            f"v2a {generator} take {take} for clip {segment.clip_name!r} "
            f"({segment.track_name}); record start {facts.offset + segment.start_sample} "
            f"samples, handles {segment.handle_before_samples} before, "
            f"{segment.handle_after_samples} after (samples)"
        ),
        originator="v2a",
        originator_reference=segment.clip_id[:32],
        time_reference_samples=reference,
        coding_history=f"A=PCM,F={SAMPLE_RATE},W=24,M=mono,T=v2a {generator}",
        loudness=loudness,
        production=ProductionNotes(
            project=facts.project,
            scene=segment.clip_name,
            take=take,
            note=_take_note(provenance),
            track=track_name("SFX"),
        ),
    )


def _take_note(provenance: dict) -> str:
    """What a sound librarian reads of how a take was made: generator, seed, prompts."""
    parts = [f"v2a {provenance['generator']}", f"seed {provenance['seed']}"]
    if provenance.get("prompt"):
        parts.append(f"prompt: {provenance['prompt']}")
    if provenance.get("negative_prompt"):
        parts.append(f"negative prompt: {provenance['negative_prompt']}")
    if "gain_db" in provenance:
        parts.append(f"gain {provenance['gain_db']:+.1f} dB toward "
                     f"{provenance['loudness_target_lufs']:g} LUFS")
    return "; ".join(parts)
