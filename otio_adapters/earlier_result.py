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
"""

from __future__ import annotations

from dataclasses import dataclass

import opentimelineio as otio

from otio_adapters.takes import clip_file_stem, is_v2a_clip, track_stem


@dataclass(frozen=True)
class EarlierSound:
    """What a run took from the earlier result in its output folder."""

    path: str = ""  # the result file whose v2a tracks were taken; "" for none
    clips: tuple[tuple[str, str], ...] = ()  # (file stem of its id, name) of each v2a clip
    note: str = ""  # why an earlier result found there was not used

    def left_off(self, timeline: otio.schema.Timeline) -> list[str]:
        """The names of the clips taken from the earlier result that are no longer on
        `timeline`'s v2a tracks (after `write.write_audio_tracks`): their picture was not found
        in the edit as it is now, or a new generation took their place."""
        kept = {clip_file_stem(clip) for track in timeline.tracks if track_stem(track)
                for clip in track.find_clips() if is_v2a_clip(clip)}
        return [name for stem, name in self.clips if stem not in kept]

    def result_note(self, timeline: otio.schema.Timeline, audio_dir: str) -> str:
        """What the result's note says of the earlier result: why it was not used, or the
        clips of it whose sound is no longer on the track."""
        if self.note or not self.path:
            return self.note
        lost = self.left_off(timeline)
        if not lost:
            return ""
        shown = ", ".join(repr(name) for name in lost[:5])
        more = f" and {len(lost) - 5} more" if len(lost) > 5 else ""
        return (f"the sound of {len(lost)} of the {len(self.clips)} clips in v2a's earlier result "
                f"{self.path} ({shown}{more}) could not be matched to the edit as it is now (their "
                f"picture moved, changed or is gone) and is not on v2a's track; their takes stay "
                f"in {audio_dir}")


def take_v2a_tracks(timeline: otio.schema.Timeline, result: otio.schema.Timeline,
                    path: str) -> EarlierSound:
    """Put copies of `result`'s v2a tracks (read from `path`) on `timeline`, the editor's,
    read without one of its own."""
    clips = []
    for track in result.tracks:
        if track_stem(track) is None:
            continue
        copied = track.deepcopy()
        clips += [(clip_file_stem(clip), clip.name) for clip in copied.find_clips()
                  if is_v2a_clip(clip)]
        timeline.tracks.append(copied)
    return EarlierSound(path, tuple(clips))
