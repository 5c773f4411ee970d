"""CMX 3600 events as NLEs and online suites write them, read with the real CMX 3600 adapter
(otio-cmx3600-adapter 1.0.0) and planned: the picture the editor sees, or an error that names
the line. Before the edl-events session a key event failed the whole read, as did a split edit
of two lines; a NONE event was planned over the picture, a BLK reel as a shot, and a reversed
event from the frames after its entry point."""

from __future__ import annotations

import os
import re
from fractions import Fraction

import opentimelineio as otio
import pytest

from otio_adapters.plan import plan_segments
from otio_adapters.plan import time_scalar as plan_time_scalar
from otio_adapters.read import TimelineReadError, read_timeline
from otio_adapters.takes import find_v2a_tracks, to_samples
from otio_adapters.write import write_audio_tracks
from v2a.contracts import GeneratedAudio

HEAD = "TITLE: EVENTS\nFCM: NON-DROP FRAME\n\n"


def _event(number: str, reel: str, channel: str, edit: str, *times: str) -> str:
    return f"{number}  {reel:8} {channel:5} {edit:8} {' '.join(times)}\n"


def _plan(tmp_path, text: str, newline: str = "\n") -> list[tuple]:
    """(name, record start frame, frames, source start seconds, speed) of each planned shot."""
    path = tmp_path / "cut.edl"
    path.write_bytes(text.replace("\n", newline).encode())
    timeline = read_timeline(path)
    return [(s.clip_name, s.record_start_frame, s.record_frames, s.source_start, s.speed)
            for s in plan_segments(timeline, timeline_path=str(path))]


SHOT_ONE = _event("001", "BG1", "V", "C", "01:00:00:00", "01:00:05:00", "01:00:00:00",
                  "01:00:05:00") + "* FROM CLIP NAME:  one.mov\n"
SHOT_THREE = _event("003", "BG3", "V", "C", "04:00:00:00", "04:00:02:00", "01:00:09:00",
                    "01:00:11:00") + "* FROM CLIP NAME:  three.mov\n"
BACKGROUND = ("02:00:00:00", "02:00:04:00", "01:00:05:00", "01:00:09:00")
FILL = ("03:00:00:00", "03:00:04:00", "01:00:05:00", "01:00:09:00")
CUT_TO_BACKGROUND = _event("002", "BG1", "V", "C", "01:00:05:00", "01:00:05:00", "01:00:05:00",
                           "01:00:05:00")
KEYS = {
    # A key over the background, fill in at once (Hiero's and Avid's layout).
    "K 000": _event("002", "BG2", "V", "K B", *BACKGROUND)
    + _event("002", "LOGO", "V", "K    000", *FILL)
    + "* FROM CLIP NAME:  back.mov\n* KEY CLIP NAME:  logo.mov\n",
    # A cut to the background first, then the key (its fades: below).
    "cut, K": CUT_TO_BACKGROUND + _event("002", "BG2", "V", "K B", *BACKGROUND)
    + _event("002", "LOGO", "V", "K    000", *FILL)
    + "* FROM CLIP NAME:  one.mov\n* TO CLIP NAME:  back.mov\n* KEY CLIP NAME:  logo.mov\n",
    "K O": _event("002", "BG2", "V", "K B", *BACKGROUND)
    + _event("002", "LOGO", "V", "K O  000", *FILL)
    + "* FROM CLIP NAME:  back.mov\n* KEY CLIP NAME:  logo.mov\n",
    "K, KB spelt together": _event("002", "BG2", "V", "KB", *BACKGROUND)
    + _event("002", "LOGO", "V", "K", *FILL)
    + "* FROM CLIP NAME:  back.mov\n* KEY CLIP NAME:  logo.mov\n",
}


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("key", sorted(KEYS))
def test_a_key_event_plans_the_key_over_its_background(tmp_path, key, newline):
    """The reader refused every one of these ("Transition type 'K' not supported", "incorrect
    number of fields"...): the editor got no sound. What the editor sees over the key's
    length is the key's fill, on top of the background."""
    shots = _plan(tmp_path, HEAD + SHOT_ONE + KEYS[key] + SHOT_THREE, newline)
    assert [(name, start, frames) for name, start, frames, *_ in shots] == [
        ("one.mov", 0, 120), ("logo.mov", 120, 96), ("three.mov", 216, 48)]
    assert shots[1][3] == 3 * 3600  # the fill's source, 03:00:00:00


def test_a_key_at_the_start_of_the_list_is_read(tmp_path):
    shots = _plan(tmp_path, HEAD + KEYS["K O"].replace("002", "001"))
    assert [(name, start, frames) for name, start, frames, *_ in shots] == [("logo.mov", 0, 96)]


FADE_IN = {
    # Avid's layout: a cut of no length from black, then the dissolve into the first shot.
    "from BL": _event("001", "BL", "V", "C", "00:00:00:00", "00:00:00:00", "01:00:00:00",
                      "01:00:00:00")
    + _event("001", "BG1", "V", "D    024", "01:00:00:00", "01:00:05:00", "01:00:00:00",
             "01:00:05:00")
    + "* FROM CLIP NAME:  BLACK\n* TO CLIP NAME:  one.mov\n* TO CLIP: /media/one.mov\n",
    # Picture and sound fading in together, as a wipe.
    "picture and sound": _event("001", "BL", "AA/V", "C", "00:00:00:00", "00:00:00:00",
                                "01:00:00:00", "01:00:00:00")
    + _event("001", "BG1", "AA/V", "W001 024", "01:00:00:00", "01:00:05:00", "01:00:00:00",
             "01:00:05:00")
    + "* TO CLIP NAME:  one.mov\n",
}


@pytest.mark.parametrize("layout", sorted(FADE_IN))
def test_a_list_that_fades_in_from_black_is_read(tmp_path, layout):
    """A dissolve from black into the first shot of a track, as lists often start (and as the
    CMX 3600 adapter writes `transitions.aaf`'s fade in): the reader refused the whole list
    ("Transitions can't be at the very beginning of a track", said to be garbled). The shot
    is planned where it shows, fading in from nothing; the rest of the list as before."""
    later = SHOT_THREE.replace("01:00:09:00", "01:00:05:00").replace("01:00:11:00", "01:00:07:00")
    shots = _plan(tmp_path, HEAD + FADE_IN[layout] + later)
    assert [(name, start, frames, source) for name, start, frames, source, _ in shots] == [
        ("one.mov", 0, 120, 3600), ("three.mov", 120, 48, 4 * 3600)]


def test_the_first_shot_fading_in_links_the_file_its_note_names(tmp_path):
    path = tmp_path / "cut.edl"
    path.write_text(HEAD + FADE_IN["from BL"])
    (shot,) = plan_segments(read_timeline(path), timeline_path=str(path))
    assert shot.media.referenced.endswith("/media/one.mov")


@pytest.mark.parametrize("note", ["CLIP", "FILE"])
def test_a_dissolve_links_the_incoming_shot_to_the_file_its_to_note_names(tmp_path, note):
    """A dissolve's event names both sides' files, the outgoing one's in `FROM CLIP` and the
    incoming one's in `TO CLIP` (as the CMX 3600 adapter writes them: `transition.otio` and
    `transitions.aaf` converted to an EDL). The reader links the FROM file alone, to the clip
    the event makes, which is the incoming shot: it was planned on the outgoing shot's file
    (`transition.otio`: Clip-003 on wind-up.mov, not punchline.mov), sound made for other
    frames."""
    path = tmp_path / "cut.edl"
    path.write_text(
        HEAD + SHOT_ONE.replace("* FROM", f"* FROM {note}: /media/one.mov\n* FROM")
        + _event("002", "BG1", "V", "C", "01:00:05:00", "01:00:05:00", "01:00:05:00",
                 "01:00:05:00")
        + _event("002", "BG2", "V", "D    012", "02:00:00:00", "02:00:02:00", "01:00:05:00",
                 "01:00:07:00")
        + f"* FROM CLIP NAME:  one.mov\n* FROM {note}: /media/one.mov\n"
        + f"* TO CLIP NAME:  two.mov\n* TO {note}: /media/two.mov\n")
    shots = plan_segments(read_timeline(path), timeline_path=str(path))
    assert [(shot.clip_name, os.path.basename(shot.media.referenced)) for shot in shots] == [
        ("one.mov", "one.mov"), ("two.mov", "two.mov")]


def test_a_first_transition_from_a_shot_of_its_own_is_not_read_past_that_shot(tmp_path):
    """A transition's outgoing line records no frames of its own (the cut it starts at); one
    that does, at a track's start, names a shot shown before the transition. Read as the
    incoming shot cut in, that shot would be gone without a word: it is refused, by line and
    event (the reader's refusal named neither, and called the list garbled)."""
    path = tmp_path / "cut.edl"
    path.write_text(HEAD + _event("001", "A1", "V", "C", "01:00:00:00", "01:00:02:00",
                                  "01:00:00:00", "01:00:02:00")
                    + _event("001", "BG1", "V", "D    024", "02:00:00:00", "02:00:05:00",
                             "01:00:02:00", "01:00:07:00"))
    with pytest.raises(TimelineReadError, match="line 4, event 001: a transition into the "
                       "first shot of channel V from a shot recorded before it") as raised:
        read_timeline(path)
    assert "garbled" not in str(raised.value)


def _crossfades(tmp_path, text: str) -> list[tuple[int, int]]:
    """(first, last frame + 1) of each crossfade of the sound v2a lays for the list's shots."""
    path = tmp_path / "cut.edl"
    path.write_text(text)
    timeline = read_timeline(path)
    segments = plan_segments(timeline, timeline_path=str(path), cut_handle_seconds=0)
    write_audio_tracks(timeline, segments, [
        GeneratedAudio(s.clip_id, f"/takes/{s.clip_id}_take1.wav", s.start_sample, s.num_samples,
                       s.handle_before_samples, s.handle_after_samples) for s in segments],
        visible=segments)
    (track,) = find_v2a_tracks(timeline, "SFX")
    frames = 48000 // 24
    fades = []
    for item in track:
        if isinstance(item, otio.schema.Transition):
            placed = track.range_of_child(item)  # from in_offset before the cut
            fades.append((to_samples(placed.start_time) // frames,
                          to_samples(placed.end_time_exclusive()) // frames))
    return fades


@pytest.mark.parametrize("cut_first", [False, True])
@pytest.mark.parametrize(("edit", "shown", "fade"), [
    ("K    030", [("back.mov", 120, 15), ("logo.mov", 135, 81)], (120, 150)),
    ("K O  030", [("logo.mov", 120, 81), ("back.mov", 201, 15)], (186, 216)),
    ("KO   031", [("logo.mov", 120, 80), ("back.mov", 200, 16)], (185, 216)),
    ("K    500", [("back.mov", 120, 48), ("logo.mov", 168, 48)], (120, 216)),  # at most the key
])
def test_a_key_that_fades_sounds_as_a_dissolve_over_its_fade(tmp_path, cut_first, edit, shown,
                                                             fade):
    """`K nnn` fades the key in over its first nnn frames, `K O nnn` out over its last: over
    the fade the picture goes from the background to the key over it (or back). Before, the key
    was planned over its whole length, its sound cut in at its first frame, and the background
    had none; now the background's sound crossfades with the key's over the fade."""
    names = "* FROM CLIP NAME:  back.mov\n" if not cut_first else (
        "* FROM CLIP NAME:  one.mov\n* TO CLIP NAME:  back.mov\n")
    key = (CUT_TO_BACKGROUND if cut_first else "") + _event(
        "002", "BG2", "V", "K B", *BACKGROUND) + _event("002", "LOGO", "V", edit, *FILL) + (
        names + "* KEY CLIP NAME:  logo.mov\n")
    text = HEAD + SHOT_ONE + key + SHOT_THREE
    shots = _plan(tmp_path, text)
    assert [(name, at, frames) for name, at, frames, *_ in shots] == [
        ("one.mov", 0, 120), *shown, ("three.mov", 216, 48)]
    # Each side's source runs on from where its event starts it (3600 s a reel hour).
    sources = {name: float(source) % 3600 for name, _, _, source, _ in shots}
    fades_in = shown[0][0] == "back.mov"
    assert sources["logo.mov"] * 24 == pytest.approx(shown[0][2] if fades_in else 0)
    assert sources["back.mov"] * 24 == pytest.approx(0 if fades_in else shown[0][2])
    assert _crossfades(tmp_path, text) == [fade]


@pytest.mark.parametrize("video_first", [True, False])
def test_a_split_edit_of_two_lines_is_read_with_its_picture_where_it_cuts(tmp_path, video_first):
    """Picture and sound cut 12 frames apart under one event number (audio after video, or
    leading it): the reader took the second line for a transition and failed."""
    picture = ("02:00:00:00", "02:00:04:00", "01:00:04:00", "01:00:08:00")
    sound = ("02:00:00:00", "02:00:04:00", "01:00:04:00", "01:00:08:00")
    if video_first:
        sound = ("02:00:00:12", "02:00:04:00", "01:00:04:12", "01:00:08:00")
        lines = _event("002", "T2", "V", "C", *picture) + _event("002", "T2", "AA", "C", *sound)
        delay = "SPLIT:    AUDIO DELAY=  00:00:00:12\n"
    else:
        picture = ("02:00:00:12", "02:00:04:00", "01:00:04:12", "01:00:08:00")
        lines = _event("002", "T2", "AA", "C", *sound) + _event("002", "T2", "V", "C", *picture)
        delay = "SPLIT:    VIDEO DELAY=  00:00:00:12\n"
    first = _event("001", "T1", "AA/V", "C", "01:00:00:00", "01:00:04:00", "01:00:00:00",
                   "01:00:04:00") + "* FROM CLIP NAME:  one.mov\n"
    shots = _plan(tmp_path, HEAD + first + delay + lines + "* FROM CLIP NAME:  two.mov\n")
    start = 96 if video_first else 108
    assert [(name, at) for name, at, *_ in shots] == [("one.mov", 0), ("two.mov", start)]
    assert shots[1][2] == 192 - start


def test_an_event_on_channel_none_is_no_picture(tmp_path):
    """NONE records nothing; the reader made it a video track over the picture and planned it
    at the timeline's start, in place of the first shot."""
    text = HEAD + SHOT_ONE + _event("002", "GPI", "NONE", "C", "02:00:00:00", "02:00:04:00",
                                    "01:00:05:00", "01:00:09:00") + SHOT_THREE
    shots = _plan(tmp_path, text)
    assert [(name, at) for name, at, *_ in shots] == [("one.mov", 0), ("three.mov", 216)]


@pytest.mark.parametrize("reel", ["BL", "BLK", "BLACK"])
def test_black_is_no_shot_however_the_reel_spells_it(tmp_path, reel):
    """BLK was planned as a shot to give sound to."""
    text = HEAD + SHOT_ONE + _event("002", reel, "V", "C", "00:00:00:00", "00:00:01:00",
                                    "01:00:05:00", "01:00:06:00")
    assert [name for name, *_ in _plan(tmp_path, text)] == ["one.mov"]


@pytest.mark.parametrize(("source", "fps", "speed"), [
    (("01:00:10:00", "01:00:06:00"), "-024.0", -1),  # source out before source in
    (("01:00:10:00", "01:00:14:00"), "-024.0", -1),  # as long as the record: the M2 was ignored
    (("01:00:10:00", "01:00:08:00"), "-012.0", Fraction(-1, 2)),
])
def test_a_reversed_event_runs_back_from_its_entry_point(tmp_path, source, fps, speed):
    """The M2 line's timecode is the frame shown at the record in; the picture runs backwards
    from it. The reader started the media there: the event showed the frames after it, or, at
    -100 %, played forwards."""
    text = HEAD + _event("001", "T1", "V", "C", *source, "01:00:00:00", "01:00:04:00") + (
        f"M2   T1       {fps}                01:00:10:00\n")
    ((_, start, frames, first_frame, planned_speed),) = _plan(tmp_path, text)
    assert (start, frames, planned_speed) == (0, 96, speed)
    # The frame shown first is 01:00:10:00 (at half speed it shows for two frames: the
    # plan counts from the middle of it).
    assert first_frame - 3610 == pytest.approx(0 if speed == -1 else 1 / 48)


@pytest.mark.parametrize(("line", "said"), [
    (_event("002", "T2", "V", "X", *BACKGROUND), "line 6, event 002: edit 'X'"),
    (_event("002", "T2", "V", "K B", *BACKGROUND), "line 6, event 002: a key event"),
    (_event("002", "T2", "V", "K B", *BACKGROUND) + _event("002", "T3", "A", "K", *FILL),
     "line 7, event 002: a key is a picture edit (channel V), not A"),
    ("002  T2  V  C  01:00:05:00 01:00:09:00\n", "line 6, event 002: an event line is"),
    (_event("002", "T2", "V", "C", "02:00:00:00", "02:00:04:00", "01:00:05:00", "01:00:09:24"),
     "line 6, event 002: timecode 01:00:09:24 cannot be read at 24 fps"),
    (_event("002", "T2", "V", "C", "02:00:00:00", "02:00:03:00", "01:00:05:00", "01:00:09:00"),
     "line 6, event 002: the source runs 72 frames and the record 96 at 24 fps, and no M2"),
])
def test_an_event_v2a_cannot_read_is_named_by_line_and_number(tmp_path, line, said):
    path = tmp_path / "cut.edl"
    path.write_text(HEAD + SHOT_ONE + line)
    with pytest.raises(TimelineReadError, match=re.escape(said)) as raised:
        read_timeline(path)
    assert "garbled" not in str(raised.value)  # the line says what is wrong


def test_events_out_of_record_order_on_a_track_are_said_so(tmp_path):
    """The reader's "Overlapping record in value" was said to mean a garbled or truncated
    file: it is a track whose events overlap, or are out of record order."""
    path = tmp_path / "cut.edl"
    path.write_text(HEAD + SHOT_ONE + _event("002", "T2", "V", "C", "02:00:00:00",
                                             "02:00:01:00", "01:00:04:00", "01:00:05:00"))
    with pytest.raises(TimelineReadError, match="Overlapping record in value: 01:00:04:00") as raised:
        read_timeline(path)
    assert "garbled" not in str(raised.value)
    assert "starts before the event before it on that track ends" in str(raised.value)


@pytest.mark.parametrize("note", [
    "SPLIT:    AUDIO DELAY=  00:00:00:12\n", "* EXPORTED FROM AN EDIT SUITE\n",
    "GPI GPI-T PULSE 001 RI +00:00:15:00\n"])
def test_a_note_before_the_first_event_is_read_past(tmp_path, note):
    """The reader refused any line before the first event but the title and FCM lines
    ("Unknown event type"); after a SPLIT line it took the next two lines for events."""
    first = (_event("001", "T1", "V", "C", "01:00:00:00", "01:00:04:00", "01:00:00:00",
                    "01:00:04:00")
             + _event("001", "T1", "AA", "C", "01:00:00:12", "01:00:04:00", "01:00:00:12",
                      "01:00:04:00") + "* FROM CLIP NAME:  one.mov\n")
    shots = _plan(tmp_path, HEAD + note + first + SHOT_THREE.replace("01:00:09:00", "01:00:04:00")
                  .replace("01:00:11:00", "01:00:06:00"))
    assert [(name, at, frames) for name, at, frames, *_ in shots] == [
        ("one.mov", 0, 96), ("three.mov", 96, 48)]


SPLIT_SHOT = _event("002", "T2", "AA/V", "C", "02:00:00:00", "02:00:04:00", "01:00:04:00",
                    "01:00:08:00") + "* FROM CLIP NAME:  two.mov\n"
FIRST = _event("001", "T1", "AA/V", "C", "01:00:00:00", "01:00:04:00", "01:00:00:00",
               "01:00:04:00") + "* FROM CLIP NAME:  one.mov\n"


@pytest.mark.parametrize(("split", "picture", "sound"), [
    ("SPLIT:    VIDEO DELAY=  00:00:00:12\n", 12, 0),
    ("SPLIT:    AUDIO DELAY=  00:00:00:12\n", 0, 12),
    ("SPLIT: audio delay= 00:00:00:06\n", 0, 6),
])
def test_a_split_line_above_an_event_of_one_line_delays_its_picture_or_sound(
        tmp_path, split, picture, sound):
    """CMX 3600 writes a split edit's SPLIT line directly above its event; with one line for
    picture and sound, the delayed side starts that long after the event's in point. Mid-list,
    the reader kept the line as a comment of the event before, and planned the picture from the
    event's in point, frames before the cut the editor made."""
    path = tmp_path / "cut.edl"
    path.write_text(HEAD + FIRST + split + SPLIT_SHOT)
    timeline = read_timeline(path)
    shots = _plan(tmp_path, HEAD + FIRST + split + SPLIT_SHOT)
    assert [(name, at, frames) for name, at, frames, *_ in shots] == [
        ("one.mov", 0, 96), ("two.mov", 96 + picture, 96 - picture)]
    assert shots[1][3] == 7200 + Fraction(picture, 24)  # from the frame that cuts in
    for track in timeline.audio_tracks():  # the editor's sound, from where it cuts in
        two = [clip for clip in track.find_clips() if clip.name == "two.mov"]
        assert [round(clip.source_range.start_time.value) for clip in two] == [172800 + sound]
    first = timeline.video_tracks()[0].find_clips()[0]
    assert not first.metadata["cmx_3600"].get("comments")  # not the event's before


@pytest.mark.parametrize("layout", ["below its event", "two lines"])
def test_a_split_line_that_says_no_more_than_its_lines_changes_nothing(tmp_path, layout):
    """Under its event (a note, not CMX's place for it), or above an event whose two lines
    already start where the split says, the line moves nothing."""
    delay = "SPLIT:    VIDEO DELAY=  00:00:00:12\n"
    if layout == "below its event":
        text = HEAD + FIRST + SPLIT_SHOT.replace("* FROM", delay + "* FROM")
        expected = [("one.mov", 0, 96), ("two.mov", 96, 96)]
    else:
        text = HEAD + FIRST + delay + _event(
            "002", "T2", "AA", "C", "02:00:00:00", "02:00:04:00", "01:00:04:00",
            "01:00:08:00") + _event("002", "T2", "V", "C", "02:00:00:12", "02:00:04:00",
                                    "01:00:04:12", "01:00:08:00") + "* FROM CLIP NAME:  two.mov\n"
        expected = [("one.mov", 0, 96), ("two.mov", 108, 84)]
    assert [(name, at, frames) for name, at, frames, *_ in _plan(tmp_path, text)] == expected


def test_a_split_longer_than_its_event_is_named_by_line_and_number(tmp_path):
    path = tmp_path / "cut.edl"
    path.write_text(HEAD + FIRST + "SPLIT:    VIDEO DELAY=  00:00:04:00\n" + SPLIT_SHOT)
    with pytest.raises(TimelineReadError, match=re.escape(
            "line 6, event 002: the split's VIDEO DELAY of 96 frames is not within the "
            "event's 96 frames")):
        read_timeline(path)


def _key_at_speed(edit: str, background_fps: str | None, fill_fps: str | None) -> str:
    """A key over BACKGROUND / FILL's record range, each side's source as long as its M2
    speed (fps in a 24 fps list) makes it, with one M2 line per side at a speed."""
    def side(reel, source_in, fps):
        start = otio.opentime.from_timecode(source_in, 24)
        played = 96 if fps is None else int((96 - 1) * float(fps) / 24) + 1
        source_out = otio.opentime.to_timecode(start + otio.opentime.RationalTime(played, 24), 24)
        motion = f"M2   {reel:8}       {fps}                {source_in}\n" if fps else ""
        return (source_in, source_out, "01:00:05:00", "01:00:09:00"), motion
    background, background_motion = side("BG2", "02:00:00:00", background_fps)
    fill, fill_motion = side("LOGO", "03:00:00:00", fill_fps)
    return (_event("002", "BG2", "V", "K B", *background) + _event("002", "LOGO", "V", edit, *fill)
            + background_motion + fill_motion
            + "* FROM CLIP NAME:  back.mov\n* KEY CLIP NAME:  logo.mov\n")


@pytest.mark.parametrize(("edit", "background_fps", "fill_fps", "shown"), [
    # The fill at twice the speed fades in: from the cut (15 frames in) its source is 30 in.
    ("K    030", None, "048.0", [("back.mov", 120, 15, 0, 1), ("logo.mov", 135, 81, 30, 2)]),
    # The background at 1.5x comes back as the key fades out: 81 frames in, 121.5 source frames.
    ("K O  030", "036.0", None,
     [("logo.mov", 120, 81, 0, 1), ("back.mov", 201, 15, Fraction(243, 2), Fraction(3, 2))]),
    # At 25 fps in a 24 fps list the background's 15 frames before the cut name 15 source
    # frames, as long as its record: the reader dropped such an M2 line's speed.
    ("K    030", "025.0", "048.0",
     [("back.mov", 120, 15, 0, Fraction(25, 24)), ("logo.mov", 135, 81, 30, 2)]),
])
def test_a_faded_key_at_a_speed_plans_each_side_from_where_its_speed_takes_it(
        tmp_path, edit, background_fps, fill_fps, shown):
    """A key that fades, with an M2 line for a side at a speed: before, the fade was dropped
    (the fill planned over the whole key, the background with no sound). Each side now runs
    at its own speed, the side after the cut from the source frame that speed reaches."""
    text = HEAD + SHOT_ONE + _key_at_speed(edit, background_fps, fill_fps) + SHOT_THREE
    shots = _plan(tmp_path, text)
    reel_start = {"back.mov": 2 * 3600, "logo.mov": 3 * 3600}
    assert [(name, at, frames, (source - reel_start[name]) * 24)
            for name, at, frames, source, _ in shots[1:3]] == [side[:4] for side in shown]
    assert [speed for *_, speed in shots[1:3]] == pytest.approx([side[4] for side in shown])
    assert [shot[0] for shot in (shots[0], shots[3])] == ["one.mov", "three.mov"]
    fade_in = edit.split()[1] != "O"
    assert _crossfades(tmp_path, text) == [(120, 150) if fade_in else (186, 216)]


SPLIT_AT_SPEED = {
    # One line for picture and sound, its picture 12 frames late, at twice the speed: the
    # picture's source starts 24 frames in.
    "one line": ("SPLIT:    VIDEO DELAY=  00:00:00:12\n"
                 + _event("002", "T2", "AA/V", "C", "02:00:00:00", "02:00:08:00",
                          "01:00:04:00", "01:00:08:00")
                 + "M2   T2             048.0                02:00:00:00\n", 108, 24),
    # At 1.5x a 5-frame delay starts the picture 7.5 source frames in, between two frames.
    "one line, between frames": ("SPLIT:    VIDEO DELAY=  00:00:00:05\n"
                                 + _event("002", "T2", "AA/V", "C", "02:00:00:00",
                                          "02:00:06:00", "01:00:04:00", "01:00:08:00")
                                 + "M2   T2             036.0                02:00:00:00\n",
                                 101, Fraction(15, 2)),
    # Two lines, one M2 line for the event (the picture's): the sound line, 12 frames late and
    # 24 source frames in, was refused ("Source and record duration don't match").
    "two lines": ("SPLIT:    AUDIO DELAY=  00:00:00:12\n"
                  + _event("002", "T2", "V", "C", "02:00:00:00", "02:00:08:00", "01:00:04:00",
                           "01:00:08:00")
                  + _event("002", "T2", "AA", "C", "02:00:01:00", "02:00:08:00", "01:00:04:12",
                           "01:00:08:00")
                  + "M2   T2             048.0                02:00:00:00\n", 96, 0),
}


@pytest.mark.parametrize("layout", sorted(SPLIT_AT_SPEED))
def test_a_split_edit_at_a_speed_starts_its_delayed_side_where_that_speed_takes_it(
        tmp_path, layout):
    """A split edit whose event has an M2 line: of one line, its SPLIT line was dropped (both
    sides cut in together); of two lines, the list was refused. The delayed side now starts
    the delay later, its source the delay times the speed further in."""
    event, picture_at, picture_source = SPLIT_AT_SPEED[layout]
    path = tmp_path / "cut.edl"
    path.write_text(HEAD + FIRST + event + "* FROM CLIP NAME:  two.mov\n")
    timeline = read_timeline(path)
    shots = _plan(tmp_path, HEAD + FIRST + event + "* FROM CLIP NAME:  two.mov\n")
    fps = 36 if "between" in layout else 48
    assert [(name, at, frames, speed) for name, at, frames, _, speed in shots] == [
        ("one.mov", 0, 96, 1), ("two.mov", picture_at, 192 - picture_at, Fraction(fps, 24))]
    assert (shots[1][3] - 7200) * 24 == picture_source
    sound_at, sound_source = (108, 24) if layout == "two lines" else (96, 0)
    for track in timeline.audio_tracks():  # the editor's sound, at the speed, where it cuts in
        (two,) = [clip for clip in track.find_clips() if clip.name == "two.mov"]
        assert track.range_of_child(two).start_time.value == sound_at
        assert two.source_range.start_time.value == 172800 + sound_source
        assert plan_time_scalar(two) == Fraction(fps, 24)


@pytest.mark.parametrize(("source_out", "fps", "speed"), [
    ("00:00:04:19", "048.0", 2),  # DaVinci Resolve: the source as long as the record
    ("00:00:00:12", "025.0", Fraction(25, 24)),  # 12 frames at 25 fps name 12 source frames
])
def test_an_m2_speed_holds_where_source_and_record_are_as_long(tmp_path, source_out, fps,
                                                               speed):
    """The reader ignored an M2 line whose event's source and record run as long, and the
    shot was planned at normal speed (OpenTimelineIO issue 948, a list from Resolve)."""
    record_out = otio.opentime.to_timecode(
        otio.opentime.from_timecode("01:00:00:00", 24)
        + otio.opentime.from_timecode(source_out, 24), 24)
    text = HEAD + _event("001", "AX", "V", "C", "00:00:00:00", source_out, "01:00:00:00",
                         record_out) + (
        f"M2   AX             {fps}                00:00:00:00\n"
        "* FROM CLIP NAME: SEQ_010_LAY_v001\n")
    ((name, start, frames, source, planned_speed),) = _plan(tmp_path, text)
    assert (start, frames, source) == (0, otio.opentime.from_timecode(source_out, 24).value, 0)
    assert planned_speed == pytest.approx(float(speed))
