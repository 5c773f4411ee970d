"""Turn a timeline into Segments: one per video clip range whose picture is seen.

How the picture is decided (the choices, so a reader need not reverse them from the code):
- Video tracks are stacked bottom (index 0, "V1") to top; an enabled clip on an upper track
  hides whatever lies under it. A fully hidden clip yields nothing; a partly hidden one yields
  one Segment per visible part. Gaps and generator clips (titles, slugs, bars: usually drawn
  over the picture) hide nothing and yield nothing. Disabled clips and tracks (OTIO `enabled`,
  or FCP7 XML `<enabled>FALSE</enabled>`, which the fcp adapter only keeps in metadata) are
  ignored. Cover is decided cut to cut; transitions only add handles.
- Nested stacks and tracks are flattened with their trims and time warps; inside a nested stack
  upper tracks hide lower ones the same way.
- Handles: a transition's offsets on each side of it; with a cut handle, also the cuts of the
  picture as seen: between neighbours on a track, between visible parts of different tracks
  (a cutaway), and at a nested stack's edges.
- Time is exact: every boundary is a Fraction of a second (NTSC rates as 30000/1001...) and is
  rounded once, to the next frame start (a frame shows the picture at its start) and then to
  48 kHz samples, so segments are whole frames and adjacent ones tile exactly, even where a time
  warp or a nested trim puts a cut between two frames.
- Source time: `source_start` is the source time (seconds, media timecode space) of the first
  frame shown, `speed` the source seconds per record second (product of LinearTimeWarp scalars,
  0 for a FreezeFrame or a still image, negative for reverse: then `source_start` is the start of
  the last frame of the used range, and the picture runs backwards from it).
- A time warp's clip keeps OTIO's convention: its source_range duration is the record duration,
  and it uses |speed| times as much media.
- Clip ids: `clip.metadata["v2a"]["clip_id"]` when the clip carries one; otherwise the id of the
  v2a clip made for what it shows (`_inherited_ids`: an edit that moves a shot keeps its id);
  otherwise the first 10 hex digits of sha1("{track index}|{record start frame}|{clip name}"),
  so the same edit gives the same ids in every run and every format that keeps names. Each visible part of a clip
  split by cover has its own start, hence its own derived id; a stored id gets "{id}.2",
  "{id}.3"... for the later parts.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction

import opentimelineio as otio

from otio_adapters.media_refs import (
    MediaResolver,
    RelinkIndex,
    ResolvedMedia,
    frames_on_disk,
    media_base_dir,
    media_text,
    missing_frame,
)
from otio_adapters.prompts import MarkedPrompt, prompt_of, shown_markers, timeline_marks
from otio_adapters.takes import (
    V2A_KEY,
    clip_file_stem,
    is_v2a_clip,
    track_stem,
    url_to_path,
    v2a_shot_name,
)
from otio_adapters.timing import exact_rate, format_timecode, seconds, to_frames, to_samples
from v2a.contracts import SAMPLE_RATE, ClipAddress, Segment, Selection
from v2a.media.errors import MediaError
from v2a.media.probe import probe_media
from v2a.params import selection_violations

log = logging.getLogger(__name__)

_TOLERANCE = Fraction(1, 1_000_000)  # one microsecond: float rates in adapters drift by less


#: The default selection: every visible clip of every enabled video track.
EVERY_VISIBLE_CLIP = Selection()


class PlanError(ValueError):
    """The timeline cannot be planned at all (no video, a selection that names nothing...)."""


class ClipNotFoundError(PlanError):
    """A clip address in the selection names no visible clip: the timeline itself is fine."""


# --- time maps ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Map:
    """Affine map from record time t (timeline seconds) to an item's inner time."""

    t0: Fraction
    x0: Fraction
    k: Fraction  # inner seconds per record second

    def at(self, t: Fraction) -> Fraction:
        return self.x0 + self.k * (t - self.t0)

    def then(self, pos: Fraction, start: Fraction, scale: Fraction) -> _Map:
        """Compose with inner' = start + scale * (inner - pos)."""
        return _Map(self.t0, start + scale * (self.x0 - pos), scale * self.k)

    def full_span(
        self, a: Fraction, b: Fraction, window: tuple[Fraction, Fraction]
    ) -> tuple[Fraction, Fraction] | None:
        """The record interval whose inner time falls in [a, b), not yet cut to the window."""
        if self.k == 0:  # frozen: the one inner instant shows for the whole window
            return window if a <= self.x0 < b else None
        lo = self.t0 + (a - self.x0) / self.k
        hi = self.t0 + (b - self.x0) / self.k
        return (lo, hi) if lo < hi else (hi, lo)

    def record_span(
        self, a: Fraction, b: Fraction, window: tuple[Fraction, Fraction]
    ) -> tuple[Fraction, Fraction] | None:
        """The record interval, inside window, whose inner time falls in [a, b)."""
        full = self.full_span(a, b, window)
        if full is None:
            return None
        lo, hi = max(full[0], window[0]), min(full[1], window[1])
        return (lo, hi) if lo < hi else None


@dataclass
class _Piece:
    """A stretch of one clip on the record timeline, before cover is applied."""

    clip: otio.schema.Clip
    top_index: int
    start: Fraction  # record seconds
    end: Fraction
    source: _Map  # record time -> source seconds (continuous: reverse runs from the range end)
    handle_before: Fraction  # record seconds wanted before `start` (a transition), 0 if none
    handle_after: Fraction
    source_frame: Fraction  # one frame of the clip's source, seconds


# --- reading the composition ----------------------------------------------------------------


def is_enabled(item) -> bool:
    """Enabled in OTIO, and not switched off in an FCP7 XML export (kept only in metadata)."""
    if not getattr(item, "enabled", True):
        return False
    fcp = _metadata(item, "fcp_xml")
    if hasattr(fcp, "get") and str(fcp.get("enabled", "")).upper() == "FALSE":
        return False
    return True


def _switched_off(clip: otio.schema.Clip) -> bool:
    """Whether a clip is disabled, or lies in a disabled nested item or track."""
    item = clip
    while item is not None:
        if not is_enabled(item):
            return True
        item = item.parent()
    return False


def _metadata(item, key: str):
    """item.metadata[key] or None. OTIO's dictionaries answer a missing key (and the end of an
    iteration) through a slow exception path, so an empty one is skipped by its length."""
    metadata = getattr(item, "metadata", None)
    if metadata is None or not len(metadata):
        return None
    return metadata.get(key)


def time_scalar(item) -> Fraction:
    """The product of an item's LinearTimeWarp scalars (FreezeFrame is one, with 0)."""
    scale = Fraction(1)
    effects = getattr(item, "effects", None)
    if effects is None or not len(effects):  # see _metadata: iterating an empty list is slow
        return scale
    for effect in effects:
        if isinstance(effect, otio.schema.LinearTimeWarp):
            scale *= Fraction(effect.time_scalar)
    return scale


def _trimmed(item) -> tuple[Fraction, Fraction]:
    """(start, duration) in seconds of the part of an item's content that is used."""
    try:
        rng = item.trimmed_range()
    except Exception as error:  # CannotComputeAvailableRangeError and kin
        raise PlanError(
            f"{type(item).__name__} {item.name!r} has no source range and its media has no "
            f"available range, so its length on the timeline is unknown ({error})"
        ) from None
    start = seconds(rng.start_time)
    if isinstance(item, otio.schema.Track | otio.schema.Stack):
        # Adapters encode a record start timecode as a negative trim of a track (CMX 3600): no
        # content lives before 0 in a composition, so it can only mean "the timeline starts
        # there". A clip's negative source start is kept: it is media that does not exist.
        start = max(start, Fraction(0))
    return start, seconds(rng.duration)


class _Walker:
    """Walks a composition depth first, mapping each clip to record time."""

    def __init__(
        self, cut_handle: Fraction = Fraction(0),
        see_through: Callable[[_Piece], bool] | None = None,
        show_disabled: bool = False,
    ) -> None:
        self.cut_handle = cut_handle  # record seconds wanted past a hard cut between two items
        # Walk disabled items as if the editor switched them on (`TimelinePlanner.disabled`).
        self.show_disabled = show_disabled
        # Partly transparent pieces hide nothing inside a nested stack either (a nested
        # sequence of a shot with the channel's logo over it), as on the timeline's own tracks.
        self.see_through = see_through

    def stack(self, stack, window, inner: _Map, top_index: int):
        """Pieces of a nested stack's video children, upper children hiding lower ones."""
        layers = []
        for child in stack:
            is_track = isinstance(child, otio.schema.Track)
            if is_track and child.kind != otio.schema.TrackKind.Video:
                continue
            if self.show_disabled or is_enabled(child):
                layers.append(self.item(child, Fraction(0), window, inner, top_index))
        return _apply_cover(layers, self.see_through)

    def track(self, track, window, inner: _Map, top_index: int) -> list[_Piece]:
        pieces: list[_Piece] = []
        children = list(track)
        pos = Fraction(0)
        spans = []  # (child, pos, duration) for non-transitions, in order
        for child in children:
            if isinstance(child, otio.schema.Transition):
                spans.append((child, pos, Fraction(0)))
                continue
            _, duration = _trimmed(child)
            spans.append((child, pos, duration))
            pos += duration
        record_per_inner = 1 / abs(inner.k) if inner.k != 0 else Fraction(0)
        for i, (child, start, duration) in enumerate(spans):
            if isinstance(child, otio.schema.Transition):
                continue
            before = _handle(spans, i, -1, "in_offset", self.cut_handle, record_per_inner)
            after = _handle(spans, i, +1, "out_offset", self.cut_handle, record_per_inner)
            if inner.k < 0:  # reversed: what precedes in record time follows in the track
                before, after = after, before
            got = self.item(child, start, window, inner, top_index, duration, before, after)
            pieces.extend(got)
        return pieces

    def item(self, child, pos, window, inner, top_index, duration=None, before=0, after=0):
        """Pieces of one child of a track or stack that starts at inner time `pos`."""
        if isinstance(child, otio.schema.Gap) or not (self.show_disabled or is_enabled(child)):
            return []
        start, trimmed_duration = _trimmed(child)
        duration = trimmed_duration if duration is None else duration
        span = inner.record_span(pos, pos + duration, window)
        if isinstance(child, otio.schema.Clip):
            if span is None or isinstance(child.media_reference, otio.schema.GeneratorReference):
                return []
            return [
                self._clip_piece(child, pos, start, duration, span, inner, top_index, before, after)
            ]
        if span is None:
            return []
        scale = time_scalar(child)
        if scale < 0:
            start = start + (-scale) * duration
        child_map = inner.then(pos, start, scale)
        if isinstance(child, otio.schema.Track):
            pieces = self.track(child, span, child_map, top_index)
        elif isinstance(child, otio.schema.Stack):
            pieces = self.stack(child, span, child_map, top_index)
        else:
            return []
        return [_with_edge_handles(piece, span, before, after) for piece in pieces]

    def _clip_piece(self, clip, pos, start, duration, span, inner, top_index, before, after):
        scale = time_scalar(clip)
        source_rate = exact_rate(clip.trimmed_range().duration.rate)
        if scale < 0:  # the continuous map runs from the end of the used range back to its start
            start = start + (-scale) * duration
        source = inner.then(pos, start, scale)
        full = inner.full_span(pos, pos + duration, span)
        return _Piece(
            clip=clip,
            top_index=top_index,
            start=span[0],
            end=span[1],
            source=source,
            handle_before=before if span[0] == full[0] else Fraction(0),
            handle_after=after if span[1] == full[1] else Fraction(0),
            source_frame=1 / source_rate,
        )


def _with_edge_handles(piece: _Piece, span, before: Fraction, after: Fraction) -> _Piece:
    """A nested item's piece that starts (ends) where the item does meets what lies beside the
    item on the outer track, so it takes the item's handle on that side unless it has its own."""
    if piece.start == span[0] and not piece.handle_before:
        piece = replace(piece, handle_before=before)
    if piece.end == span[1] and not piece.handle_after:
        piece = replace(piece, handle_after=after)
    return piece


def _cut_handles_across_layers(pieces: list[_Piece], cut: Fraction) -> list[_Piece]:
    """The cut handle on both sides of a cut between visible pieces that the tracks' own
    neighbours did not see: a clip on an upper track starting or ending over a lower one, or
    butting a clip on another track. Visible pieces never overlap, so a cut is one piece's end
    equal to another's start. A side with a handle already (a transition's, or a cut's on its
    own track, to a clip the upper one hides) keeps it; across tracks the other side still gets
    one. Along one track each side's handle is its own track's, none included (a dissolve that
    starts at its cut gives the incoming clip none)."""
    if not cut:
        return pieces
    starting = {piece.start: i for i, piece in enumerate(pieces)}
    pieces = list(pieces)
    for i, piece in enumerate(pieces):
        j = starting.get(piece.end)
        if j is None:
            continue
        along_one_track = pieces[i].top_index == pieces[j].top_index
        if along_one_track and (pieces[i].handle_after or pieces[j].handle_before):
            continue
        if not pieces[i].handle_after:
            pieces[i] = replace(pieces[i], handle_after=cut)
        if not pieces[j].handle_before:
            pieces[j] = replace(pieces[j], handle_before=cut)
    return pieces


def _handle(spans, index: int, step: int, offset_name: str, cut: Fraction, scale) -> Fraction:
    """Record seconds of handle on one side of spans[index]: the adjacent transition's offset,
    else `cut` where another picture item follows directly (a hard cut), else nothing."""
    neighbour = index + step
    if not 0 <= neighbour < len(spans):
        return Fraction(0)
    item = spans[neighbour][0]
    if isinstance(item, otio.schema.Transition):
        return seconds(getattr(item, offset_name)) * scale
    if cut and _shows_picture(item) and spans[neighbour][2] > 0:
        return cut  # already in record seconds
    return Fraction(0)


def _shows_picture(item) -> bool:
    """Whether a track item puts picture of its own on screen, so that meeting it is a cut: not
    a gap, a disabled item, or a title/generator clip, which show what lies beneath (as `item`
    plans them)."""
    if isinstance(item, otio.schema.Gap) or not is_enabled(item):
        return False
    return not (isinstance(item, otio.schema.Clip)
                and isinstance(item.media_reference, otio.schema.GeneratorReference))


def _apply_cover(
    layers: list[list[_Piece]], see_through: Callable[[_Piece], bool] | None = None
) -> list[_Piece]:
    """Upper layers hide lower ones: keep the visible parts of each piece. A piece that
    `see_through` (asked only of pieces with a visible part) finds partly transparent hides
    nothing and is left out, as a title is."""
    covered: list[tuple[Fraction, Fraction]] = []  # sorted, merged intervals
    visible: list[_Piece] = []
    for layer in reversed(layers):
        starts = [c[0] for c in covered]
        opaque = []
        for piece in layer:
            parts = _subtract(piece.start, piece.end, covered, starts)
            if parts and see_through is not None and see_through(piece):
                continue
            opaque.append(piece)
            for lo, hi in parts:
                visible.append(
                    replace(
                        piece,
                        start=lo,
                        end=hi,
                        handle_before=piece.handle_before if lo == piece.start else Fraction(0),
                        handle_after=piece.handle_after if hi == piece.end else Fraction(0),
                    )
                )
        covered = _merge(covered + [(p.start, p.end) for p in opaque])
    return visible


def _subtract(lo, hi, covered, starts):
    """Parts of [lo, hi) outside the sorted, merged `covered` intervals (`starts`: their lows)."""
    i = max(bisect.bisect_right(starts, lo) - 1, 0)
    parts = []
    cursor = lo
    while i < len(covered) and covered[i][0] < hi:
        c_lo, c_hi = covered[i]
        if c_hi > cursor:
            if c_lo > cursor:
                parts.append((cursor, min(c_lo, hi)))
            cursor = max(cursor, c_hi)
        i += 1
    if cursor < hi:
        parts.append((cursor, hi))
    return parts


def _merge(intervals):
    merged: list[tuple[Fraction, Fraction]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


# --- timeline facts -------------------------------------------------------------------------


def timeline_rate(timeline: otio.schema.Timeline) -> Fraction:
    """The sequence frame rate: the global start time's, else the first video clip's."""
    if timeline.global_start_time is not None:
        return exact_rate(timeline.global_start_time.rate)
    for track in timeline.video_tracks():
        for clip in track.find_clips():
            try:
                return exact_rate(clip.trimmed_range().duration.rate)
            except Exception:
                continue
    try:
        return exact_rate(timeline.duration().rate)
    except Exception:
        return Fraction(24)


def start_timecode(timeline: otio.schema.Timeline) -> otio.opentime.RationalTime | None:
    """The timeline's start timecode, or None when it has none.

    `global_start_time` where the adapter sets it. The CMX 3600 adapter leaves that empty and
    expresses the first record timecode as a negative trim of the track instead (01:00:00:00 at
    24 fps: a video track source range starting at -86400), which planning reads as "the
    timeline starts there" (see `_trimmed`): that is the start, so every timecode v2a shows or
    writes (bext, messages, inspect) counts from it.
    """
    if timeline.global_start_time is not None:
        return timeline.global_start_time
    for item in (timeline.tracks, *timeline.video_tracks()):
        trim = item.source_range
        if trim is not None and trim.start_time.value < 0:
            return otio.opentime.RationalTime(-trim.start_time.value, trim.start_time.rate)
    return None


def timeline_start(timeline: otio.schema.Timeline) -> Fraction:
    """Seconds of the timeline's start timecode (01:00:00:00 -> 3600), 0 without one."""
    start = start_timecode(timeline)
    return Fraction(0) if start is None else seconds(start)


# --- the plan -------------------------------------------------------------------------------


def plan_segments(
    timeline: otio.schema.Timeline,
    *,
    timeline_path: str,
    selection: Selection = EVERY_VISIBLE_CLIP,
    relink_roots: tuple[str, ...] | list[str] = (),
    probe: Callable = probe_media,
    cut_handle_seconds: float = 0.0,
) -> list[Segment]:
    """One Segment per visible video clip range, in record order (see the module docstring).

    `cut_handle_seconds`: handles also at hard cuts between two clips (so a crossfade can hide
    the cut), limited to the media like transition handles; 0 (the default): only transitions.
    Every handle is whole frames of the timeline rate (the cut handle the nearest whole number,
    at least one): frame-based formats declare a take file's start and length in frames, so a
    file that is not whole frames long cannot be described to the sample.

    Media problems never raise: such a clip comes back with status "offline" or "invalid" and a
    `problem` naming the clip and the path. PlanError is raised only when nothing can be
    planned: no video, or a selection naming tracks or clips that are not there.
    """
    planner = TimelinePlanner(timeline, timeline_path=timeline_path, relink_roots=relink_roots,
                              probe=probe, cut_handle_seconds=cut_handle_seconds)
    return planner.segments(selection)


class TimelinePlanner:
    """Plans one timeline for several selections (`plan_segments` for one): each video track is
    walked, each clip's media resolved and each visible piece's segment made once, whichever
    selections need them, and only when one does. The pipeline plans a job's selection and the
    whole edit (which the v2a clips not regenerated follow) this way, from one walk."""

    def __init__(
        self,
        timeline: otio.schema.Timeline,
        *,
        timeline_path: str,
        relink_roots: tuple[str, ...] | list[str] = (),
        probe: Callable = probe_media,
        cut_handle_seconds: float = 0.0,
    ) -> None:
        self.where = f"{timeline_path}: timeline {timeline.name!r}"
        self.timeline = timeline
        self.video_tracks = timeline.video_tracks()
        if not self.video_tracks:
            raise PlanError(f"{self.where} has no video tracks")
        self.track_names = [track.name for track in self.video_tracks]
        self.rate = timeline_rate(timeline)
        self.start = timeline_start(timeline)
        self.walker = _Walker(_cut_handle(cut_handle_seconds, self.rate), self._see_through)
        self.timeline_path, self.relink_roots, self.probe = timeline_path, relink_roots, probe
        self._window: tuple | None = None  # _timeline_window, once asked for
        self._layers: dict[int, list[_Piece]] = {}  # by video track index, before cover
        self._resolver: MediaResolver | None = None
        self._media: dict[int, ResolvedMedia] = {}  # by id() of the clip
        self._segments: dict[tuple, Segment | None] = {}  # see _segment; ids not yet assigned
        self._by_tracks: dict[tuple[str, ...], list[Segment]] = {}  # whole plans, ids assigned
        self._disabled: list[Segment] | None = None  # `disabled`, once asked for

    def segments(self, selection: Selection = EVERY_VISIBLE_CLIP) -> list[Segment]:
        """The selection's segments, as `plan_segments(..., selection=selection)` gives them."""
        tracks = tuple(selection.tracks)
        _check_clip_tracks(selection.clips, self.video_tracks, self.where)
        if tracks not in self._by_tracks:  # clips and time range pick; tracks change the cover
            self._by_tracks[tracks] = self._plan(tracks)
        # A copy: the caller may change its list, not the plan kept for other selections.
        return list(_select(self._by_tracks[tracks], selection, self.where))

    def _plan(self, tracks: tuple[str, ...]) -> list[Segment]:
        layers = self._layers_of(_tracks_filter(tracks, self.video_tracks, self.where))
        try:
            visible = _apply_cover(layers, self._see_through)
            pieces = _cut_handles_across_layers(visible, self.walker.cut_handle)
        except (ValueError, ZeroDivisionError) as error:
            raise self._placing_error(error) from None
        segments = []
        for piece in sorted(pieces, key=lambda p: (p.start, p.top_index)):
            segment = self._segment(piece)
            if segment is not None:
                segments.append(segment)
        segments = _with_marked_prompts(segments, timeline_marks(self.timeline))
        return _assign_ids(_inherited_ids(segments, _sound_made_for(self.timeline)))

    def disabled(self) -> list[Segment]:
        """What each disabled shot would show, switched on: the segments of the edit planned
        with every disabled item enabled whose clip is disabled, or lies in a disabled nest or
        track. v2a's sound of such a shot is kept, disabled with it
        (`follow_edit.follow_the_edit`), not taken off as sound of picture that is gone. Ids as
        the plan gives them (a disabled shot keeps the id of the v2a clip made for it). [] where
        nothing is disabled."""
        if self._disabled is None:
            self._disabled = self._plan_disabled()
        return list(self._disabled)

    def _plan_disabled(self) -> list[Segment]:
        if all(is_enabled(item) for track in self.video_tracks
               for item in (track, *track.find_children())):
            return []  # the common case: no second walk
        if self._window is None:
            self._window = self._timeline_window()
        window, top = self._window
        walker = _Walker(self.walker.cut_handle, self._see_through, show_disabled=True)
        try:
            layers = [walker.item(track, Fraction(0), window, top, index)
                      for index, track in enumerate(self.video_tracks)]
            pieces = _apply_cover(layers, self._see_through)
        except (ValueError, ZeroDivisionError) as error:
            raise self._placing_error(error) from None
        made = [(piece, self._segment(piece))
                for piece in sorted(pieces, key=lambda p: (p.start, p.top_index))]
        made = [(piece, segment) for piece, segment in made if segment is not None]
        # Ids over the whole edit so switched on, as the plan would give them were it so.
        segments = _assign_ids(_inherited_ids([segment for _, segment in made],
                                              _sound_made_for(self.timeline)))
        return [segment for (piece, _), segment in zip(made, segments, strict=True)
                if _switched_off(piece.clip)]

    def _layers_of(self, tracks_filter) -> list[list[_Piece]]:
        """The pieces of each video track, lowest first, before cover; none for a track the
        filter leaves out (it is not walked). Each track is walked once, whichever selections
        need it."""
        if self._window is None:
            self._window = self._timeline_window()
        window, top = self._window
        layers = []
        for index, track in enumerate(self.video_tracks):
            if tracks_filter is not None and not tracks_filter(track, index):
                layers.append([])
                continue
            if index not in self._layers:
                try:
                    self._layers[index] = self.walker.item(track, Fraction(0), window, top, index)
                except (ValueError, ZeroDivisionError) as error:  # e.g. an exporter's rate of 0
                    raise self._placing_error(error) from None
            layers.append(self._layers[index])
        if not any(True for track in self.video_tracks for _ in track.find_clips()):
            raise PlanError(f"{self.where} has no video clips (its video tracks hold only gaps)")
        return layers

    def _timeline_window(self) -> tuple[tuple[Fraction, Fraction], _Map]:
        """The record window of the whole timeline, and its map to the top stack's time."""
        stack = self.timeline.tracks
        window_start, window_duration = _trimmed(stack) if stack.source_range else (0, None)
        try:
            end = seconds(stack.duration()) if window_duration is None else window_duration
        except Exception as error:
            raise PlanError(
                f"{self.where}: cannot compute the timeline's length ({error})") from None
        return (Fraction(0), end), _Map(Fraction(0), Fraction(window_start), Fraction(1))

    def _placing_error(self, error: Exception) -> Exception:
        if isinstance(error, MediaError):
            # Placing can probe media (see-through pictures, a cover's timecode), which can
            # refuse a file: that error names the file and is not about placing clips.
            return error
        if isinstance(error, PlanError):
            return PlanError(f"{self.where}: {error}")
        return PlanError(f"{self.where}: cannot place its clips in time ({error})")

    def _segment(self, piece: _Piece) -> Segment | None:
        """The piece's segment (its id not yet assigned), None when no frame of it is shown."""
        # A clip is walked once, so where and with what handles it shows tells its pieces apart.
        key = (id(piece.clip), piece.start, piece.end, piece.handle_before, piece.handle_after)
        if key not in self._segments:
            shown = _shown_frames(piece, self.rate)
            self._segments[key] = None if shown is None else _segment(
                piece, shown, self._resolved(piece.clip), self.rate, self.start, self.track_names)
        return self._segments[key]

    def _see_through(self, piece: _Piece) -> bool:
        """Whether a piece's media is partly transparent (a logo, a lower third as a PNG or
        ProRes 4444 with alpha): the editor shows the picture beneath through it, so it hides
        nothing and, like a title, makes no sound of its own (it cut the sound of the shot
        under a corner logo in two, with a take of the held logo between)."""
        media = self._resolved(piece.clip)
        return media.status == "ok" and media.see_through

    def _resolved(self, clip: otio.schema.Clip) -> ResolvedMedia:
        if self._resolver is None:  # once a clip needs it: it extracts an .otioz's media
            self._resolver = MediaResolver(media_base_dir(self.timeline_path),
                                           RelinkIndex(tuple(self.relink_roots)), self.probe)
        if id(clip) not in self._media:
            self._media[id(clip)] = self._resolver.resolve(clip)
        return self._media[id(clip)]


def _cut_handle(cut_seconds: float, rate: Fraction) -> Fraction:
    """The cut handle as record seconds: the nearest whole number of frames, at least one."""
    if cut_seconds <= 0:
        return Fraction(0)
    frames = max(1, to_frames(Fraction(cut_seconds).limit_denominator(1_000_000), rate))
    return frames / rate


def _frame_boundary(time: Fraction, rate: Fraction) -> Fraction:
    """The start of the first frame at or after `time` (to a microsecond, for float rates).

    A frame shows the picture at its start (the frame reader samples the same way), so a cut
    that a time warp or a nested trim puts between two frame starts takes effect on the next
    frame. Rounding every boundary with this one rule keeps adjacent pieces tiling, and stretches
    a piece over the part of a frame that nothing else fills (the empty tail of a warped stack).
    """
    return math.ceil(time * rate - _TOLERANCE) / rate


def _shown_frames(piece: _Piece, rate: Fraction) -> tuple[Fraction, Fraction] | None:
    """A piece's record range on whole frames, or None when no frame starts inside it (a
    sliver that a fast warp or a cover leaves between two frames is never on screen)."""
    start, end = _frame_boundary(piece.start, rate), _frame_boundary(piece.end, rate)
    return (start, end) if start < end else None


def _whole_frames(handle: Fraction, rate: Fraction) -> Fraction:
    """A handle shortened to whole frames (never lengthened: it may be limited by the media)."""
    return math.floor(handle * rate + _TOLERANCE) / rate


def _segment(
    piece: _Piece,
    shown: tuple[Fraction, Fraction],
    media: ResolvedMedia,
    rate: Fraction,
    start: Fraction,
    track_names,
) -> Segment:
    """`shown`: the piece's record range on whole frames (`_shown_frames`); `start`: the
    timeline's start timecode in seconds, for the timecodes in messages."""
    clip = piece.clip
    record_start, record_end = shown
    own = prompt_of(shown_markers(clip, (start + record_start, start + record_end)))
    speed = Fraction(0) if media.still else piece.source.k
    first = piece.source.at(record_start)
    # The used source as a continuous range, for the media-length check and the handle limits:
    # the piece's own range, since rounding out to a frame start reads no frame past it.
    ends = (piece.source.at(piece.start), piece.source.at(piece.end))
    used = (min(ends), max(ends))
    if speed == 0:
        used = (first, first + piece.source_frame)
    # Reverse: the continuous map starts at the end of the used range; the first frame shown
    # starts one source frame (times |speed|) before it.
    source_start = first + piece.source_frame * speed if speed < 0 else first
    extent = media.extent
    if extent is not None and media.source.image_sequence is not None and speed != 0:
        # Frames missing beyond the clip's own (checked below) end its handles and context.
        reach = abs(speed) * (max(piece.handle_before, piece.handle_after) + CONTEXT_SECONDS)
        extent = frames_on_disk(media.source, used, extent, reach)
    before = _limit_handle(piece.handle_before, used, speed, extent, "before")
    after = _limit_handle(piece.handle_after, used, speed, extent, "after")
    before, after = _whole_frames(before, rate), _whole_frames(after, rate)
    # How far the generator sees past the range, handles and context together (the media's).
    reach_before = _limit_handle(before + CONTEXT_SECONDS, used, speed, extent, "before")
    reach_after = _limit_handle(after + CONTEXT_SECONDS, used, speed, extent, "after")
    reach_before, reach_after = _whole_frames(reach_before, rate), _whole_frames(reach_after, rate)

    start_sample = to_samples(record_start)
    end_sample = to_samples(record_end)
    start_frame = to_frames(record_start, rate)

    def label() -> str:  # only problems need it, and timecode text is not free
        # The timecode the editor sees: counted from the timeline's start timecode.
        return clip_label(clip.name, piece.top_index, track_names[piece.top_index],
                          start + record_start, rate)

    status, problem = media.status, ""
    if status == "offline":
        problem = f"{label()}: media not found: {media.problem}"
    elif status != "ok":
        problem = f"{label()}: {media.problem}"
    elif media.extent is not None and not media.still:
        lo, hi = media.extent
        if used[0] < lo - _TOLERANCE or used[1] > hi + _TOLERANCE:
            status = "invalid"
            # Source timecodes counted at the media's own rate, as the editor's source monitor
            # shows them (a 59.94 fps file on a 23.976 timeline read 00:00:03:08 for 03;20).
            at = exact_rate(media.source.rate) if media.source.rate else rate
            problem = (
                f"{label()}: uses source {_tc(used[0], at)}-{_tc(used[1], at)} but its media "
                f"{media_text(media.source)} covers "
                f"only {_tc(lo, at)}-{_tc(hi, at)}"
            )
    if status == "ok" and media.source.image_sequence is not None:
        missing = missing_frame(media.source, used)
        if missing:
            status, problem = "invalid", f"{label()}: image sequence frame {missing} is missing"
    return Segment(
        clip_id=_stored_id(clip),
        clip_name=clip.name,
        track_index=piece.top_index,
        track_name=track_names[piece.top_index],
        timeline_rate=float(rate),
        record_start_frame=start_frame,
        record_frames=to_frames(record_end, rate) - start_frame,
        start_sample=start_sample,
        num_samples=end_sample - start_sample,
        media=media.source,
        source_start=float(source_start),
        speed=float(speed),
        handle_before_samples=start_sample - to_samples(record_start - before),
        handle_after_samples=to_samples(record_end + after) - end_sample,
        context_before_samples=to_samples(record_start - before) - to_samples(record_start - reach_before),
        context_after_samples=to_samples(record_end + reach_after) - to_samples(record_end + after),
        status=status,
        problem=problem,
        prompt=own.prompt,
        negative_prompt=own.negative_prompt,
        timeline_start_frame=round(start * rate),
    )


def clip_label(name: str, track_index: int, track_name: str, at: Fraction, rate: Fraction) -> str:
    """"clip 'door' on track V1 at 01:00:02:10": a clip as messages name it, at the timecode
    the editor sees (a clip's name alone is often the same on many shots of one source)."""
    return f"clip {name!r} on {track_label(track_index, track_name)} at {format_timecode(at, rate)}"


def segment_label(segment: Segment) -> str:
    """`clip_label` of a planned segment (a failure at generation, named as one offline is)."""
    rate = exact_rate(segment.timeline_rate)
    at = Fraction(segment.timeline_start_frame + segment.record_start_frame) / rate
    return clip_label(segment.clip_name, segment.track_index, segment.track_name, at, rate)


def _with_marked_prompts(
    segments: list[Segment], marks: list[tuple[Fraction, MarkedPrompt]]
) -> list[Segment]:
    """Each segment with the prompt its clip's `v2a:` markers give, its empty parts filled from
    the first timeline marker within its record range."""
    marked = []
    for segment in segments:
        own = MarkedPrompt(segment.prompt, segment.negative_prompt)  # from its clip's markers
        start, end = Fraction(segment.start_sample, SAMPLE_RATE), Fraction(_end(segment), SAMPLE_RATE)
        over = next((prompt for at, prompt in marks if start <= at < end), MarkedPrompt())
        prompt = own.over(over)
        marked.append(replace(segment, prompt=prompt.prompt,
                              negative_prompt=prompt.negative_prompt) if prompt else segment)
    return marked


def track_label(index: int, name: str) -> str:
    """How a person names a video track: V1 is the lowest, as editors count (its own name too,
    unless that is the same: Premiere names its tracks V1, V2…)."""
    number = f"V{index + 1}"
    return f"track {number}" + (f" ({name})" if name and name != number else "")


def _tc(time: Fraction, rate: Fraction) -> str:
    return format_timecode(time, rate)


#: Picture the generator sees beyond each handle where the media has it, trimmed off its take:
#: the model makes the edges of what it is shown quiet (the first 80 ms of a 3 s take 46 dB under
#: the take without context, 26 dB with 0.5 s, real sound 37 dB: docs/model.md).
CONTEXT_SECONDS = Fraction(1, 2)


def _limit_handle(wanted: Fraction, used, speed: Fraction, extent, side: str) -> Fraction:
    """Shorten a handle to the media that exists beyond the used range."""
    if wanted <= 0 or extent is None or speed == 0:
        return max(wanted, Fraction(0))
    # Before the in point a forward clip reads earlier source, a reversed one later source.
    reads_earlier = (side == "before") == (speed > 0)
    room = used[0] - extent[0] if reads_earlier else extent[1] - used[1]
    return max(Fraction(0), min(wanted, room / abs(speed)))


def _stored_id(clip) -> str:
    v2a = _metadata(clip, "v2a")
    if hasattr(v2a, "get") and v2a.get("clip_id"):
        return str(v2a.get("clip_id"))
    return ""


def derived_clip_id(track_index: int, record_start_frame: int, clip_name: str) -> str:
    text = f"{track_index}|{record_start_frame}|{clip_name}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def _assign_ids(segments: list[Segment]) -> list[Segment]:
    seen: dict[str, int] = {}
    result = []
    for segment in segments:
        base = segment.clip_id or derived_clip_id(
            segment.track_index, segment.record_start_frame, segment.clip_name
        )
        count = seen.get(base, 0) + 1
        seen[base] = count
        result.append(replace(segment, clip_id=base if count == 1 else f"{base}.{count}"))
    return result


# --- ids that survive an edit ---------------------------------------------------------------


@dataclass(frozen=True)
class _Sound:
    """A clip on v2a's track: the id it was generated under, where it sits (samples), and what
    it records of the picture it was made for (empty where the format dropped its metadata)."""

    clip_id: str
    start: int
    length: int
    media: str = ""
    source_start: float | None = None
    speed: float = 1.0
    shot: str | None = None  # the shot its name says it was made for, without metadata


def _sound_made_for(timeline: otio.schema.Timeline) -> list[_Sound]:
    """The clips on v2a's tracks, of every stem, in track order."""
    sounds = []
    for track in (track for track in timeline.tracks if track_stem(track)):
        position = Fraction(0)  # exact seconds, as write._read_placed counts them
        for item in track:
            if isinstance(item, otio.schema.Transition):
                continue
            end = position + seconds(item.duration())
            stem = clip_file_stem(item) if is_v2a_clip(item) else ""  # not an editor's copy
            if stem:
                meta = item.metadata.get(V2A_KEY, {})
                start = to_samples(position)
                known = "source_media" in meta and "source_start" in meta
                sounds.append(_Sound(
                    str(meta.get("clip_id") or stem), start, to_samples(end) - start,
                    str(meta["source_media"]) if known else "",
                    float(meta["source_start"]) if known else None,
                    float(meta.get("speed", 1.0)),
                    v2a_shot_name(item),
                ))
            position = end
    return sounds


def media_file_name(segment: Segment) -> str:
    """The file name of a segment's media, however the timeline names it (path, URL): what a v2a
    clip records as the media it was made for."""
    return os.path.basename(url_to_path(segment.media.referenced).rstrip("/"))


def _inherited_ids(segments: list[Segment], sounds: list[_Sound]) -> list[Segment]:
    """Segments without a stored id take the id of the v2a clip made for what they show, so an
    edit that moves a shot (a ripple) does not change its id. Each id is given once, one the
    editor's clips store never; each pass below goes over the segments in record order and
    leaves the rest to the next:
    1. a v2a clip made for the same shot (the same media file, first source frame and speed,
       what `follow_edit.same_shot` checks) where the segment starts: a shot that did not move;
    2. a v2a clip made for the same shot anywhere, the earliest first: a shot that moved. A shot
       used twice pairs with its clips in record order, which a ripple keeps;
    3. a v2a clip made for the same media file starting where the segment starts: the shot
       itself changed in its place (a slip, a trim that kept its start);
    4. where the format dropped v2a's metadata (FCP7 XML, EDL), the v2a clip on exactly the
       segment's record range: v2a's track rippled with the picture, as a sync lock does; not
       one whose name says it was made for another shot (a replace edit in Final Cut)."""
    shots = _Shots(sounds)
    at_start: dict[tuple, list[_Sound]] = {}
    on_range: dict[tuple, list[_Sound]] = {}
    for sound in sounds:
        if sound.source_start is not None:
            at_start.setdefault((sound.start, sound.media), []).append(sound)
        else:
            on_range.setdefault((sound.start, sound.length), []).append(sound)
    # Ids given, and those the editor's clips store: a v2a clip on each stem's track, or two
    # parts of one the editor bladed, share an id that one clip alone may take.
    given = {segment.clip_id for segment in segments if segment.clip_id}

    def first(candidates) -> _Sound | None:
        return next((sound for sound in candidates if sound.clip_id not in given), None)

    media = [media_file_name(segment) for segment in segments]
    passes = [
        lambda i, s: first(shots.starting_at(media[i], s)),
        lambda i, s: shots.earliest(media[i], s, given),
        lambda i, s: first(at_start.get((s.start_sample, media[i]), ())),
        lambda i, s: first(sound for sound in on_range.get((s.start_sample, s.num_samples), ())
                           if sound.shot in (None, s.clip_name)),
    ]
    inherited: dict[int, str] = {}  # segment index -> id
    for find in passes:
        for i, segment in enumerate(segments):
            if segment.clip_id or i in inherited:
                continue
            sound = find(i, segment)
            if sound is not None:
                given.add(sound.clip_id)
                inherited[i] = sound.clip_id
    return [replace(s, clip_id=inherited[i]) if i in inherited else s for i, s in enumerate(segments)]


_SOURCE_BUCKETS = 10_000  # a second of source time in buckets of `_Shots`


class _Shots:
    """v2a clips by the shot they were made for (media file, speed, first source frame), so
    that finding a segment's costs the same on a long edit as on a short one, however often a
    shot recurs. A source start is bucketed by the tenth of a millisecond (the tolerance of
    `follow_edit._same_frames`), and a segment's looked up in the buckets on either side too: one
    stored as a float after a recut may differ from the planned one by a rounding error."""

    def __init__(self, sounds: list[_Sound]) -> None:
        self._by_shot: dict[tuple, list[_Sound]] = {}  # earliest on the track first
        self._by_place: dict[tuple, list[_Sound]] = {}
        for sound in sorted(sounds, key=lambda sound: sound.start):
            if sound.source_start is not None:
                key = (sound.media, sound.speed, round(sound.source_start * _SOURCE_BUCKETS))
                self._by_shot.setdefault(key, []).append(sound)
                self._by_place.setdefault((*key, sound.start), []).append(sound)
        self._next: dict[tuple, int] = {}  # per shot, where the clips not given yet begin

    def _keys(self, media: str, segment: Segment) -> list[tuple]:
        bucket = round(segment.source_start * _SOURCE_BUCKETS)
        return [(media, segment.speed, b) for b in (bucket - 1, bucket, bucket + 1)]

    def starting_at(self, media: str, segment: Segment) -> list[_Sound]:
        """The clips made for the shot `segment` shows that start where it does."""
        return [sound for key in self._keys(media, segment)
                for sound in self._by_place.get((*key, segment.start_sample), ())]

    def earliest(self, media: str, segment: Segment, given: set[str]) -> _Sound | None:
        """The earliest clip made for the shot `segment` shows whose id is not in `given`
        (which only grows: the clips passed over stay passed over)."""
        heads = []
        for key in self._keys(media, segment):
            sounds = self._by_shot.get(key, [])
            index = self._next.get(key, 0)
            while index < len(sounds) and sounds[index].clip_id in given:
                index += 1
            self._next[key] = index
            if index < len(sounds):
                heads.append(sounds[index])
        return min(heads, key=lambda sound: sound.start, default=None)


# --- selection ------------------------------------------------------------------------------


def _track_matches(name: str, track_name: str, index: int) -> bool:
    """A track named by its name, its 0-based index ("0") or as editors count it ("V1")."""
    return name in (track_name, str(index), f"V{index + 1}", f"v{index + 1}")


def _has_track(name: str, video_tracks) -> bool:
    return any(_track_matches(name, t.name, i) for i, t in enumerate(video_tracks))


def _known_tracks(video_tracks) -> str:
    return ", ".join(f"{i} ({t.name or 'unnamed'})" for i, t in enumerate(video_tracks))


def _tracks_filter(names, video_tracks, where):
    if not names:
        return None
    for name in names:
        if not _has_track(name, video_tracks):
            raise PlanError(f"{where} has no video track {name!r}; its video tracks: "
                            f"{_known_tracks(video_tracks)}")
    return lambda track, index: any(_track_matches(n, track.name, index) for n in names)


def _check_clip_tracks(clips, video_tracks, where) -> None:
    """A clip addressed on a track the timeline lacks (`V9@1`) is said as that: "no visible
    clip matches track 'V9' at 1.0 s" read as a gap on a track that is there."""
    for address in clips:
        if address.track and not _has_track(address.track, video_tracks):
            raise ClipNotFoundError(
                f"{where}: no video track {address.track!r} for the clip at "
                f"{address.record_time} s; its video tracks: {_known_tracks(video_tracks)}")


def _select(segments: list[Segment], selection: Selection, where: str) -> list[Segment]:
    problems = selection_violations(selection)
    if problems:
        raise PlanError(f"{where}: " + "; ".join(f"{field} {why}" for field, why in problems))
    chosen = segments
    if selection.time_range is not None:
        lo, hi = (Fraction(t).limit_denominator(1_000_000) for t in selection.time_range)
        chosen = [s for s in chosen if _seconds(s.start_sample) < hi and _seconds(_end(s)) > lo]
    if selection.clips:
        picked: set[str] = set()
        for address in selection.clips:
            match = [s.clip_id for s in chosen if _address_matches(address, s)]
            if not match:
                raise ClipNotFoundError(f"{where}: no visible clip matches "
                                        f"{_address_text(address)}{_clips_hint(address, chosen)}")
            picked.update(match)
        chosen = [s for s in chosen if s.clip_id in picked]
    return chosen


def _seconds(sample: int) -> Fraction:
    return Fraction(sample, SAMPLE_RATE)


def _end(segment: Segment) -> int:
    return segment.start_sample + segment.num_samples


def _address_matches(address: ClipAddress, segment: Segment) -> bool:
    if address.clip_id:
        return segment.clip_id == address.clip_id
    if address.record_time is None:
        return False
    if address.track and not _track_matches(address.track, segment.track_name, segment.track_index):
        return False
    t = Fraction(address.record_time).limit_denominator(1_000_000)
    return _seconds(segment.start_sample) <= t < _seconds(_end(segment))


# Clips listed in the error beside an id that matches none: enough to pick from a short edit;
# a long one is `v2a inspect`'s table.
_CLIPS_LISTED = 8


def _clips_hint(address: ClipAddress, segments: list[Segment]) -> str:
    """What to give instead of an id that matches no clip: the id of a clip of that name (the
    name is what the summary and the editor show), else the clips there are."""
    if not address.clip_id:
        return ""
    named = list(dict.fromkeys(s.clip_id for s in segments if s.clip_name == address.clip_id))
    if named:
        clips = "clip" if len(named) == 1 else "clips"
        return f": {address.clip_id!r} is the name of {clips} {', '.join(named)}"
    listed = [f"{s.clip_id} ({s.clip_name})" for s in segments[:_CLIPS_LISTED]]
    more = len(segments) - len(listed)
    return (f"; its clips: {', '.join(listed) or 'none'}"
            + (f" and {more} more (`v2a inspect` lists them all)" if more else ""))


def _address_text(address: ClipAddress) -> str:
    if address.clip_id:
        return f"clip id {address.clip_id!r}"
    return f"track {address.track or '(any)'!r} at {address.record_time} s"
