"""Following the edit: where v2a's sound goes when the editor changed the cut since it was made.

Every run, each v2a clip not regenerated is checked against the edit as it is now
(`follow_the_edit`), so that its sound plays under the picture it was made for or not at all:

- on its shot's record range (found by range, or by its id), it stays where it is;
- its shot trimmed or extended, it is cut to what its active take covers of the new range, with
  crossfades no longer than the handles the edit now asks for;
- its shot slipped in place (other frames, the same record range) by no more than the active
  take's handles, its sound slips with it; further, it leaves the track;
- its picture moved whole (a ripple, a move: the same shot name, first source frame, speed and
  length, found at exactly one place without sound), it moves with it, every take with it,
  playing the same samples of the same files (this needs the metadata v2a stores in each clip);
- its shot retimed from the same first frame, replaced by another shot, deleted or changed
  otherwise, it leaves the track: its sound would play under other picture or none. Its files
  stay in the audio folder, and take numbers count past them;
- its shot disabled by the editor, it is disabled with it, takes and all, and enabled again
  with it (`V2A_DISABLED_WITH_SHOT`).

`same_shot`, `rebase_takes` and `drop_takes_not_covering` also serve `write.write_audio_tracks`
when it adds a take to a clip already on the track.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction

import opentimelineio as otio

from otio_adapters import timing
from otio_adapters.plan import media_file_name
from otio_adapters.takes import (
    V2A_DISABLED_WITH_SHOT,
    V2A_KEY,
    file_stem,
    mark_switched_off_with_shot,
    switched_off_with_shot,
    to_samples,
    v2a_shot_name,
)
from v2a.contracts import SAMPLE_RATE, Segment

log = logging.getLogger(__name__)

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


@dataclass
class Placed:
    """A v2a clip and where it sits on the track, in samples."""

    start: int
    length: int
    handle_before: int
    handle_after: int
    clip: otio.schema.Clip
    stem: str  # file stem of its clip id

    @property
    def end(self) -> int:
        return self.start + self.length


def follow_the_edit(
    placed: list[Placed], visible: list[Segment], disabled: list[Segment] = ()
) -> list[Placed]:
    """The v2a clips that still have picture above them, each within it.

    A clip on a segment's record range stays where it is (by range, since an adapter that loses
    clip names changes the ids); a clip whose segment (same id) was trimmed or extended is cut to
    what its active take covers of the new range; a clip whose picture moved whole (a ripple or
    a move: the same shot, the same frames, elsewhere) moves with it, takes and all; a clip
    whose picture was deleted or changed otherwise leaves the track: its sound would play under
    other picture or none. Its files stay in the audio folder, and take numbers count past them.
    `disabled`: what the shots the editor disabled would show (`TimelinePlanner.disabled`): a
    clip found under one of those the same way is kept there, disabled, and enabled again once
    its shot is (`V2A_DISABLED_WITH_SHOT`).
    """
    find_shown, find_off = _segment_finder(visible), _segment_finder(disabled)
    kept, lost, matched = [], [], set()
    for item in placed:
        fitted, why = _fit(item, find_shown(item))
        if fitted is not None:
            matched.add(fitted[1].clip_id)
            kept.append(_switched_on_with_shot(fitted[0]))
            continue
        off, _ = _fit(item, find_off(item))
        if off is None:
            lost.append((item, why))
            continue
        # The editor switched the shot off (to try the cut without it): its sound is switched
        # off with it, takes and all, and on again with it (it was taken off the track before,
        # said as picture no longer there, and the shot switched on again needed a new take).
        kept.append(_switched_off_with_shot(off[0]))
    by_shot: dict[tuple[str, int], list[Segment]] = {}
    for segment in visible:
        by_shot.setdefault((segment.clip_name, segment.num_samples), []).append(segment)
    for item, why in lost:
        segment = _picture_moved_to(item, by_shot, matched)
        if segment is None:
            log.info("removing v2a clip %r: %s", item.clip.name, why)
            continue
        log.info("v2a clip %r: its picture moved by %+.3f s; its sound moves with it",
                 item.clip.name, (segment.start_sample - item.start) / SAMPLE_RATE)
        matched.add(segment.clip_id)
        # Moved, it plays the same samples of the same files: its takes keep the range their
        # files' own timecode gives them, which a list or an NLE linking them by timecode uses.
        before = min(item.handle_before, segment.handle_before_samples)
        after = min(item.handle_after, segment.handle_after_samples)
        kept.append(_switched_on_with_shot(
            Placed(segment.start_sample, item.length, before, after, item.clip, item.stem)))
    return kept


def _segment_finder(segments) -> Callable[[Placed], Segment | None]:
    """The segment a v2a clip lies under: on its record range (by range, since an adapter that
    loses clip names changes the ids), else of its id."""
    by_range = {(segment.start_sample, segment.num_samples): segment for segment in segments}
    by_stem = {file_stem(segment.clip_id): segment for segment in segments}
    return lambda item: by_range.get((item.start, item.length)) or by_stem.get(item.stem or None)


def _fit(item: Placed, segment: Segment | None) -> tuple[tuple[Placed, Segment] | None, str]:
    """`item` recut to `segment`'s picture, with that segment, where its sound still fits
    it; else None and why not."""
    why = "its picture is no longer there"
    changed = _speed_changed(item.clip, segment) if segment is not None else ""
    if changed:
        # A retime from the same first frame: every frame after it is another moment than
        # the sound was made for (kept before, since no frame slipped at the clip's start).
        why, segment = f"its shot's speed changed ({changed})", None
    elif segment is not None and not _follow_a_slip(item, segment):
        # Another shot, or a slip past the take's handles; or the shot moved further than
        # them (a ripple), which `_picture_moved_to` finds.
        why = ("the frames there are not the ones its takes were made for (another shot, or "
               "a slip past its takes' handles)")
        segment = None
    start = end = 0
    if segment is not None:
        before, after = handles(item.clip)  # a slip moved the clip's range in its takes
        item = replace(item, handle_before=before, handle_after=after)
        start = max(segment.start_sample, item.start - item.handle_before)
        end = min(segment.start_sample + segment.num_samples, item.end + item.handle_after)
    if end <= start:
        return None, why
    return (_recut(item, start, end - start, segment), segment), why


def _switched_off_with_shot(item: Placed) -> Placed:
    clip = item.clip
    if clip.enabled:
        log.info("v2a clip %r: its shot is disabled; its sound is disabled with it", clip.name)
        clip.enabled = False
        mark_switched_off_with_shot(clip)  # a v2a clip off without it the editor switched off
    # Silent, it crossfades with nothing: its neighbours' sound ends at its cuts, as at a gap
    # (the planner gives them no handle towards a disabled shot either).
    return replace(item, handle_before=0, handle_after=0)


def _switched_on_with_shot(item: Placed) -> Placed:
    clip = item.clip
    if switched_off_with_shot(clip):
        log.info("v2a clip %r: its shot is enabled again; so is its sound", clip.name)
        clip.enabled = True
        meta = clip.metadata.get(V2A_KEY, {})
        clip.metadata[V2A_KEY] = {k: v for k, v in meta.items() if k != V2A_DISABLED_WITH_SHOT}
    return item


def _follow_a_slip(item: Placed, segment: Segment) -> bool:
    """Whether a clip's sound still fits the frames its shot shows: not under another shot (by
    name, where the clip kept its metadata); yes where the frames are the ones it was made for,
    counted from where each starts (a clip keeping its id, stored in the editor's clip, may have
    moved or lost its head), or where the editor slipped the shot (other frames, the same place)
    by no more than the active take's handles, whose sound is then slipped with it (the clip's
    range in its takes moves by the slip, in record time). Takes no longer covering the range
    are taken off. Clips made before the fifteenth session store no source frame: they are
    taken as they are."""
    clip = item.clip
    meta = clip.metadata.get(V2A_KEY, {})
    if "source_clip" in meta and not same_shot(clip, segment):
        return False  # a shot put in its place (a replace edit, a swap): not its sound
    if v2a_shot_name(clip) not in (None, segment.clip_name):
        # The same where the format dropped the metadata (FCPXML, AAF, FCP7 XML): v2a named the
        # clip for its shot ("V2A wake up"), a name those formats keep. A replace edit left the
        # old shot's sound under the new one before.
        return False
    if "source_start" not in meta:
        return True
    speed = float(meta.get("speed", 1.0))
    # The source frame the sound at the clip's start was made for is `source_start`; the one
    # the picture shows there now:
    shown = Fraction(segment.source_start) + Fraction(item.start - segment.start_sample,
                                                      SAMPLE_RATE) * Fraction(segment.speed)
    slip = shown - Fraction(float(meta["source_start"]))
    if abs(slip) < Fraction(1, 10_000):
        return True
    if speed == 0 or speed != segment.speed:
        return False  # a frozen frame changed, or the speed: not a slip
    samples = timing.to_samples(slip / Fraction(speed))
    used = clip.source_range
    first, last = to_samples(used.start_time) + samples, to_samples(used.end_time_exclusive()) + samples
    available = clip.media_reference.available_range
    if available is None or not (
        to_samples(available.start_time) <= first and last <= to_samples(available.end_time_exclusive())
    ):
        return False
    clip.source_range = TR(RT(first, SAMPLE_RATE), used.duration)
    meta["source_start"] = float(shown)
    clip.metadata[V2A_KEY] = meta
    drop_takes_not_covering(clip)
    return True


def _speed_changed(clip: otio.schema.Clip, segment: Segment) -> str:
    """Where the shot under a v2a clip now plays at another speed than the one its takes were
    made for (stored with each clip since the fifteenth session), the two speeds in words."""
    meta = clip.metadata.get(V2A_KEY, {})
    # Within a rounding: a format may store a speed to a few digits (MLT's 0.333333 for 1/3).
    if "speed" not in meta or math.isclose(float(meta["speed"]), segment.speed, rel_tol=1e-4):
        return ""
    if "source_clip" in meta and not same_shot(clip, segment):
        return ""  # another shot in its place: `_follow_a_slip` says so
    made = float(meta["speed"])
    return f"{segment.speed * 100:g} % now, {made * 100:g} % when its takes were made"


def rebase_takes(clip: otio.schema.Clip, start: int) -> None:
    """Count a clip's takes so that its record start falls at `start` of their count, as a take
    made now at its place counts it (`media_origin` and the handle before). A clip has one range
    for all its takes, and each take counts from its file's own timecode (bext), where it was
    made: a clip that moved since then gets a new take that counts otherwise. Counted as the new
    one, the earlier takes stay aligned with it; the new one, active, keeps its file's timecode."""
    if clip.source_range is None:
        return
    shift = RT(start - to_samples(clip.source_range.start_time), SAMPLE_RATE)
    if not shift.value:
        return
    for reference in clip.media_references().values():
        if reference.available_range is not None:
            available = reference.available_range
            reference.available_range = TR(available.start_time + shift, available.duration)
    clip.source_range = TR(clip.source_range.start_time + shift, clip.source_range.duration)


def _picture_moved_to(
    item: Placed, by_shot: dict[tuple[str, int], list[Segment]], matched: set[str]
) -> Segment | None:
    """The one segment, with no v2a clip of its own, that shows what `item` was made for: the
    same clip name, the same first source frame, speed and length (stored with each clip since
    the fifteenth session; older clips, and formats that drop metadata, are not followed).
    `by_shot`: the visible segments by (clip name, length), so that a ripple moving every clip
    of a long edit is not a search of the whole edit per clip."""
    meta = item.clip.metadata.get(V2A_KEY, {})
    if "source_start" not in meta:
        return None
    candidates = [
        segment
        for segment in by_shot.get((str(meta.get("source_clip")), item.length), [])
        if segment.clip_id not in matched and _same_frames(meta, segment)
    ]
    return candidates[0] if len(candidates) == 1 else None


def _recut(item: Placed, start: int, length: int, segment: Segment) -> Placed:
    """`item` moved to [start, start + length) of the track, within its active take's media, its
    crossfades no longer than the segment's handles: a clip cut shorter has more of its file
    past the cut than the handle the edit asks for (a razor leaves it the other half)."""
    clip = item.clip
    if (start, length) != (item.start, item.length):
        source_start = to_samples(clip.source_range.start_time) + start - item.start
        clip.source_range = TR(RT(source_start, SAMPLE_RATE), RT(length, SAMPLE_RATE))
        drop_takes_not_covering(clip)
        meta = clip.metadata.get(V2A_KEY, {})
        if "source_start" in meta:  # still the frame shown at the clip's start
            speed = Fraction(float(meta.get("speed", 1.0)))
            shift = Fraction(start - item.start, SAMPLE_RATE) * speed
            meta["source_start"] = float(Fraction(float(meta["source_start"])) + shift)
            clip.metadata[V2A_KEY] = meta
    before, after = handles(clip)
    before = min(before, segment.handle_before_samples)
    after = min(after, segment.handle_after_samples)
    return Placed(start, length, before, after, clip, item.stem)


def drop_takes_not_covering(clip: otio.schema.Clip) -> None:
    """Take off the clip every take whose file does not cover its source range: made active,
    it would leave the clip longer than its file (a clip that grew since that take). The file
    stays in the audio folder; take numbers count past it (`takes.highest_takes`)."""
    used = clip.source_range
    first, last = to_samples(used.start_time), to_samples(used.end_time_exclusive())
    references = dict(clip.media_references())
    for key, reference in list(references.items()):
        available = reference.available_range
        if available is None or key == clip.active_media_reference_key:
            continue
        covered = to_samples(available.start_time), to_samples(available.end_time_exclusive())
        if covered[0] > first or covered[1] < last:
            log.info("take %s of v2a clip %r no longer covers it: left in %s", key, clip.name,
                     reference.target_url)
            del references[key]
    if len(references) < len(clip.media_references()):
        clip.set_media_references(references, clip.active_media_reference_key)


def same_shot(clip: otio.schema.Clip, segment: Segment) -> bool:
    """Whether a v2a clip was made for the shot `segment` shows: one of the same name, or, where
    the name changed, the same frames of the same file at the same speed. A format may rename
    clips: Kdenlive names each after its bin clip, which is its file, so every shot of the
    sample's movie read back from a .kdenlive is "burrow", the first one's name."""
    if _source_clip_name(clip) == segment.clip_name:
        return True
    meta = clip.metadata.get(V2A_KEY, {})
    if "source_media" not in meta or "source_start" not in meta:
        return False
    return str(meta["source_media"]) == media_file_name(segment) and _same_frames(meta, segment)


def _same_frames(meta, segment: Segment) -> bool:
    """Whether `segment` starts on the source frame, at the speed, a v2a clip's metadata stores
    (`source_start`, `speed`) for the picture it was made for."""
    return (
        abs(float(meta["source_start"]) - segment.source_start) < 1e-4
        and float(meta.get("speed", 1.0)) == segment.speed
    )


def _source_clip_name(clip: otio.schema.Clip) -> str:
    """The name of the video clip a v2a clip was generated for (metadata, else its own name)."""
    name = clip.metadata.get(V2A_KEY, {}).get("source_clip")
    if name is None:
        name = v2a_shot_name(clip)
    return str(clip.name if name is None else name)


def handles(clip: otio.schema.Clip) -> tuple[int, int]:
    try:
        available = clip.available_range()
    except otio.exceptions.OTIOError:
        return 0, 0
    used = clip.trimmed_range()
    before = to_samples(used.start_time) - to_samples(available.start_time)
    after = to_samples(available.end_time_exclusive()) - to_samples(used.end_time_exclusive())
    return max(0, before), max(0, after)
