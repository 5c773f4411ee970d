"""v2a's sound from its earlier result in the output folder, for a run on the editor's timeline.

An editor who regenerates one shot sends their own timeline again (no v2a track in it) with
that clip selected, into the folder holding v2a's result for it. Written from the editor's
timeline alone, the result held the selected clip's sound and nothing else: the other clips'
sound left the timeline (their takes stayed on disk). Their v2a tracks are copied from the
earlier result onto the editor's timeline before it is planned, so the run is the one it would
be on the written timeline with the editor's edit: ids inherited from v2a's clips
(`plan._inherited_ids`), the clips not regenerated following the edit
(`follow_edit.follow_the_edit`) or, where their picture cannot be found, leaving the track, which
the result's note then says.

A result for a timeline of another name (the editor renamed the sequence and kept its file name,
or another timeline was saved under it) gives only the sound of its clips made for a shot the
timeline shows (`shot_records`), so no sound of another cut is laid on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import opentimelineio as otio

from otio_adapters.plan import media_file_name
from otio_adapters.takes import V2A_KEY, clip_file_stem, is_v2a_clip, track_stem
from v2a.contracts import Segment


@dataclass(frozen=True)
class EarlierSound:
    """What a run took from the earlier result in its output folder."""

    path: str = ""  # the result file whose v2a tracks were taken; "" for none
    clips: tuple[tuple[str, str], ...] = ()  # (file stem of its id, name) of each v2a clip
    note: str = ""  # why an earlier result found there was not used
    #: What the note says first: where the sound came from, for a result of another name.
    taken_from: str = ""

    def left_off(self, timeline: otio.schema.Timeline) -> list[str]:
        """The names of the clips taken from the earlier result that are no longer on
        `timeline`'s v2a tracks (after `write.write_audio_tracks`): their picture was not found
        in the edit as it is now, or a new generation took their place."""
        kept = {clip_file_stem(clip) for track in timeline.tracks if track_stem(track)
                for clip in track.find_clips() if is_v2a_clip(clip)}
        return [name for stem, name in self.clips if stem not in kept]

    def result_note(self, timeline: otio.schema.Timeline, audio_dir: str) -> str:
        """What the result's note says of the earlier result: why it was not used, or where
        the sound came from (a result of another name) and the clips of it whose sound is no
        longer on the track."""
        if self.note or not self.path:
            return self.note
        lost = self.left_off(timeline)
        if not lost:
            return self.taken_from
        return "; ".join(part for part in (self.taken_from, (
            f"the sound of {len(lost)} of the {len(self.clips)} clips in v2a's earlier result "
            f"{self.path} ({quoted_names(lost)}) could not be matched to the edit as it is now (their "
            f"picture moved, changed or is gone) and is not on v2a's track; their takes stay "
            f"in {audio_dir}")) if part)


def quoted_names(items: list[str]) -> str:
    """The first five of `items` quoted, and how many more."""
    more = f" and {len(items) - 5} more" if len(items) > 5 else ""
    return ", ".join(repr(name) for name in items[:5]) + more


def v2a_clips(result: otio.schema.Timeline) -> list[otio.schema.Clip]:
    """The clips on `result`'s v2a tracks that are v2a's."""
    return [clip for track in result.tracks if track_stem(track) is not None
            for clip in track.find_clips() if is_v2a_clip(clip)]


def shot_record(clip: otio.schema.Clip) -> tuple[str, str] | None:
    """(name, media file name) of the shot a v2a clip was made for, as v2a records it with the
    clip (`write`); None where the format kept no record (FCP7 XML, FCPXML, AAF, EDL), or the
    clip was made before v2a recorded its media file."""
    meta = clip.metadata.get(V2A_KEY, {})
    if meta.get("source_clip") is None or meta.get("source_media") is None:
        return None
    return str(meta["source_clip"]), str(meta["source_media"])


def shot_records(segments: list[Segment]) -> set[tuple[str, str]]:
    """(name, media file name) of each shot of `segments`, as v2a records the shot a clip was
    made for (`shot_record`)."""
    return {(segment.clip_name, media_file_name(segment)) for segment in segments}


def take_v2a_tracks(timeline: otio.schema.Timeline, result: otio.schema.Timeline,
                    path: str, shots: set[tuple[str, str]] | None = None) -> EarlierSound:
    """Put copies of `result`'s v2a tracks (read from `path`) on `timeline`, the editor's,
    read without one of its own. `shots` (`shot_records`), where given: only the clips made
    for one of those are taken (`shot_record`), each other one of v2a's left a gap, so that
    no id is inherited from it either."""
    clips = []
    for track in result.tracks:
        if track_stem(track) is None:
            continue
        copied = track.deepcopy()
        for clip in [clip for clip in copied.find_clips() if is_v2a_clip(clip)]:
            if shots is None or shot_record(clip) in shots:
                clips.append((clip_file_stem(clip), clip.name))
            else:
                _as_gap(clip)
        timeline.tracks.append(copied)
    return EarlierSound(path, tuple(clips))


def _as_gap(clip: otio.schema.Clip) -> None:
    """A gap in the clip's place, without the transitions beside it (nothing to fade with)."""
    track = clip.parent()
    index = track.index(clip)
    for side in (index + 1, index - 1):  # the later first: the index stays the clip's
        if 0 <= side < len(track) and isinstance(track[side], otio.schema.Transition):
            del track[side]
    duration = clip.duration()
    track[track.index(clip)] = otio.schema.Gap(
        source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, duration.rate), duration))
