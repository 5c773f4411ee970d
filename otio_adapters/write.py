"""Writing generated sound back into the editor's timeline.

Generated audio goes into v2a's own audio track ("V2A SFX"); the editor's tracks are never
touched. In memory, v2a's track is expressed in samples at SAMPLE_RATE so that every clip sits on
its video clip's record range to the sample; formats that count in frames get a copy conformed
to the timeline's edit rate when written (`write_timeline`).
"""

from __future__ import annotations

import bisect
import copy
import logging
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from fractions import Fraction
from typing import NamedTuple

import opentimelineio as otio
from opentimelineio.adapters.file_bundle_utils import NotAFileOnDisk

from otio_adapters import (
    aaf_file,
    edl_audio,
    edl_list,
    fcp7_document,
    fcp7_speed,
    fcpx_audio,
    fcpx_document,
    fcpx_speed,
    fcpx_time,
    fcpx_transitions,
    kdenlive,
    source_files,
    timing,
)
from otio_adapters.edl_time import restore_frame_code_mode, restore_motion_events
from otio_adapters.follow_edit import (
    Placed,
    drop_takes_not_covering,
    follow_the_edit,
    handles,
    rebase_takes,
    same_shot,
)
from otio_adapters.media_refs import (
    RelinkIndex,
    has_relative_media,
    locate_file,
    rebase_media_references,
    url_to_path,
)
from otio_adapters.plan import (
    is_enabled,
    media_file_name,
    start_timecode,
    time_scalar,
    timeline_start,
)
from otio_adapters.read import OTHER_TIMELINES, TIMELINE_ASKED, prints_to_log
from otio_adapters.takes import (
    PREMIERE_TRACK_NAME,
    V2A_KEY,
    clip_file_stem,
    clip_name,
    clip_takes,
    file_stem,
    find_v2a_tracks,
    marked_v2a_tracks,
    parse_take_file,
    path_to_url,
    take_key,
    take_origin,
    to_samples,
    track_name,
    track_stem,
)
from otio_adapters.xml_files import rewrite_xml
from v2a.contracts import SAMPLE_BITS, SAMPLE_RATE, TAKE_CHANNELS, GeneratedAudio, Segment

log = logging.getLogger(__name__)

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


class TimelineWriteError(Exception):
    """The timeline could not be written where or how it was asked; the message says why."""


# --- write-back ---------------------------------------------------------------------------------


def write_audio_tracks(
    timeline: otio.schema.Timeline,
    segments: list[Segment],
    generated: list[GeneratedAudio],
    *,
    stem: str = "SFX",
    visible: list[Segment] | None = None,
    disabled: list[Segment] = (),
) -> None:
    """Lay each generated sound under its video clip on v2a's track, adding a take per generation.

    Mutates `timeline` in memory. An existing v2a track is updated (clips not in `generated` keep
    their files, takes and places); a regenerated clip gets a new active take. `visible`, every
    segment of the edit as it is now (the plan without a selection), makes the clips not
    regenerated follow the edit: cut to their picture where it was trimmed, taken off the track
    where it is gone (see `follow_edit.follow_the_edit`); `disabled`, what the disabled shots
    would show (`TimelinePlanner.disabled`), keeps their sound, disabled with them.
    """
    if not generated and not find_v2a_tracks(timeline, stem):
        return  # nothing to lay down: no empty track in the editor's timeline
    segments_by_id = {segment.clip_id: segment for segment in segments}
    if timeline.global_start_time is None:
        # A start timecode only a track trim expressed (CMX 3600) becomes the timeline's own, so
        # the written .otio states where its takes' timecodes count from. Tracks stay untouched.
        timeline.global_start_time = start_timecode(timeline)
    track = _v2a_track(timeline, stem)
    placed = _read_placed(track)
    if visible is not None:
        placed = follow_the_edit(placed, visible, disabled)
    by_stem = {item.stem: item for item in placed if item.stem}
    by_range = {(item.start, item.length): item for item in placed}

    fresh: list[Placed] = []
    for audio in generated:
        segment = segments_by_id.get(audio.clip_id)
        if segment is None:
            raise ValueError(f"generated audio for clip {audio.clip_id!r} has no planned segment")
        # Addressed by id where the format kept it, else by record range (track and time) where
        # it still sits under the same shot: the sound of a shot moved into its place is not a take.
        previous = by_stem.get(file_stem(audio.clip_id)) or by_range.get(
            (audio.start_sample, audio.num_samples)
        )
        if previous and previous.stem != file_stem(audio.clip_id):
            if not same_shot(previous.clip, segment):
                previous = None
        clip = previous.clip if previous else otio.schema.Clip()
        origin = media_origin(timeline, audio)
        if previous:
            rebase_takes(clip, origin + audio.handle_before_samples - audio.start_sample
                         + previous.start)
        if previous is None or parse_take_file(clip.name):
            # An EDL names a clip by its take's file (FROM CLIP NAME), untrue once another take
            # is active: named for its shot, as a new one is; a name the editor gave it stays.
            clip.name = clip_name(segment.clip_name)
        _add_take(clip, segment, audio, origin)
        fresh.append(
            Placed(
                audio.start_sample,
                audio.num_samples,
                audio.handle_before_samples,
                audio.handle_after_samples,
                clip,
                file_stem(audio.clip_id),
            )
        )

    fresh_clips = {id(item.clip) for item in fresh}
    fresh.sort(key=lambda item: item.start)
    fresh_starts = [item.start for item in fresh]
    kept = []
    for item in placed:
        if id(item.clip) in fresh_clips:
            continue
        # New clips tile without overlapping, so only the last one starting before this ends
        # can overlap it: a bisect keeps a re-run linear in clip count.
        before_end = bisect.bisect_left(fresh_starts, item.end) - 1
        if before_end >= 0 and fresh[before_end].end > item.start:
            # The edit changed under an old sound: the new generation wins the place.
            log.info("dropping v2a clip %r: a new generation overlaps it", item.clip.name)
            continue
        kept.append(item)
    _lay_out(track, sorted(kept + fresh, key=lambda item: item.start))


def _v2a_track(timeline: otio.schema.Timeline, stem: str) -> otio.schema.Track:
    """v2a's track for this stem; duplicates left by older runs are merged into the first."""
    tracks = find_v2a_tracks(timeline, stem)
    if not tracks:
        track = otio.schema.Track(name=track_name(stem), kind=otio.schema.TrackKind.Audio)
        timeline.tracks.append(track)
        tracks = [track]
    first = tracks[0]
    first.name = track_name(stem)
    first.metadata[V2A_KEY] = {"track": stem}
    if len(tracks) > 1:
        merged = _read_placed(first)
        for extra in tracks[1:]:
            merged += _read_placed(extra)
            extra.clear()  # frees its clips to move onto the first track
            timeline.tracks.remove(extra)
        _lay_out(first, _without_overlaps(sorted(merged, key=lambda item: item.start)))
    return first


def _without_overlaps(placed: list[Placed]) -> list[Placed]:
    """Sorted clips, keeping the earlier of two that overlap (one track holds no overlaps)."""
    result: list[Placed] = []
    for item in placed:
        if not result or item.start >= result[-1].end:
            result.append(item)
    return result


def _read_placed(track: otio.schema.Track) -> list[Placed]:
    """The clips on a v2a track with their record ranges, in one pass (linear in clip count)."""
    placed = []
    position = Fraction(0)  # exact seconds: frame and sample durations may mix on one track
    for item in track:
        if isinstance(item, otio.schema.Transition):
            continue
        end = position + timing.seconds(item.duration())
        if isinstance(item, otio.schema.Clip):
            start = timing.to_samples(position)
            before, after = handles(item)
            placed.append(
                Placed(
                    start, timing.to_samples(end) - start, before, after, item, clip_file_stem(item)
                )
            )
        position = end
    return placed


def media_origin(timeline: otio.schema.Timeline, audio: GeneratedAudio) -> int:
    offset = timing.to_samples(timeline_start(timeline))
    return take_origin(offset, audio.start_sample, audio.handle_before_samples)


def _add_take(clip: otio.schema.Clip, segment: Segment, audio: GeneratedAudio, origin: int) -> None:
    takes = clip_takes(clip)
    number = int(audio.provenance.get("take") or (max(takes, default=0) + 1))
    if number in takes and takes[number].target_url != path_to_url(audio.path):
        # A clip found by its range whose id changed (its track moved): its takes of the old id
        # are numbered from 1 too, and none of them may be replaced.
        number = max(takes) + 1
    total = audio.handle_before_samples + audio.num_samples + audio.handle_after_samples
    provenance = {**audio.provenance, "take": int(audio.provenance.get("take") or number)}
    reference = otio.schema.ExternalReference(
        target_url=path_to_url(audio.path),
        available_range=TR(RT(origin, SAMPLE_RATE), RT(total, SAMPLE_RATE)),
        metadata={V2A_KEY: provenance},
    )
    references = {take_key(n): ref for n, ref in takes.items()}
    references[take_key(number)] = reference
    clip.set_media_references(references, take_key(number))
    clip.source_range = TR(
        RT(origin + audio.handle_before_samples, SAMPLE_RATE), RT(audio.num_samples, SAMPLE_RATE)
    )
    drop_takes_not_covering(clip)
    clip.metadata[V2A_KEY] = {
        "clip_id": segment.clip_id,
        "source_clip": segment.clip_name,
        "source_track": segment.track_name,
        "source_track_index": segment.track_index,
        # What the picture shows, so that the clip can follow it when the edit moves it.
        "source_start": segment.source_start,
        "source_media": media_file_name(segment),
        "speed": segment.speed,
        "active_take": number,
        "provenance": provenance,
    }


def _lay_out(track: otio.schema.Track, placed: list[Placed]) -> None:
    """Rebuild the track: gaps between clips, a crossfade where adjacent clips have handles."""
    track.clear()
    cursor = 0
    fades = _Crossfades()
    for item in placed:
        if item.start > cursor:
            track.append(
                otio.schema.Gap(
                    source_range=TR(RT(0, SAMPLE_RATE), RT(item.start - cursor, SAMPLE_RATE))
                )
            )
        fade = fades.into(item.start == cursor, item.handle_before, item.length, item.handle_after)
        if fade:
            track.append(_crossfade(*fade, SAMPLE_RATE))
        track.append(item.clip)
        cursor = item.end


class _Crossfades:
    """Where each crossfade lies, clip after clip along a track (in samples or in frames).

    A crossfade runs from `in_offset` before the cut, where the incoming clip plays its handle
    before, to `out_offset` after it, where the outgoing clip plays its handle after. The planner
    gives handles at a picture transition from its offsets (a dissolve that starts at the cut
    gives the outgoing clip all of it, the incoming none), and equal handles at a hard cut; so
    the sound follows the picture dissolve over the same span, and is centred on a hard cut.
    A crossfade never reaches past the clip on either side, nor into the previous crossfade:
    clips shorter than their handles get a shorter one.
    """

    def __init__(self) -> None:
        self.after = 0  # handle after the previous clip, 0 after a gap
        self.free = 0  # length of the previous clip not used by the crossfade into it

    def into(self, touching: bool, before: int, length: int, after: int) -> tuple[int, int] | None:
        """(in_offset, out_offset) of the crossfade into a clip, or None; then move past it."""
        fade_in = min(before, self.free) if touching else 0
        fade_out = min(self.after, length) if touching else 0
        self.after, self.free = after, length - fade_out
        return (fade_in, fade_out) if fade_in or fade_out else None


def _crossfade(
    in_offset: int, out_offset: int, rate: float, metadata: dict | None = None
) -> otio.schema.Transition:
    """A dissolve between two touching clips, made of their handles (see `_Crossfades`)."""
    return otio.schema.Transition(
        name="V2A crossfade",
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=RT(in_offset, rate),
        out_offset=RT(out_offset, rate),
        metadata={V2A_KEY: {"crossfade": True}, **(metadata or {})},
    )


# --- writing a file -----------------------------------------------------------------------------

EXTENSIONS = {
    "otio_json": ".otio",
    "fcp_xml": ".xml",
    "fcpx_xml": ".fcpxml",
    "cmx_3600": ".edl",
    "AAF": ".aaf",
    "kdenlive": ".kdenlive",
    "otioz": ".otioz",
    "otiod": ".otiod",
}
# Formats whose adapter copies each clip's media into the bundle (a zip, a folder).
BUNDLES = ("otioz", "otiod")


def write_timeline(
    timeline: otio.schema.Timeline, path: str, format: str, media_dir: str = "",
    relink_roots: tuple[str, ...] = (),
) -> tuple[str, str, str]:
    """Write `timeline` to `path` in `format` (an OTIO adapter name), atomically.

    `media_dir` is the folder the timeline's relative media references are relative to (the
    input's); what is written names the same media from its own folder (`timeline` itself is
    left as it is). `relink_roots`: where the run found media that is not where the timeline
    says (`--relink`), which a bundle packs. Returns (written path, fallback .otio path or "",
    note). Where the format
    cannot carry v2a's audio, the note says so and the full result is also written as an .otio
    beside it. What was lost in reading the source is said too (no .otio holds it either).
    """
    others = timeline.metadata.get("v2a_read", {}).get(OTHER_TIMELINES)
    # Asked before the write: written over, the editor's file is no longer as it was read.
    # The editor's own file v2a's tracks go into, checked (read and hashed) once.
    project = _editors_file(timeline, format)
    written, fallback, note = _write_timeline(timeline, path, format, media_dir, project,
                                              relink_roots)
    kept = project.written_into and written == path
    source = timeline.metadata.get("fcpx_xml", {})
    unread = source.get(fcpx_transitions.TRANSITIONS_NOT_READ)
    if unread:
        where = ("the FCPXML written keeps them, but no .otio holds them" if kept
                 else "they are in neither the timeline written nor any .otio")
        lost = (f"transitions of the source FCPXML that v2a could not read (the editor's "
                f"{unread}, beside items the FCPXML reader skips) were planned without: {where}")
        note = join_notes(note, lost)
    asked = timeline.metadata.get("v2a_read", {}).get(TIMELINE_ASKED)
    if others and not (asked and kept):  # asked for, and the others kept: nothing to say
        names = ", ".join(repr(name) for name in others)
        held = (f"what it wrote keeps {names} as they were, without v2a's sound" if kept
                else f"what it wrote holds that one alone, not {names}")
        which = (f"the one asked for, {timeline.name!r}" if asked
                 else f"the first, {timeline.name!r}")
        lost = f"the source file holds {len(others) + 1} timelines and v2a worked on {which}; {held}"
        if not asked:
            lost += " (send the adapter option timeline=NAME, or v2a generate --timeline NAME, for another)"
        note = join_notes(note, lost)
    ramps = source.get(fcpx_speed.SPEED_CHANGES_NOT_READ)
    if ramps:
        lost = (f"speed changes of the source FCPXML that v2a could not read (clips whose speed "
                f"varies: {ramps}) were planned at normal speed, their sound made for other "
                "frames than Final Cut shows; an FCPXML v2a writes keeps their time maps (not "
                "inside compound clips), other formats play them at normal speed")
        note = join_notes(note, lost)
    unread = fcp7_speed.not_read(timeline)
    if unread:
        # Named, as the editor finds them: planned at 100 % from their in point, their sound
        # made for other frames than Premiere shows (the FCP7 XML written keeps their filter).
        why = ", ".join(sorted({reason for _, reason in unread}))
        lost = (f"speed changes of the source FCP7 XML that v2a could not read ({why}, planned "
                f"at normal speed): {', '.join(_item_label(timeline, item) for item, _ in unread)}")
        note = join_notes(note, lost)
    return written, fallback, note


def _write_timeline(
    timeline: otio.schema.Timeline, path: str, format: str, media_dir: str,
    project: _EditorsFile, relink_roots: tuple[str, ...],
) -> tuple[str, str, str]:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise TimelineWriteError(f"cannot write {path}: folder {folder} is missing or not writable")
    if media_dir:
        timeline = _with_media_rebased(timeline, media_dir, folder, format)
    otio_path = os.path.splitext(path)[0] + ".otio"
    has_audio = any(find_v2a_tracks(timeline, stem) for stem in _stems(timeline))

    reason = _cannot_carry(timeline, format, project) if has_audio else ""
    if format == "otio_json":
        _write_through_staging(timeline, path, "otio_json")
        return path, "", ""
    if reason:
        _write_through_staging(timeline, otio_path, "otio_json")
        return otio_path, otio_path, f"{reason}; wrote {otio_path} instead"

    source, problem = project.path, project.problem
    if problem and os.path.exists(source) and os.path.exists(path) and os.path.samefile(source, path):
        # Saved again since v2a read it (the editor cutting in the project v2a wrote): what
        # v2a would write there is older than what the editor saved. Or the timeline's edit
        # is not the file's (an .otio edited since): the adapter's rewrite would replace it.
        _write_through_staging(timeline, otio_path, "otio_json")
        hint = ("write into another folder for the adapter's file of this timeline"
                if problem.startswith(_EDITED) else "run again on the project to add v2a's track to it")
        return otio_path, otio_path, (f"{problem}, and v2a leaves it as it was saved; wrote "
                                      f"{otio_path} instead ({hint})")
    lost = _adapter_losses(timeline, format, project)

    def full_result_first(staged: str) -> None:
        # CMX 3600: the EDL is written, without takes; FCPXML: without what it names. The full
        # result is renamed into place before the file: a stop between the two renames leaves
        # it the newer one, which is what a server restarted then keeps
        # (plugin_server.worker.WRITING). It records the editor's file as staged.
        beside = _recording_written(timeline, format, project, path, staged)
        _write_through_staging(beside, otio_path, "otio_json")

    to_write = _for_format(timeline, format)
    try:
        if format in BUNDLES:
            to_write = _with_bundled_media(to_write, format, media_dir or folder, relink_roots)
        _write_through_staging(
            to_write, path, format, project, before_rename=full_result_first if lost else None,
        )
    except Exception as error:  # noqa: BLE001 - adapters raise anything; the .otio is still good
        # The file stays as it was: the .otio records it so (rather than as staged).
        _write_through_staging(timeline, otio_path, "otio_json")
        if isinstance(error, TimelineWriteError):  # v2a's own reason, said as it is
            note = f"{error}; wrote {otio_path} instead"
        else:
            note = f"the {format} adapter could not write the result ({_one_line(error)}); wrote {otio_path} instead"
        return otio_path, otio_path, note
    if lost:
        return path, otio_path, f"{lost}; the full result is in {otio_path}"
    return path, "", ""


class _EditorsFile(NamedTuple):
    """The editor's own file a timeline was read from: (its text, its path, "", its sha256)
    while it is still as it was read, ("", path, why not, "") where it is not, empty for a
    timeline read from another format. An AAF, binary, has no text: ("", path, "", sha256)."""

    text: str = ""
    path: str = ""
    problem: str = ""
    sha256: str = ""  # of the file as found, while it is as it was read

    @property
    def written_into(self) -> bool:
        """Whether v2a's tracks go into this file, everything else of it kept, rather than the
        adapter writing the timeline whole (`_WRITERS`)."""
        return bool(self.path) and not self.problem


_NO_EDITORS_FILE = _EditorsFile()

#: How each format finds the editor's own file a timeline was read from (`_EditorsFile`).
_EDITORS_FILE = {
    "kdenlive": kdenlive.source_project,
    "fcp_xml": fcp7_document.source_document,
    "cmx_3600": edl_list.source_list,
    "fcpx_xml": fcpx_document.source_document,
    "AAF": aaf_file.source_file,
}


def _editors_file(timeline: otio.schema.Timeline, format: str) -> _EditorsFile:
    """`_EDITORS_FILE`'s answer, and ("", path, why not) where the timeline's editor's tracks are
    no longer those read from that file (an .otio v2a wrote, edited since): v2a's track was laid
    against that edit, which the file does not hold, so the adapter writes the edit instead."""
    find = _EDITORS_FILE.get(format)
    found = _EditorsFile(*find(timeline)) if find else _NO_EDITORS_FILE
    if found.written_into and source_files.editor_tracks_edited(timeline):
        return _EditorsFile("", found.path, f"{_EDITED} {found.path}")
    return found


_EDITED = "the editor's tracks in this timeline were edited since v2a read them from"

#: Where a timeline keeps its record of the editor's file (`source_files.record_of`).
_EDITORS_RECORD = {
    "kdenlive": kdenlive.project_record,
    "fcp_xml": fcp7_document.document_record,
    "cmx_3600": edl_list.list_record,
    "fcpx_xml": fcpx_document.document_record,
    "AAF": aaf_file.source_record,
}


def _recording_written(
    timeline: otio.schema.Timeline, format: str, project: _EditorsFile, path: str, staged: str
) -> otio.schema.Timeline:
    """The timeline for the .otio beside `path`: where v2a's tracks go into the editor's file
    (`written_into`), a copy recording the file as v2a writes it there (`staged`, before its
    rename), and the editor's tracks as written. Recording it as read, a re-run writing into
    its own result left an .otio naming a file v2a then overwrote: a run on that .otio found
    it "changed since v2a read it" and wrote the .otio alone. A file the editor changes after
    v2a wrote it still differs from the record."""
    if not project.written_into or not os.path.isfile(staged):
        return timeline
    beside = timeline.deepcopy()
    source_files.record_written(_EDITORS_RECORD[format](beside), path, staged,
                                (project.path, project.sha256))
    source_files.remember_editor_tracks(beside)
    return beside


def records_file_written(timeline: otio.schema.Timeline, format: str, path: str) -> bool:
    """Whether `timeline`, read from the .otio v2a wrote beside the file at `path` (in
    `format`), records that file as v2a wrote it, or as a write stopped before renaming it left
    it (`source_files.file_as_recorded`): the .otio is then the whole of the same result, every
    take in it. Without such a record (a format that cannot say), False."""
    find = _EDITORS_RECORD.get(format)
    record = find(timeline) if find else None
    if not record or os.path.abspath(str(record["path"])) != os.path.abspath(path):
        return False
    _, _, _, problem = source_files.file_as_recorded(
        record, format, lambda name: (source_files.file_sha256(name), "")
    )
    return not problem


def _adapter_losses(
    timeline: otio.schema.Timeline, format: str, project: _EditorsFile = _NO_EDITORS_FILE
) -> str:
    """What the format's adapter drops from a timeline it does write, where we can tell: the
    editor gets the file, a note that says what is missing, and the whole result as .otio.
    `project`: the editor's file the timeline was read from (`_editors_file`), which v2a's
    tracks went into where it is `written_into`."""
    losses = _LOSSES.get(format)
    return losses(timeline, project) if losses else ""


def join_notes(*notes: str) -> str:
    """The notes said, in order, as one (a result's `format_note`)."""
    return "; ".join(note for note in notes if note)


def _edl_losses(timeline: otio.schema.Timeline, project: _EditorsFile) -> str:
    carried = _edl_carries(timeline, project.written_into)
    if not project.written_into:
        carried = join_notes(carried, _disabled_note(timeline, "CMX 3600 EDL"),
                             _nested_note(_picture_only(timeline), "CMX 3600 adapter"),
                             _tracks_note(timeline))
    if not project.problem:
        return carried
    rewritten = (f"{project.problem}: the list was rewritten by the CMX 3600 adapter, which "
                 "renames reels, writes B events as V and A events, wipes and keys that fade "
                 "as dissolves, turns the AUD, SPLIT and effect name lines of video events "
                 "into comments and can lose a freeze's M2 line")
    return join_notes(rewritten, carried)


def _fcp7_losses(timeline: otio.schema.Timeline, project: _EditorsFile) -> str:
    if project.written_into:  # the editor's document as it was, v2a's track added
        return ""
    lost = []
    if project.problem:
        lost.append(f"{project.problem}: the timeline was rewritten by the FCP7 XML adapter, "
                    "which drops the <link> groups between clips' picture and sound channels "
                    "and keeps one <file> element per path")
    # The adapter writes no time effect at all, nested or not: the sample's "stretch (150%)"
    # came back at 100 %, without a word. v2a writes a clip's constant speed as Premiere's
    # Time Remap (`fcp7_speed.for_writer`); a freeze frame or a retimed nest is named.
    lost.append(_retimed_note(timeline, _retimed(timeline, writable=fcp7_speed.writable),
                              "FCP7 XML adapter", "XML"))
    return join_notes(*lost)


def _kdenlive_losses(timeline: otio.schema.Timeline, project: _EditorsFile) -> str:
    if project.written_into:  # the editor's project as it was, with v2a's tracks, as mixes
        return ""
    # v2a's crossfades are in it as same-track mixes (`kdenlive.write_into_project`).
    editors = _without_v2a_tracks(timeline)
    transitions = len(editors.find_children(descended_from_type=otio.schema.Transition))
    lost = []
    if project.problem:
        lost.append(f"{project.problem}: the project was rewritten by the Kdenlive adapter, "
                    "which drops titles, effects and compositions")
    if transitions:
        lost.append(f"the Kdenlive adapter writes no transitions: the editor's {transitions} "
                    "in this timeline are not in the .kdenlive")
    offline = len(_without_media(timeline))
    if offline:
        lost.append(f"{offline} of the editor's clips name no media file (an EDL's events, "
                    "offline clips): each is written as a missing file named after the "
                    "clip, for Kdenlive to relink")
    lost.append(_nested_note(timeline, "Kdenlive adapter"))
    # The adapter plays a clip's LinearTimeWarps through a timewarp producer and skips any other
    # time effect: `speed_effects_small.edl`'s freeze came back at normal speed, without a word.
    # (A nested item's own are in the nested note.)
    frozen = _retimed(timeline, clips_only=True, writable=_plain_speed)
    lost.append(_retimed_note(timeline, frozen, "Kdenlive adapter", ".kdenlive",
                              what="freeze frames"))
    return join_notes(*lost)


def _aaf_losses(timeline: otio.schema.Timeline, project: _EditorsFile) -> str:
    lost = []
    if project.problem:
        lost.append(f"{project.problem}: the AAF adapter wrote the whole sequence, which gives "
                    "the editor's clips new file and tape mobs (what Avid finds and relinks "
                    "their media by), points every audio clip at its master clip's slot 2 "
                    "(which channel of the source each track played is lost), and drops "
                    "motion effects, gain, markers and the start timecode's drop frame")
    if not project.written_into:  # the adapter's file, not the editor's
        lost.append(_generators_note(timeline, "AAF", "filler"))
        lost.append(_disabled_note(timeline, "AAF adapter"))
        lost.append(_nested_note(timeline, "AAF adapter"))
        # The adapter writes no time effect (Avid's Motion Control): the sample's "stretch
        # (150%)" came back at 100 %, without a word. A nested item's own: the nested note.
        lost.append(_retimed_note(timeline, _retimed(timeline, clips_only=True),
                                  "AAF adapter", "AAF"))
    return join_notes(*lost)


def _fcpx_losses(timeline: otio.schema.Timeline, project: _EditorsFile) -> str:
    uncentred = _uncentred_note(fcpx_audio.uncentred_crossfades(timeline))
    if project.written_into:  # the editor's document as it was, v2a's audio added (`fcpx_document`)
        return uncentred
    lost = []
    if project.problem:
        lost.append(f"{project.problem}: the timeline was rewritten by the FCPXML adapter, which "
                    "drops the library and event, the other projects, titles, generators, "
                    "multicam and synchronized clips, keywords, chapter markers, filters, audio "
                    "roles and the editor's metadata")
    lost.append(_generators_note(timeline, "FCPXML", "gaps"))
    unwritten = fcpx_transitions.unwritable(timeline, edit_rate(timeline))
    if unwritten:
        lost.append(f"the editor's transitions Final Cut cannot hold where they are ({unwritten}: "
                    "inside compound clips, or with nothing to play on a side) are not in the "
                    "FCPXML")
    retimed = fcpx_speed.unwritable(timeline)
    if retimed:
        # Without a time map Final Cut plays them at 100 %, frames other than the ones v2a made
        # their sound for. Named, as the editor finds them: a count alone sent them looking.
        lost.append(f"speed changes v2a cannot write to FCPXML (inside compound clips or "
                    "nested tracks, or another time effect than a constant speed), which play "
                    "at normal speed in the FCPXML: "
                    f"{', '.join(_item_label(timeline, item) for item in retimed)}")
    lost.append(uncentred)
    return join_notes(*lost)


#: Format -> what its adapter drops of a timeline it writes (`_adapter_losses`); a format not
#: named loses nothing v2a can tell (OTIO's own).
_LOSSES = {
    "cmx_3600": _edl_losses,
    "fcp_xml": _fcp7_losses,
    "kdenlive": _kdenlive_losses,
    "AAF": _aaf_losses,
    "fcpx_xml": _fcpx_losses,
}


def _generators_note(timeline: otio.schema.Timeline, label: str, written_as: str) -> str:
    generators = _generator_clips(timeline)
    if not generators:
        return ""
    return (f"the {label} adapter writes no titles or generators, so the editor's are "
            f"{written_as} in the {label}: {', '.join(generators)}")


def _uncentred_note(uncentred: int) -> str:
    if not uncentred:
        return ""
    return (f"v2a's crossfades wholly on one side of their cut ({uncentred}) are hard cuts in "
            "the FCPXML: Final Cut centres every transition on its cut")


def _edl_carries(timeline: otio.schema.Timeline, editors_list: bool = False) -> str:
    """What a CMX 3600 list holds of v2a's result, and what only the .otio beside it does.
    `editors_list`: the list is the editor's own with v2a's events appended (`edl_list`)."""
    _, ours = edl_audio.channels(timeline)
    if not ours:
        return ""
    fields = ", ".join(edl_audio.channel_field(channel) for channel in ours.values())
    editors = ("the editor's list as they wrote it, with" if editors_list else
               "the editor's video and audio events and")
    note = (f"the CMX 3600 EDL carries {editors} v2a's active "
            f"takes as audio events on channel {fields} (each naming its WAV in FROM CLIP NAME "
            "and SOURCE FILE), crossfades as dissolves; not the other takes nor what v2a "
            "records of them")
    too_long = edl_audio.long_crossfades(timeline, _list_rate(timeline))
    if too_long:
        note += (f"; {too_long} crossfades longer than {edl_audio.MAX_DISSOLVE} frames, more "
                 "than a CMX 3600 dissolve can say, are cuts in the EDL")
    held = edl_audio.crossfades_held_back(timeline, _list_rate(timeline))
    if held:
        note += (f"; the dissolves out of {', '.join(held)}, no longer than their crossfade's "
                 "lead-in, start later in the EDL than v2a's crossfades, leaving each take an "
                 "event of a frame or more (an event of no length is invalid to many importers)")
    return note


def _with_media_rebased(
    timeline: otio.schema.Timeline, media_dir: str, folder: str, format: str
) -> otio.schema.Timeline:
    """A copy whose relative media references resolve from `folder` (the picture would go
    offline otherwise). The bundle adapters copy media from absolute paths (a relative one they
    take from the working directory), so for them references become absolute. So they do in an
    AAF: its locators are URLs, and a relative path came back from it as
    `file://../project/media/shot.mp4` (a host named ".."), every clip offline."""
    if not has_relative_media(timeline):
        return timeline  # the usual editor export: absolute paths, no copy needed
    absolute = format in BUNDLES or format == "AAF"
    if not absolute and os.path.realpath(media_dir) == os.path.realpath(folder):
        # Written beside its input (a re-run, a regeneration): every reference stays as written
        # (`rebased_url`), so no copy. Copying and rebasing each reference took 0.5 s of a
        # 2.2 s one-clip regeneration on a 2,000-clip edit.
        return timeline
    result = copy.deepcopy(timeline)
    rebase_media_references(result, media_dir, None if absolute else folder)
    return result


def _with_bundled_media(
    timeline: otio.schema.Timeline, format: str, media_dir: str, relink_roots: tuple[str, ...]
) -> otio.schema.Timeline:
    """For a bundle, which holds a copy of each clip's media: `timeline`, or a copy whose media
    that is not where the timeline says name the file the run found (another Unicode spelling,
    or under the relink roots, as the planner finds it). The bundle names its media
    `media/<name>` whatever their path was, so nothing of the editor's is lost; the adapter
    refused the whole bundle over the path it could not open (the other formats keep the
    editor's path: docs/timeline_writing.md, "Media references in the written timeline").
    Media found nowhere: TimelineWriteError naming the clip and its path as the timeline
    writes it (the adapter's message named it joined to the server's working folder)."""
    relink = RelinkIndex(tuple(relink_roots))
    found: dict[str, str] = {}
    for clip in timeline.find_clips():
        reference = clip.media_reference
        if not isinstance(reference, otio.schema.ExternalReference) or not reference.target_url:
            continue
        url = reference.target_url
        written = os.path.join(media_dir, url_to_path(url))  # an absolute path stays as it is
        if url in found or os.path.isfile(written):
            continue
        located = locate_file(url, media_dir, relink).path
        if not (located and os.path.isfile(located)):
            where = " nor under the relink roots" if relink_roots else ""
            raise TimelineWriteError(
                f"an {format} bundle holds only media on disk, and clip {clip.name!r} names "
                f"{url}, which is not there{where}"
            )
        found[url] = otio.url_utils.url_from_filepath(located)
    if not found:
        return timeline
    result = copy.deepcopy(timeline)
    for clip in result.find_clips():
        reference = clip.media_reference
        if isinstance(reference, otio.schema.ExternalReference) and reference.target_url in found:
            reference.target_url = found[reference.target_url]
    return result


def _stems(timeline: otio.schema.Timeline) -> set[str]:
    """"SFX" and the stem of every v2a track (`track_stem`)."""
    return {"SFX"} | {stem for stem in map(track_stem, timeline.tracks) if stem}


def edit_rate(timeline: otio.schema.Timeline) -> float:
    """The timeline's frame rate, read from the editor's tracks (v2a's track counts samples)."""
    if timeline.global_start_time is not None:
        return timeline.global_start_time.rate
    for track in timeline.tracks:
        if V2A_KEY in track.metadata:
            continue
        for item in track:
            if isinstance(item, (otio.schema.Clip, otio.schema.Gap)):
                return item.duration().rate
    return 24.0


def _cannot_carry(timeline: otio.schema.Timeline, format: str, project: _EditorsFile) -> str:
    if format == "fcpx_xml":
        rate = edit_rate(timeline)
        # Written into the editor's own document (`project`), v2a's clips are timed in seconds by
        # `fcpx_audio`, at any rate: only the adapter's document is limited to its rates.
        if not fcpx_time.can_write(rate) and not project.written_into:
            return f"the FCPXML adapter cannot write a {rate:.3f} fps timeline"
    return ""


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, NotAFileOnDisk):  # its message is the bare path
        text = f"a bundle holds only media on disk, and this is not: {text}"
    return text[:300]


def _write_through_staging(
    timeline: otio.schema.Timeline,
    path: str,
    format: str,
    project: _EditorsFile = _NO_EDITORS_FILE,
    before_rename: Callable[[str], None] | None = None,
) -> None:
    """Write through a private staging folder in the same folder, then rename into place.

    A folder rather than a temporary file: the otioz and otiod adapters refuse to write over an
    existing path and the AAF writer creates its file itself, so each adapter writes a new path
    of its own; a failed write leaves nothing behind and the old `path` untouched.
    `project`: the editor's file v2a's tracks are added to, if any (`_EditorsFile`).
    `before_rename`: called with the staged path once it is written, before the rename.
    """
    folder = os.path.dirname(os.path.abspath(path))
    staging = tempfile.mkdtemp(prefix=".v2a-", dir=folder)
    try:
        written = os.path.join(staging, os.path.basename(path))
        write = _WRITERS.get(format)
        if write:
            write(timeline, written, project, folder)
        else:  # OTIO's own formats: the adapter writes everything
            _adapter_write(timeline, written, format)
        if before_rename:
            before_rename(written)
        _replace(written, path, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _adapter_write(timeline: otio.schema.Timeline, path: str, format: str, **options) -> None:
    with prints_to_log(format):
        otio.adapters.write_to_file(timeline, path, adapter_name=format, **options)


# Writing each editor's format: see `_WRITERS`.


def _write_fcp7(
    timeline: otio.schema.Timeline, written: str, project: _EditorsFile, folder: str
) -> None:
    if not project.written_into:
        # Its retimed clips at their retimed in points, with a Time Remap filter each.
        _adapter_write(fcp7_speed.for_writer(timeline), written, "fcp_xml")
        _fcp7_finished(written, timeline)
        return
    # v2a's tracks as the adapter writes them, put in the editor's document.
    tracks = os.path.join(os.path.dirname(written), "v2a-tracks.xml")
    _adapter_write(_v2a_tracks_only(timeline), tracks, "fcp_xml")
    _fcp7_finished(tracks, timeline)
    fcp7_document.write_into_document(
        timeline, tracks, project.text, project.path, written, folder
    )


def _write_fcpx(
    timeline: otio.schema.Timeline, written: str, project: _EditorsFile, folder: str
) -> None:
    rate = edit_rate(timeline)
    if project.written_into:  # v2a's audio into the editor's own document
        fcpx_document.write_into_document(
            timeline, rate, project.text, project.path, written, folder
        )
        return
    # v2a's tracks are added after, as Final Cut writes audio (`fcpx_audio`); at NTSC rates
    # the adapter gets the same frames at a rate it can write.
    given = fcpx_time.for_writer(_without_v2a_tracks(timeline), rate)
    _generators_as_gaps(given)
    _nested_as_writers_take_them(given)
    _adapter_write(given, written, "fcpx_xml")
    _fcpx_finished(written, timeline)


def _write_edl(
    timeline: otio.schema.Timeline, written: str, project: _EditorsFile, folder: str
) -> None:
    rate = _list_rate(timeline)
    if project.written_into:  # the editor's own list, line for line, v2a's audio events after
        edl_list.write_into_list(
            timeline, project.text, written, rate, os.path.dirname(project.path), folder
        )
        return
    # The audio events, the editor's and v2a's (`edl_audio`), are added to the adapter's list,
    # then the frame code mode it was read in (`restore_frame_code_mode`).
    picture, _ = _edl_picture(timeline)
    _start_as_track_trims(picture, timeline.global_start_time)
    _adapter_write(picture, written, "cmx_3600")
    edl_list.drop_empty_events(written)
    restore_motion_events(written, rate)  # before the audio events: video only
    edl_audio.append_audio_events(written, _counted_from_start(timeline), rate)
    restore_frame_code_mode(written, timeline)


def _counted_from_start(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """`timeline`, or where it has a start timecode a copy of it with `_start_as_track_trims`
    (the result itself, and its .otio, stay as they are)."""
    start = timeline.global_start_time
    if start is None or start.value == 0:
        return timeline
    counted = timeline.deepcopy()
    _start_as_track_trims(counted, start)
    return counted


def _start_as_track_trims(
    timeline: otio.schema.Timeline, start: otio.opentime.RationalTime | None
) -> None:
    """Give each track of `timeline` without a trim the start timecode `start` as the CMX 3600
    reader expresses it (a trim from -start), since the writer counts record timecodes from the
    tracks alone, not from `global_start_time`: a sequence at 01:00:00:00 from another format
    came out as a list from 00:00:00:00, under v2a's takes' own timecode (their bext) an hour
    later, and a `--stem` of the run an hour after the list's picture."""
    if start is None or start.value == 0 or timeline.tracks.source_range is not None:
        return
    for track in timeline.tracks:
        if track.source_range is None:  # a list's own tracks have theirs
            track.source_range = TR(RT(-start.value, start.rate), track.duration())


def _write_kdenlive(
    timeline: otio.schema.Timeline, written: str, project: _EditorsFile, folder: str
) -> None:
    text, source = project.text, project.path
    if not project.written_into:
        # The adapter writes no transitions: it writes the editor's tracks, and v2a's go in
        # as into a project from Kdenlive, crossfades as same-track mixes.
        editors = _without_v2a_tracks(timeline)
        _flatten_nested(editors)  # the adapter skips a nested item and closes up the track
        _missing_media_named(editors)
        _adapter_write(editors, written, "kdenlive")
        with open(written, encoding="utf-8") as handle:
            text, source = kdenlive.reversed_as_mlt_plays(handle.read()), written
        text = kdenlive.as_kdenlive_writes(text, editors)
    kdenlive.write_into_project(timeline, text, source, written)


def _write_aaf(
    timeline: otio.schema.Timeline, written: str, project: _EditorsFile, folder: str
) -> None:
    _adapter_write(timeline, written, "AAF", use_empty_mob_ids=True)
    if project.written_into:  # v2a's tracks as the adapter wrote them go into the editor's AAF
        tracks = {id(track): track for stem in _stems(timeline)
                  for track in find_v2a_tracks(timeline, stem)}
        aaf_file.finish_written(written, timeline, list(tracks.values()), project.path)


#: How each editor's format is written: (timeline, staging path, the editor's file, the folder
#: the file goes into). Into the editor's file where it is `written_into`, v2a's tracks added;
#: else the adapter's file, what the adapter gets wrong corrected after. OTIO's own formats are
#: the adapter's alone.
_WRITERS = {
    "fcp_xml": _write_fcp7,
    "fcpx_xml": _write_fcpx,
    "cmx_3600": _write_edl,
    "kdenlive": _write_kdenlive,
    "AAF": _write_aaf,
}


# Premiere's and FCP7's own audio transition: the equal-power "Cross Fade (+3dB)".
_FCP7_CROSS_FADE = (("name", "Cross Fade (+3dB)"), ("effectid", "KGAudioTransCrossFade3dB"),
                    ("effecttype", "transition"), ("mediatype", "audio"))


def _fcp7_finished(path: str, timeline: otio.schema.Timeline) -> None:
    """Correct, in the FCP7 XML at `path`, what the adapter writes of v2a's audio: its crossfades
    (`_audio_transitions_as_cross_fades`) and its take files (`_declare_take_files`)."""
    take_urls = _take_urls(timeline)

    def edit(root) -> bool:
        changed = _audio_transitions_as_cross_fades(root)
        changed = fcp7_speed.in_premieres_order(root) or changed
        return _declare_take_files(root, take_urls) or changed

    rewrite_xml(path, "xmeml", edit)


def _declare_take_files(root, take_urls: set[str]) -> bool:
    """Say in each take's `<file>` what its audio is, and in its clip item which of the file's
    tracks it plays, as Premiere writes an audio file (`<samplecharacteristics>` with depth and
    rate, `<channelcount>`; `<sourcetrack>`): the adapter writes an empty `<audio/>` and no
    source track."""
    import xml.etree.ElementTree as ET

    changed = False
    for item in root.iterfind(".//sequence/media/audio/track/clipitem"):
        file = item.find("file")
        audio = file.find("media/audio") if file is not None else None
        if audio is None or file.findtext("pathurl") not in take_urls or len(audio):
            continue
        characteristics = ET.SubElement(audio, "samplecharacteristics")
        ET.SubElement(characteristics, "depth").text = str(SAMPLE_BITS)
        ET.SubElement(characteristics, "samplerate").text = str(SAMPLE_RATE)
        ET.SubElement(audio, "channelcount").text = str(TAKE_CHANNELS)
        if item.find("sourcetrack") is None:
            source = ET.Element("sourcetrack")
            ET.SubElement(source, "mediatype").text = "audio"
            ET.SubElement(source, "trackindex").text = "1"
            item.insert(list(item).index(file) + 1, source)
        changed = True
    return changed


def _audio_transitions_as_cross_fades(root) -> bool:
    """Rewrite each transition on an audio track as an audio cross fade. The fcp_xml adapter
    writes every transition as a video "Cross Dissolve" (mediatype video), and one that starts
    or ends at the cut as a fade from or to black ("start-black"): an NLE would drop or misread
    our crossfades between two takes."""
    import xml.etree.ElementTree as ET

    changed = False
    for transition in root.iterfind(".//sequence/media/audio/track/transitionitem"):
        effect = transition.find("effect")
        if effect is None or effect.findtext("mediatype") == "audio":
            continue  # already an audio transition (an editor's, read from FCP7 XML)
        for tag, value in _FCP7_CROSS_FADE:
            element = effect.find(tag)
            if element is None:
                element = ET.SubElement(effect, tag)
            element.text = value
        category = effect.find("effectcategory")
        if category is not None:
            effect.remove(category)  # "Dissolve" is the video category
        alignment = transition.find("alignment")
        if alignment is not None and alignment.text in ("start-black", "end-black"):
            alignment.text = alignment.text.removesuffix("-black")  # between two clips, not black
        changed = True
    return changed


def _fcpx_finished(path: str, timeline: otio.schema.Timeline) -> None:
    """Correct the FCPXML the adapter wrote at `path` (its time: `fcpx_time.finish`) and add
    the editor's transitions (`fcpx_transitions.write`) and speed changes (`fcpx_speed`) and
    v2a's tracks to it (`fcpx_audio.add_tracks`)."""
    import xml.etree.ElementTree as ET

    rate = edit_rate(timeline)

    def edit(root) -> bool:
        written = fcpx_transitions.adapter_elements(root, timeline, rate)
        _disabled_as_fcpx(written, timeline)
        fcpx_transitions.write(root, timeline, rate)  # in the adapter's time, which `finish` sets
        fcpx_time.finish(root, timeline, rate)
        for item, element in written:  # from their final start and duration, exactly
            fcpx_speed.add_time_map(element, item)
        fcpx_audio.add_tracks(root, timeline, rate)
        ET.indent(root, space="    ")
        return True

    rewrite_xml(path, "fcpxml", edit)


def _disabled_as_fcpx(written, timeline: otio.schema.Timeline) -> None:
    """Mark disabled, as Final Cut does (`enabled="0"`), each element the adapter wrote for a
    disabled clip (`written`: `fcpx_transitions.adapter_elements`): it writes none, and a clip
    an FCP7 XML or OTIO had switched off came back shown, over the picture v2a made sound for."""
    disabled = {id(clip) for clip, _ in _disabled_clips(timeline)}
    for item, element in written:
        if id(item) in disabled:
            element.set("enabled", "0")


def _take_urls(timeline: otio.schema.Timeline) -> set[str]:
    """The URL of every take on v2a's tracks, as the adapters write it."""
    return {
        reference.target_url
        for stem in _stems(timeline)
        for track in find_v2a_tracks(timeline, stem)
        for clip in track.find_clips()
        for reference in clip.media_references().values()
        if isinstance(reference, otio.schema.ExternalReference)
    }


def _list_rate(timeline: otio.schema.Timeline) -> float:
    """The rate the CMX 3600 adapter writes a list at: its (first) video track's."""
    return timeline.video_tracks()[0].duration().rate


#: Where `_replace` keeps an earlier run's bundle folder while the new one is renamed in; a stop
#: between the two renames leaves it there, and the server's restart puts it back
#: (plugin_server.paths.remove_temp_files).
OLD_BUNDLE = ".old"


def _replace(written: str, path: str, staging: str) -> None:
    """Move `written` to `path`. A rename cannot replace a folder (an .otiod bundle from an
    earlier run): that one is first moved into the staging folder, and back if the move fails.
    Only a bundle replaces a folder; any other folder in the way is an error, never removed."""
    if not (os.path.isdir(written) and os.path.isdir(path) and not os.path.islink(path)):
        os.replace(written, path)
        return
    old = os.path.join(staging, OLD_BUNDLE)
    os.replace(path, old)
    try:
        os.replace(written, path)
    except BaseException:
        os.replace(old, path)
        raise


# --- conforming v2a's track to a frame-based format ----------------------------------------------


def _for_format(timeline: otio.schema.Timeline, format: str) -> otio.schema.Timeline:
    """A copy whose v2a tracks count in whole frames at the edit rate, as FCP XML and AAF need."""
    if format in ("otio_json", "otioz", "otiod"):
        return timeline
    result = copy.deepcopy(timeline)
    rate = edit_rate(result)
    for clip in result.find_clips():
        if clip.source_range is None and clip.media_reference.available_range is not None:
            # OTIO reads a clip without a source range as its whole media (`simple_cut.otio`);
            # every other format's writer takes the range as given and failed ("'NoneType'
            # object has no attribute 'start_time'"), so the result fell back to .otio.
            clip.source_range = clip.trimmed_range()
    for track in result.tracks:
        if V2A_KEY in track.metadata:
            if format == "fcp_xml":
                # FCP7 XML tracks have no name element: Premiere names one by this attribute,
                # which the adapter writes from and reads into this metadata. It is how v2a
                # knows its track again (`takes.track_stem`), not by the takes it holds.
                track.metadata.setdefault("fcp_xml", {})[PREMIERE_TRACK_NAME] = track.name
            if format == "kdenlive":
                kdenlive.note_takes(track)  # in samples, before they count in frames
            _conform_track(track, rate, format)
            if format == "kdenlive":
                kdenlive.count_takes_from_file_start(track)
        elif format == "AAF":
            _rescale_clip_ranges(track, rate)
        elif format == "kdenlive":
            # MLT counts every in and out point in the project's frames, and the adapter writes
            # a clip's range in its own rate's: Premiere's 15 fps clip in a 30 fps sequence
            # (premiere_example) came back a frame short. Same times, at the edit rate.
            for clip in track.find_clips():
                if clip.source_range is not None and clip.source_range.duration.rate != rate:
                    clip.source_range = _rescaled(clip.source_range, rate)
    if format == "fcp_xml":
        _nested_as_writers_take_them(result)
        _each_clip_its_own(result)
        _missing_media_as_files(result)
    if format == "AAF":
        # The writer lays a nested stack's clips whole, past its trim: every clip after it
        # moved (nested_example: by 6 frames, then 7).
        _flatten_nested(result)
        _generators_as_gaps(result)
        _disabled_as_gaps(result)
        _disabled_v2a_clips_as_gaps(result)
    elif format == "fcp_xml":
        _disabled_as_fcp7(result)
        fcp7_document.note_switches(result)
    return result


def _track_label(timeline: otio.schema.Timeline, track: otio.schema.Track) -> str:
    """"V2", "A1": a track as editors number them, each kind from 1."""
    kind = [t for t in timeline.tracks if t.kind == track.kind]
    letter = "V" if track.kind == otio.schema.TrackKind.Video else "A"
    return f"{letter}{next(i for i, t in enumerate(kind, start=1) if t is track)}"


def _nested_items(timeline: otio.schema.Timeline) -> list[str]:
    """Each nested sequence, compound clip or nested track directly on a track, as
    "'NAME' (V1)"."""
    return [
        f"{item.name!r} ({_track_label(timeline, track)})"
        for track in timeline.tracks
        if V2A_KEY not in track.metadata
        for item in track
        if isinstance(item, otio.core.Composition)
    ]


def _nested_as_writers_take_them(timeline: otio.schema.Timeline) -> None:
    """Nested items as the FCP7 XML and FCPXML writers take them: a nested stack (a
    sequence, a compound clip) of tracks. A track nested directly in a track (OTIO's
    nested_example) is put in its place as the items it shows, and a clip directly in a stack
    gets a track of its own: the writers iterate a stack's children as tracks ("'Clip' object is
    not iterable", "'Clip' object has no attribute 'kind'") and wrote nothing."""
    for track in timeline.tracks:
        for stack in track.find_children(descended_from_type=otio.schema.Stack):
            for index, child in enumerate(list(stack)):
                if not isinstance(child, otio.schema.Track):
                    stack[index] = otio.schema.Track(children=[child.deepcopy()], kind=track.kind)
    for track in timeline.tracks.find_children(descended_from_type=otio.schema.Track):
        _shown_in_place(track, otio.schema.Track)


def _shown_in_place(track: otio.schema.Track, kind: type) -> None:
    """Put in the place of each item of `kind` on `track` the items it shows (`_shown_items`),
    not past them: a nested item among those is put in place in turn."""
    index = 0
    while index < len(track):
        if isinstance(track[index], kind):
            track[index:index + 1] = _shown_items(track[index])
        else:
            index += 1


def _shown_items(item: otio.core.Composition) -> list[otio.core.Composable]:
    """What a nested track or stack shows over its range, as items of one track in its place
    (a stack's top clip wins, as `otio.algorithms.flatten_stack` composites it); a gap where it
    cannot be cut (through a transition)."""
    kind = item.parent().kind
    try:
        shown = item if isinstance(item, otio.schema.Track) else _shown(item, kind)
        shown = otio.algorithms.track_trimmed_to_range(shown, item.trimmed_range())
        children = [child.deepcopy() for child in shown]
    except otio.exceptions.OTIOError:
        children = []
    rest = item.duration()  # (a trimmed track keeps its range: not its length)
    for child in children:
        if not isinstance(child, otio.schema.Transition):
            rest -= child.duration()
    if rest.value > 0:  # a stack longer than what it holds shows nothing there
        children.append(otio.schema.Gap(source_range=TR(RT(0, rest.rate), rest)))
    return children


def _flatten_nested(timeline: otio.schema.Timeline) -> None:
    """Put in each nested item's place on its track the items it shows over its range: a nested
    track's own, a stack's as `otio.algorithms.flatten_stack` composites them (its top clip
    wins). The Kdenlive adapter writes clips and gaps only: it skipped a nested sequence, and
    every clip after it on the track moved up by its length, away from v2a's sound (fcpx_example:
    8 of its 20 video clips written). One it cannot cut (through a transition) becomes a gap."""
    for track in timeline.tracks:
        _shown_in_place(track, otio.core.Composition)


def _disabled_clips(timeline: otio.schema.Timeline) -> list[tuple[otio.schema.Clip, str]]:
    """The editor's video clips that are switched off, or on a track that is, each with its
    label "'NAME' (Vn)"."""
    found = []
    for track in timeline.video_tracks():
        if V2A_KEY in track.metadata:
            continue
        for clip in track.find_clips():
            if not (is_enabled(clip) and is_enabled(track)):
                found.append((clip, f"{clip.name!r} ({_track_label(timeline, track)})"))
    return found


def _disabled_v2a_clips(timeline: otio.schema.Timeline) -> list[otio.schema.Clip]:
    """v2a's clips switched off (with their shot, or by the editor): written so, not shown."""
    return [clip for track in timeline.tracks if V2A_KEY in track.metadata
            for clip in track.find_clips() if not clip.enabled]


def _as_gap(item: otio.core.Composable) -> None:
    """Put a gap of `item`'s length in its place on its parent."""
    parent = item.parent()
    gap = otio.schema.Gap(source_range=TR(RT(0, item.duration().rate), item.duration()))
    parent[parent.index(item)] = gap


def _disabled_as_gaps(timeline: otio.schema.Timeline) -> None:
    """The AAF and CMX 3600 writers cannot mark a clip disabled: they wrote each as a
    clip to show, over the picture v2a made sound for (and a re-run on the file made sound for
    it). Left out instead, as the editor sees it: a gap; the note names them."""
    for clip, _ in _disabled_clips(timeline):
        _as_gap_without_transitions(clip)


def _disabled_v2a_clips_as_gaps(timeline: otio.schema.Timeline) -> None:
    """v2a's disabled clips (a disabled shot's sound) in a format that cannot mark them: a gap,
    as the shot above is, so the file does not play them; the .otio beside keeps them."""
    for clip in _disabled_v2a_clips(timeline):
        _as_gap_without_transitions(clip)


def _as_gap_without_transitions(clip: otio.schema.Clip) -> None:
    """A gap in the clip's place, and no transition beside it: a dissolve into a gap made the
    CMX 3600 writer fail ("value cannot be negative here"; the sample's dissolve into a disabled
    shot), and a crossfade has nothing to fade with there (the neighbour ends at the cut)."""
    track = clip.parent()
    index = track.index(clip)
    for side in (index + 1, index - 1):  # the later first: the index stays the clip's
        if 0 <= side < len(track) and isinstance(track[side], otio.schema.Transition):
            del track[side]
    _as_gap(clip)


def _each_clip_its_own(timeline: otio.schema.Timeline) -> None:
    """Make each of the editor's clips unlike every other to the FCP7 XML writer, which writes a
    clip equal to one it wrote before (same name, media and range: a compound clip's contents,
    used three times in fcpx_example) as an empty `<clipitem id=.../>` naming the first. Its
    reader, as an NLE would, cannot place such a reference (it has no `<start>`: the file could
    not be read back at all), and the first one's place is not this one's. The key is outside
    the `fcp_xml` metadata, which the writer writes into the file."""
    for number, clip in enumerate(timeline.find_clips()):
        clip.metadata["v2a_fcp7_clip"] = number


def _disabled_as_fcp7(timeline: otio.schema.Timeline) -> None:
    """The FCP7 XML writer writes a clip item's `fcp_xml` metadata as its elements, and nothing
    of OTIO's `enabled`: a disabled clip from OTIO (Resolve's) came back shown."""
    for clip in [clip for clip, _ in _disabled_clips(timeline)] + _disabled_v2a_clips(timeline):
        meta = dict(clip.metadata.get("fcp_xml") or {})
        meta["enabled"] = "FALSE"
        clip.metadata["fcp_xml"] = meta


def _hidden_inside(timeline: otio.schema.Timeline) -> list[str]:
    """The clips of the nested items on `timeline`'s video tracks that their flattening leaves
    out, hidden beneath others inside them: "'CLIP' (in 'NEST', V1)"."""
    hidden = []
    for track in timeline.video_tracks():
        for item in track:
            if not isinstance(item, otio.core.Composition):
                continue  # (v2a's tracks hold clips and crossfades alone)
            shown = Counter(
                clip.name for child in _shown_items(item)
                for clip in (child.find_clips() if isinstance(child, otio.core.Composition)
                             else [child] if isinstance(child, otio.schema.Clip) else []))
            for clip in item.find_clips():
                if getattr(clip.parent(), "kind", track.kind) != track.kind:
                    continue  # a compound clip's sound, under its picture
                if shown[clip.name]:
                    shown[clip.name] -= 1
                else:
                    where = _track_label(timeline, track)
                    hidden.append(f"{clip.name!r} (in {item.name!r}, {where})")
    return hidden


def _nested_note(timeline: otio.schema.Timeline, label: str) -> str:
    nested = _nested_items(timeline)
    if not nested:
        return ""
    note = (f"the {label} cannot write nested sequences or compound clips where they are, so "
            "each is written as the clips it shows, in its place, without its own effects and "
            f"speed (an audio one: its top track): {', '.join(nested)}")
    hidden = _hidden_inside(timeline)
    if hidden:
        note += f"; clips hidden inside them are not in it: {', '.join(hidden)}"
    return note


def _disabled_note(timeline: otio.schema.Timeline, label: str) -> str:
    disabled = _disabled_clips(timeline)
    if not disabled:
        return ""
    return (f"the {label} cannot mark a clip disabled, so the editor's disabled clips are left "
            f"out of it (gaps, as they show nothing): {', '.join(name for _, name in disabled)}")


def _item_label(timeline: otio.schema.Timeline, item: otio.core.Composable) -> str:
    """"'NAME' (V1 at 01:00:05:00)" for an item on a track of the timeline, "'NAME' (in 'NEST',
    V1 at …)" for one inside a nested item on it (the nest's timecode): the timecode tells
    apart the many shots of one source that share its name (a note named one 19 times)."""
    track, shown = item.parent(), item
    while track.parent() is not timeline.tracks:
        shown, track = track, track.parent()
    rate = timing.exact_rate(edit_rate(timeline))
    at = timeline_start(timeline) + timing.seconds(track.range_of_child(shown).start_time)
    where = f"{_track_label(timeline, track)} at {timing.format_timecode(at, rate)}"
    if shown is item:
        return f"{item.name!r} ({where})"
    return f"{item.name!r} (in {shown.name!r}, {where})"


def _plain_speed(item: otio.core.Composable) -> bool:
    """Whether `item`'s time effects are constant speeds alone, as a Kdenlive timewarp plays."""
    return all(isinstance(effect, otio.schema.LinearTimeWarp)
               and not isinstance(effect, otio.schema.FreezeFrame)
               for effect in item.effects if isinstance(effect, otio.schema.TimeEffect))


def _retimed(
    timeline: otio.schema.Timeline, clips_only: bool = False,
    writable: Callable[[otio.core.Composable], bool] = lambda item: False,
) -> list[otio.core.Composable]:
    """The editor's video items (nested ones too; `clips_only`: clips alone) with a time effect
    (a speed change, a freeze frame) that the format cannot write (not `writable`)."""
    return [
        item
        for track in timeline.video_tracks()
        if V2A_KEY not in track.metadata
        for item in track.find_children()
        if isinstance(item, otio.schema.Clip if clips_only else otio.core.Composable)
        and not isinstance(item, otio.schema.Transition)
        and _changes_time(item)
        and not writable(item)
    ]


def _changes_time(item: otio.core.Composable) -> bool:
    """Whether `item` plays its media at another speed than normal (a freeze frame too): a time
    effect of another kind than a LinearTimeWarp, or warps that do not make 1x."""
    effects = [effect for effect in item.effects if isinstance(effect, otio.schema.TimeEffect)]
    return bool(effects) and (
        time_scalar(item) != 1
        or not all(isinstance(effect, otio.schema.LinearTimeWarp) for effect in effects))


def _retimed_note(
    timeline: otio.schema.Timeline, items: list, label: str, written: str,
    what: str = "speed changes or freeze frames",
) -> str:
    """The items the format plays at normal speed, named, as the editor finds them: frames
    other than v2a made their sound for, and a run on the file makes sound for those."""
    if not items:
        return ""
    return (f"the {label} writes no {what}, so these play at normal speed in the {written}, "
            "other frames than v2a made their sound for: "
            f"{', '.join(_item_label(timeline, item) for item in items)}")


def _without_media(timeline: otio.schema.Timeline) -> list[otio.schema.Clip]:
    """The editor's video clips that name no media file (an EDL's events, an offline clip)."""
    return [
        clip
        for track in timeline.video_tracks()
        if V2A_KEY not in track.metadata
        for clip in track.find_clips()
        if isinstance(clip.media_reference, otio.schema.MissingReference)
    ]


def _missing_media_named(timeline: otio.schema.Timeline) -> None:
    """Give each clip without media a reference to a file named after the clip, the name v2a
    finds its media by (`--relink`) and an editor relinks it by. The Kdenlive adapter wrote such
    a clip as a nameless "Unsupported clip type" placeholder from its first frame: a re-run on
    the project found no clip to make sound for (every event of a converted EDL), and the
    editor's name and source range were gone."""
    for clip in _without_media(timeline):
        clip.media_reference = otio.schema.ExternalReference(target_url=clip.name)


def _missing_media_as_files(timeline: otio.schema.Timeline) -> None:
    """Give each of the editor's clips without media (an EDL's events) a reference to a file
    named after the clip, as `_missing_media_named` does, declared over the source frames
    every clip of that name plays. The FCP7 XML writer wrote one nameless `<file>` at timecode
    00:00:00:00 for the first such clip and made every later one play it (dissolve_test.edl:
    clip_B's events played clip_A's file): an NLE relinks them all to one file, looking for
    their frames an hour before its start, and a re-run on the XML found each clip's media by
    its name but none of its frames in the file's range. The writer keeps one `<file>` per
    name, so each name's declares the frames of all its clips."""
    clips = [
        clip
        for track in timeline.tracks
        if V2A_KEY not in track.metadata
        for clip in track.find_clips()
        if isinstance(clip.media_reference, otio.schema.MissingReference)
        and clip.name and clip.source_range is not None
    ]
    spans: dict[str, otio.opentime.TimeRange] = {}
    for clip in clips:
        used = clip.source_range
        # A time warp's range counts record time: its media runs |speed| times as long.
        played = RT(used.duration.value * max(1.0, abs(float(time_scalar(clip)))), used.duration.rate)
        span = TR(used.start_time, played)
        if clip.name in spans:
            span = spans[clip.name].extended_by(span)
        spans[clip.name] = span
    for clip in clips:
        clip.media_reference = otio.schema.ExternalReference(
            target_url=clip.name, available_range=spans[clip.name])


def _shown(stack: otio.schema.Stack, kind: str) -> otio.schema.Track:
    """What a nested stack on a track of `kind` shows, as one track: its tracks of that kind
    composited (a compound clip from FCPXML holds its audio tracks too), a clip directly in it
    as a track of its own."""
    layers = otio.schema.Stack()
    for child in stack:
        if isinstance(child, otio.schema.Track):
            if child.kind == kind:
                layers.append(child.deepcopy())
        elif not isinstance(child, otio.schema.Transition):
            layers.append(otio.schema.Track(children=[child.deepcopy()], kind=kind))
    if not len(layers):
        return otio.schema.Track(kind=kind)
    return otio.algorithms.flatten_stack(layers)


def _generator_clips(timeline: otio.schema.Timeline) -> list[str]:
    """The editor's title and generator clips on video tracks, each as "'NAME' (Vn)"."""
    found = []
    for number, track in enumerate(timeline.video_tracks(), start=1):
        for clip in track.find_clips():
            if isinstance(clip.media_reference, otio.schema.GeneratorReference):
                found.append(f"{clip.name!r} (V{number})")
    return found


def _generators_as_gaps(timeline: otio.schema.Timeline) -> None:
    """Replace each generator clip on a video track of `timeline` with a gap of its length: the
    FCPXML adapter fails on one ("'GeneratorReference' object has no attribute 'target_url'")
    and the AAF adapter on any but a slug. v2a plans none of them (they draw over the picture,
    without sound); the note names them (`_generator_clips`)."""
    for track in timeline.video_tracks():
        for clip in track.find_clips():
            if isinstance(clip.media_reference, otio.schema.GeneratorReference):
                _as_gap(clip)


def _edl_picture(timeline: otio.schema.Timeline) -> tuple[otio.schema.Timeline, list[str]]:
    """What a CMX 3600 list can hold of `timeline`'s picture, as a copy to give the writer, and
    the editor's clips it leaves out, hidden beneath others ("'NAME' (Vn)"): one video track
    (the writer refused more: "Only a single video track is supported", and only the .otio was
    written), the tracks' picture as it shows (the top clip wins, a title shows what is
    beneath, as v2a plans it); nested items as the clips they show (the writer skipped them);
    no disabled clips (an event always shows); reels without spaces."""
    result = _picture_only(timeline)
    _flatten_nested(result)
    _disabled_as_gaps(result)
    hidden: list[str] = []
    videos = result.video_tracks()
    if len(videos) > 1 and len([track for track in videos if track.find_clips()]) > 1:
        if any(track.find_children(descended_from_type=otio.schema.Transition)
               for track in videos):
            # `flatten_stack` lays clips beside a transition wrongly (other shots, other
            # frames); an editor's list with the wrong picture is worse than none.
            raise TimelineWriteError(
                f"a CMX 3600 EDL holds one video track, and this timeline's {len(videos)} have "
                "transitions, which v2a cannot lay into one track; export the EDL of the "
                "picture from the editing application, or write another format")
        _generators_as_gaps(result)
        placed = [(clip.name, f"{clip.name!r} (V{number})")
                  for number, track in enumerate(videos, start=1) for clip in track.find_clips()]
        shown = otio.algorithms.flatten_stack(videos)
        shown.name = videos[0].name
        for track in videos:
            result.tracks.remove(track)
        result.tracks.insert(0, shown)
        left = Counter(clip.name for clip in shown.find_clips())
        for name, label in placed:
            if left[name]:
                left[name] -= 1
            else:
                hidden.append(label)
    elif len(videos) > 1:  # one track of clips, the others empty (Resolve's export has 8)
        for track in videos:
            if track is not next((t for t in videos if t.find_clips()), videos[0]):
                result.tracks.remove(track)
    _reels_without_spaces(result)
    _dissolves_into_speed_changes(result)
    return result, hidden


def _dissolves_into_speed_changes(timeline: otio.schema.Timeline) -> None:
    """Start each speed-changed clip a dissolve brings in where the writer will count it from.
    CMX 3600 starts the incoming event where the dissolve starts, its source there the frame
    shown then; the writer takes the dissolve's lead-in (`in_offset`) off the clip's source in
    at normal speed, so a clip at 2x came in 10 frames early for a lead-in of 10 frames, not
    20 (and its speed line, its source out and v2a's reading of it followed). The copy it gets
    starts lead-in x (speed - 1) frames earlier, which its subtraction makes lead-in x speed."""
    for track in timeline.video_tracks():
        items = list(track)
        for transition, incoming in zip(items, items[1:], strict=False):
            if not (isinstance(transition, otio.schema.Transition)
                    and isinstance(incoming, otio.schema.Clip)):
                continue
            speed = time_scalar(incoming)
            if speed <= 0 or speed == 1 or not transition.in_offset.value:
                continue  # a freeze or a reversed clip keeps its frames; so does a cut
            used = incoming.source_range
            earlier = otio.opentime.RationalTime(
                transition.in_offset.value * float(speed - 1), transition.in_offset.rate)
            incoming.source_range = otio.opentime.TimeRange(used.start_time - earlier,
                                                            used.duration)


def _tracks_note(timeline: otio.schema.Timeline) -> str:
    videos = [track for track in timeline.video_tracks() if V2A_KEY not in track.metadata]
    if len([track for track in videos if track.find_clips()]) < 2:
        return ""
    try:
        _, hidden = _edl_picture(timeline)
    except TimelineWriteError:
        return ""  # the write fails, and its note says why
    note = (f"the CMX 3600 EDL holds one video track: the editor's {len(videos)} are written as "
            "the picture they show (the top clip wins, a title shows what is beneath)")
    if hidden:
        note += f"; clips hidden beneath others are not in it: {', '.join(hidden)}"
    return note


def _picture_only(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """A copy of `timeline` with its video tracks alone: the CMX 3600 writer writes the first
    track, whatever its kind, and refuses more than two audio tracks (an editor's A and A2
    plus v2a's got no EDL at all)."""
    result = timeline.deepcopy()
    for track in result.audio_tracks():
        result.tracks.remove(track)
    return result


def _reels_without_spaces(timeline: otio.schema.Timeline) -> None:
    """Give each clip whose reel the CMX 3600 writer would make from a name with a space in it
    ("UNC Path", an AAF's media; "Normal C" of "Normal Clip 1") that reel with underscores.
    A reel is a field of the event line: "001  UNC Path V     C ..." reads as reel "UNC" on
    channel "Path", and the reader, as an NLE, refused the list v2a wrote."""
    writer = otio.adapters.from_name("cmx_3600").module()
    for clip in timeline.find_clips():
        if clip.metadata.get("cmx_3600", {}).get("reel"):
            continue  # the reel the list was read with
        reel = writer._reel_from_clip(clip, 8).strip()
        if " " in reel:
            meta = dict(clip.metadata.get("cmx_3600") or {})
            meta["reel"] = reel.replace(" ", "_")
            clip.metadata["cmx_3600"] = meta


def _without_v2a_tracks(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """A copy of `timeline` with the editor's tracks alone."""
    result = timeline.deepcopy()
    for track in marked_v2a_tracks(result):
        result.tracks.remove(track)
    return result


def _v2a_tracks_only(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """A copy of `timeline` with v2a's tracks alone (in the same time: they start with it)."""
    result = timeline.deepcopy()
    ours = marked_v2a_tracks(result)
    result.tracks.clear()
    result.tracks.extend(ours)
    return result


def _rescale_clip_ranges(track: otio.schema.Track, rate: float) -> None:
    """The AAF writer validates every range at the edit rate; editors' exports (Premiere's
    2997fps-DFTC.aaf) keep media ranges at the media's own rate. Same times, counted in frames.
    Dissolves from other formats get the AAF description the writer needs."""
    for transition in track.find_children(descended_from_type=otio.schema.Transition):
        if "AAF" not in transition.metadata and track.kind in _AAF_DISSOLVES:
            cut_point = round(transition.in_offset.rescaled_to(rate).value)
            transition.metadata["AAF"] = _aaf_dissolve(cut_point, track.kind)
    for clip in track.find_clips():
        if clip.source_range is not None and clip.source_range.duration.rate != rate:
            clip.source_range = _rescaled(clip.source_range, rate)
        reference = clip.media_reference
        if reference.available_range is None and clip.source_range is not None:
            # The writer sizes each clip's source mob by its media's range and failed on a clip
            # without one (an EDL's events, offline clips: "available_range.duration.rate does
            # not exist"), so no AAF at all; the media is known to hold what the clip plays.
            reference.available_range = clip.source_range
        aaf_meta = reference.metadata.get("AAF")
        if (
            aaf_meta
            and aaf_meta.get("EssenceDescription", {}).get("ClassName") == "MultipleDescriptor"
        ):
            # The writer can only build single-essence descriptors; it falls back to its default.
            del aaf_meta["EssenceDescription"]
        if (
            reference.available_range is not None
            and reference.available_range.duration.rate != rate
        ):
            reference.available_range = _rescaled(reference.available_range, rate)


def _rescaled(time_range: otio.opentime.TimeRange, rate: float) -> otio.opentime.TimeRange:
    start = time_range.start_time.rescaled_to(rate).value
    end = time_range.end_time_exclusive().rescaled_to(rate).value
    return TR(RT(round(start), rate), RT(round(end) - round(start), rate))


def _frames(samples: int, rate: float) -> int:
    return timing.to_frames(Fraction(samples, SAMPLE_RATE), timing.exact_rate(rate))


def _laid_crossfades(track: otio.schema.Track) -> dict[int, tuple[int, int]]:
    """Index of a clip among the track's clips -> (in, out) samples of the crossfade into it."""
    fades, clips, pending = {}, 0, None
    for item in track:
        if isinstance(item, otio.schema.Transition):
            pending = (to_samples(item.in_offset), to_samples(item.out_offset))
        elif isinstance(item, otio.schema.Clip):
            if pending:
                fades[clips] = pending
            clips += 1
            pending = None
        else:
            pending = None
    return fades


def _fcp7_crossfade(in_offset: int, out_offset: int) -> tuple[int, int]:
    """The longest crossfade inside (in_offset, out_offset) that FCP7 XML can place.

    An FCP7 transition places its cut by its alignment alone: at its start, at its end, or at
    its centre (the clips beside it say "-1", the cut). A crossfade of 1 frame before the cut and
    5 after (a 1-frame clip at 60 fps meeting 5-frame handles) was written centred, and read
    back, by the adapter and by an NLE, with the cut 2 frames late: the v2a clips off their
    pictures. So it is either centred (equal sides) or wholly on one side of the cut."""
    if not in_offset or not out_offset or in_offset == out_offset:
        return in_offset, out_offset
    centred = min(in_offset, out_offset)
    return max(
        ((centred, centred), (0, out_offset), (in_offset, 0)), key=lambda fade: fade[0] + fade[1]
    )


def _conform_track(track: otio.schema.Track, rate: float, format: str) -> None:
    """v2a's track in whole frames at `rate`; its crossfades are those laid out (see `_lay_out`),
    in frames, and in FCP7 XML ones the format can place (`_fcp7_crossfade`)."""
    aaf = format == "AAF"
    placed = _read_placed(track)
    laid = _laid_crossfades(track)
    track.clear()
    cursor = 0
    for index, item in enumerate(placed):
        start, end = _frames(item.start, rate), _frames(item.end, rate)
        before = _frames(item.handle_before, rate)
        if start > cursor:
            track.append(otio.schema.Gap(source_range=TR(RT(0, rate), RT(start - cursor, rate))))
        fade = tuple(_frames(side, rate) for side in laid.get(index, ())) if start == cursor else ()
        if fade and format == "fcp_xml":
            fade = _fcp7_crossfade(*fade)
        if fade:
            # AAF's dissolve names its cut point: where the cut sits, in_offset into it.
            extra = {"AAF": _aaf_dissolve(fade[0])} if aaf else None
            track.append(_crossfade(*fade, rate, extra))
        clip = item.clip
        origin = 0
        for key, ref in clip.media_references().items():
            if ref.available_range is not None:
                available = ref.available_range
                if aaf:
                    essence = _aaf_take_essence(available)
                    ref.metadata.setdefault("AAF", {})["EssenceDescription"] = essence
                first = _frames(to_samples(available.start_time), rate)
                last = _frames(to_samples(available.end_time_exclusive()), rate)
                ref.available_range = TR(RT(first, rate), RT(last - first, rate))
                if key == clip.active_media_reference_key:
                    origin = first
        clip.source_range = TR(RT(origin + before, rate), RT(end - start, rate))
        if aaf:
            aaf_file.name_take_master(clip)
        track.append(clip)
        cursor = end


def _aaf_take_essence(available: otio.opentime.TimeRange) -> dict:
    """What the AAF writer declares of a take file (its PCMDescriptor): the writer assumes
    16-bit PCM (BlockAlign 2, 96000 bytes a second), and an importer that reads the essence by
    it reads v2a's 24-bit files wrong; and its length in samples, which at 29.97 fps the writer
    would round from whole frames."""
    block_align = TAKE_CHANNELS * SAMPLE_BITS // 8
    return {
        "SampleRate": SAMPLE_RATE,
        "AudioSamplingRate": SAMPLE_RATE,
        "Channels": TAKE_CHANNELS,
        "QuantizationBits": SAMPLE_BITS,
        "BlockAlign": block_align,
        "AverageBPS": SAMPLE_RATE * block_align,
        "Length": to_samples(available.duration),
    }


# AAF's standard effect ids (AAF SDK: kAAFEffectVideoDissolve, kAAFEffectMonoAudioDissolve).
_AAF_DISSOLVES = {
    otio.schema.TrackKind.Video: (
        "Video Dissolve",
        "0c3bea40-fc05-11d2-8a29-0050040ef7d2",
        "Picture",
    ),
    otio.schema.TrackKind.Audio: (
        "Audio Dissolve",
        "0c3bea41-fc05-11d2-8a29-0050040ef7d2",
        "Sound",
    ),
}


def _aaf_dissolve(cut_point: int, kind: str = otio.schema.TrackKind.Audio) -> dict:
    """What the AAF writer needs to emit a dissolve (values as Media Composer writes them)."""
    name, identification, data = _AAF_DISSOLVES[kind]
    return {
        "CutPoint": cut_point,
        "PointList": [{"Time": 0.0, "Value": 0.0}, {"Time": 1.0, "Value": 1.0}],
        "OperationGroup": {
            "Operation": {
                "Name": name,
                "Description": "",
                "Identification": identification,
                "IsTimeWarp": False,
                "Bypass": 1,
                "NumberInputs": 2,
                "OperationCategory": "OperationCategory_Effect",
                "DataDefinition": {"Name": data},
            }
        },
    }
