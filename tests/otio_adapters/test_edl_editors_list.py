"""A timeline read from a CMX 3600 list is written back as that list, line for line and byte for
byte, with v2a's audio events appended; the adapter rewrote it (renamed reels, dropped CDL,
locator and SOURCE FILE lines, wrote B events as V and A, wipes as dissolves). Real lists
(../shared/fixtures) and lists laid out as editors' tools write them, the real CMX 3600 adapter."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest

from otio_adapters.plan import plan_segments
from otio_adapters.read import read_timeline
from otio_adapters.takes import find_v2a_tracks, to_samples
from otio_adapters.write import write_audio_tracks, write_timeline
from v2a.contracts import GeneratedAudio

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "timelines"
LISTS = FIXTURES / "cmx3600_edl"
pytestmark = pytest.mark.skipif(not LISTS.is_dir(), reason="../shared/fixtures is absent")

# Lists as editors' tools write what the adapter changed: CDL and locators (Resolve, Baselight),
# a B event with an AUD line, split edits, a wipe; Windows newlines and no newline at the end;
# drop frame; audio events of the editor's own.
HAND_MADE = {
    "cdl_locators": ("""\
TITLE: CDL AND LOCATORS
FCM: NON-DROP FRAME

001  A001C003 V     C        11:22:33:00 11:22:35:00 01:00:00:00 01:00:02:00
* FROM CLIP NAME:  A001C003_shot.mov
* SOURCE FILE: A001C003_220101_R1AB
*ASC_SOP (1.0 1.0 1.0)(0.0 0.0 0.0)(1.0 1.0 1.0)
*ASC_SAT 1.0
* LOC: 01:00:01:00 RED     check focus
002  A002C001 V     C        12:00:00:00 12:00:03:00 01:00:02:00 01:00:05:00
* FROM CLIP NAME:  A002C001_shot.mov
* ASC_SOP (0.9 1.0 1.1)(0.01 0.0 -0.01)(1.0 1.0 1.0)
* ASC_SAT 0.8
* LOC: 01:00:03:12 YELLOW  VFX 010
""", {}),
    "b_events": ("""\
TITLE: B EVENTS AND AUD
FCM: NON-DROP FRAME

001  TAPE1    B     C        01:00:00:00 01:00:04:00 01:00:00:00 01:00:04:00
* FROM CLIP NAME:  interview.mov
002  TAPE2    B     C        02:00:10:00 02:00:12:00 01:00:04:00 01:00:06:00
AUD  3    4
* FROM CLIP NAME:  cutaway.mov
003  TAPE3    V     C        03:00:00:00 03:00:03:00 01:00:06:00 01:00:09:00
* FROM CLIP NAME:  broll.mov
""", {}),
    "split_edit": ("""\
TITLE: SPLIT EDITS
FCM: NON-DROP FRAME

001  TAPE1    AA/V  C        01:00:00:00 01:00:04:00 01:00:00:00 01:00:04:00
* FROM CLIP NAME:  one.mov
002  TAPE2    AA/V  C        02:00:00:00 02:00:04:00 01:00:04:00 01:00:08:00
SPLIT:    AUDIO DELAY=  00:00:00:12
* FROM CLIP NAME:  two.mov
003  TAPE3    V     C        03:00:00:00 03:00:03:00 01:00:08:00 01:00:11:00
* FROM CLIP NAME:  three.mov
""", {}),
    "wipe": ("""\
TITLE: WIPE
FCM: NON-DROP FRAME

001  TAPE1    V     C        01:00:00:00 01:00:05:00 01:00:00:00 01:00:05:00
* FROM CLIP NAME:  one.mov
002  TAPE1    V     C        01:00:05:00 01:00:05:00 01:00:05:00 01:00:05:00
002  TAPE2    V     W001 030 02:00:00:00 02:00:05:00 01:00:05:00 01:00:10:00
EFFECTS NAME IS WIPE LEFT
* FROM CLIP NAME:  one.mov
* TO CLIP NAME:  two.mov
003  TAPE3    V     C        03:00:00:00 03:00:05:00 01:00:10:00 01:00:15:00
* FROM CLIP NAME:  three.mov
""", {}),
    "windows_newlines": (
        "TITLE: CRLF LIST\r\nFCM: NON-DROP FRAME\r\n\r\n"
        "001  A001     V     C        01:00:00:00 01:00:05:00 01:00:00:00 01:00:05:00\r\n"
        "* FROM CLIP NAME:  a.mov\r\n"
        "002  A002     V     C        02:00:00:00 02:00:03:00 01:00:05:00 01:00:08:00\r\n"
        "* FROM CLIP NAME:  b.mov", {}),
    "drop_frame": ("""\
TITLE: DROP FRAME LIST
FCM: DROP FRAME

001  A001     V     C        01:00:00:00 01:00:05:00 01:00:00:00 01:00:05:00
* FROM CLIP NAME:  a.mov
002  A002     V     C        02:10:00:00 02:10:05:00 01:10:00:00 01:10:05:00
* FROM CLIP NAME:  b.mov
""", {"rate": 29.97}),
    # No FCM line: the reader counts each timecode by its separator, ":" non-drop.
    "ntsc_without_fcm": ("""\
TITLE: NO FCM
001  A001     V     C        01:00:00:00 01:00:05:00 01:00:00:00 01:00:05:00
* FROM CLIP NAME:  a.mov
002  A002     V     C        02:10:00:00 02:10:05:00 01:10:00:00 01:10:05:00
* FROM CLIP NAME:  b.mov
""", {"rate": 29.97}),
    "editors_audio": ("""\
TITLE: WITH AUDIO
FCM: NON-DROP FRAME

001  A001     V     C        01:00:00:00 01:00:05:00 01:00:00:00 01:00:05:00
* FROM CLIP NAME:  a.mov
002  A002     V     C        02:00:00:00 02:00:05:00 01:00:05:00 01:00:10:00
* FROM CLIP NAME:  b.mov
003  A001     AA    C        01:00:00:00 01:00:05:00 01:00:00:00 01:00:05:00
AUD  3    4
* FROM CLIP NAME:  a.mov
004  MUSIC    A3    C        00:00:10:00 00:00:20:00 01:00:00:00 01:00:10:00
* FROM CLIP NAME:  score.wav
""", {}),
    # Events the reader could not read before the edl-events session, or planned wrongly.
    "key": ("""\
TITLE: KEYS
FCM: NON-DROP FRAME

001  BG1      V     C        01:00:00:00 01:00:05:00 01:00:00:00 01:00:05:00
* FROM CLIP NAME:  one.mov
002  BG1      V     C        01:00:05:00 01:00:05:00 01:00:05:00 01:00:05:00
002  BG2      V     K B      02:00:00:00 02:00:04:00 01:00:05:00 01:00:09:00
002  LOGO     V     K    030 03:00:00:00 03:00:04:00 01:00:05:00 01:00:09:00
* FROM CLIP NAME:  one.mov
* TO CLIP NAME:  back.mov
* KEY CLIP NAME:  logo.mov
003  BG3      V     K B      04:00:00:00 04:00:02:00 01:00:09:00 01:00:11:00
003  TITLE    V     K O  000 05:00:00:00 05:00:02:00 01:00:09:00 01:00:11:00
""", {}),
    "split_two_lines": ("""\
TITLE: SPLIT ON TWO LINES
FCM: NON-DROP FRAME

001  TAPE1    AA/V  C        01:00:00:00 01:00:04:00 01:00:00:00 01:00:04:00
SPLIT:    AUDIO DELAY=  00:00:00:12
002  TAPE2    V     C        02:00:00:00 02:00:04:00 01:00:04:00 01:00:08:00
002  TAPE2    AA    C        02:00:00:12 02:00:04:00 01:00:04:12 01:00:08:00
* FROM CLIP NAME:  two.mov
SPLIT:    VIDEO DELAY=  00:00:00:06
003  TAPE3    AA    C        03:00:00:00 03:00:02:00 01:00:08:00 01:00:10:00
003  TAPE3    V     C        03:00:00:06 03:00:02:00 01:00:08:06 01:00:10:00
""", {}),
    # CMX 3600's place for a SPLIT line: directly above its event, here one line for both.
    "split_one_line": ("""\
TITLE: SPLIT ON ONE LINE
FCM: NON-DROP FRAME

001  TAPE1    AA/V  C        01:00:00:00 01:00:04:00 01:00:00:00 01:00:04:00
* FROM CLIP NAME:  one.mov
SPLIT:    VIDEO DELAY=  00:00:00:12
002  TAPE2    AA/V  C        02:00:00:00 02:00:04:00 01:00:04:00 01:00:08:00
* FROM CLIP NAME:  two.mov
""", {}),
    # A key that fades and split edits, each at a speed (M2), read since the edl-edges session.
    "speed_key_and_splits": ("""\
TITLE: SPEEDS IN KEYS AND SPLITS
FCM: NON-DROP FRAME

001  TAPE1    AA/V  C        01:00:00:00 01:00:04:00 01:00:00:00 01:00:04:00
* FROM CLIP NAME:  one.mov
002  BG2      V     K B      02:00:00:00 02:00:04:00 01:00:04:00 01:00:08:00
002  LOGO     V     K    030 03:00:00:00 03:00:07:23 01:00:04:00 01:00:08:00
M2   LOGO           048.0                03:00:00:00
* FROM CLIP NAME:  back.mov
* KEY CLIP NAME:  logo.mov
SPLIT:    VIDEO DELAY=  00:00:00:05
003  TAPE3    AA/V  C        03:00:00:00 03:00:06:00 01:00:08:00 01:00:12:00
M2   TAPE3          036.0                03:00:00:00
* FROM CLIP NAME:  three.mov
""", {}),
    "notes_before_the_first_event": ("""\
TITLE: NOTES FIRST
* EXPORTED FROM AN EDIT SUITE
FCM: NON-DROP FRAME
SPLIT:    AUDIO DELAY=  00:00:00:12
001  TAPE1    V     C        01:00:00:00 01:00:04:00 01:00:00:00 01:00:04:00
001  TAPE1    AA    C        01:00:00:12 01:00:04:00 01:00:00:12 01:00:04:00
* FROM CLIP NAME:  one.mov
""", {}),
    "none_black_reverse": ("""\
TITLE: Ünïcödé — café: 50% * 'odd' #1
FCM: NON-DROP FRAME

001  AX       V     C        01:00:10:00 01:00:06:00 01:00:00:00 01:00:04:00
M2   AX       -024.0                01:00:10:00
* FROM CLIP NAME:  backwards.mov
002  BLK      V     C        00:00:00:00 00:00:01:00 01:00:04:00 01:00:05:00
003  GPI      NONE  C        00:00:00:00 00:00:02:00 01:00:05:00 01:00:07:00
004  BL       V     C        00:00:00:00 00:00:01:00 01:00:05:00 01:00:06:00
005  TAPE5    B     C        05:00:00:00 05:00:02:00 01:00:06:00 01:00:08:00
""", {}),
    "four_digit_events": ("TITLE: LONG LIST\nFCM: NON-DROP FRAME\n" + "".join(
        f"{n:03d}  R{n % 7:<7} V     C        "
        f"{otio.opentime.to_timecode(otio.opentime.RationalTime(86400 + 12 * n, 24), 24)} "
        f"{otio.opentime.to_timecode(otio.opentime.RationalTime(86412 + 12 * n, 24), 24)} "
        f"{otio.opentime.to_timecode(otio.opentime.RationalTime(86388 + 12 * n, 24), 24)} "
        f"{otio.opentime.to_timecode(otio.opentime.RationalTime(86400 + 12 * n, 24), 24)}\n"
        for n in range(1, 1002)), {}),
}
REAL = {"premiere_example.edl": {}, "dissolve_test.edl": {}, "gap_test.edl": {},
        "25fps.edl": {"rate": 25}, "speed_effects_small.edl": {}}
ALL = {**{name: ((LISTS / name).read_bytes(), options) for name, options in REAL.items()},
       **{name: (text.encode(), options) for name, (text, options) in HAND_MADE.items()}}


def _with_takes(timeline, path: Path, take: int = 1, first: int = 0) -> list[GeneratedAudio]:
    """Take `take` for every planned clip from the `first`, with the plan's handles (a
    crossfade at each cut), laid as the pipeline lays them (the files need not exist)."""
    segments = plan_segments(timeline, timeline_path=str(path), cut_handle_seconds=0.08)
    generated = [
        GeneratedAudio(s.clip_id, f"/takes/audio/{s.clip_id}_take{take}.wav", s.start_sample,
                       s.num_samples, s.handle_before_samples, s.handle_after_samples)
        for s in segments[first:]
    ]
    write_audio_tracks(timeline, segments, generated, visible=segments)
    return generated


def _source(tmp_path: Path, data: bytes) -> Path:
    source = tmp_path / "cut.edl"
    source.write_bytes(data)
    return source


def _write(timeline, folder: Path):
    folder.mkdir(exist_ok=True)
    return write_timeline(timeline, str(folder / "cut.edl"), "cmx_3600")


def _appended(data: bytes, written: bytes) -> list[str]:
    """The lines v2a wrote after the editor's list, which must begin the written one."""
    newline = b"\r\n" if b"\r\n" in data else b"\n"
    editors = data if data.endswith(newline) else data + newline  # its last line ended
    assert written.startswith(editors)
    return written[len(editors):].decode().splitlines()


def _editors_tracks(timeline) -> list[str]:
    """The editor's tracks as read, serialised."""
    ours = {id(track) for track in find_v2a_tracks(timeline, "SFX")}
    return [track.to_json_string() for track in timeline.tracks if id(track) not in ours]


def _layout(timeline) -> list[tuple]:
    """v2a's track as laid: each clip's place and each crossfade's sides, in samples."""
    (track,) = find_v2a_tracks(timeline, "SFX")
    return [(to_samples(item.in_offset), to_samples(item.out_offset))
            if isinstance(item, otio.schema.Transition) else
            (Path(item.media_reference.target_url).name,
             to_samples(track.range_of_child(item).start_time),
             to_samples(track.range_of_child(item).duration))
            for item in track if not isinstance(item, otio.schema.Gap)]


def _numbers(lines: list[str]) -> list[int]:
    return [int(line.split()[0]) for line in lines if line[:3].isdigit()]


@pytest.mark.parametrize("name", sorted(ALL))
def test_the_written_list_is_the_editors_line_for_line_with_v2a_events_after(tmp_path, name):
    data, options = ALL[name]
    source = _source(tmp_path, data)
    timeline = read_timeline(source, options=options)
    generated = _with_takes(timeline, source)
    written, fallback, note = _write(timeline, tmp_path / "out")

    appended = _appended(data, Path(written).read_bytes())
    # Each event after the editor's is one of v2a's takes, numbered past the editor's events.
    editors_numbers = _numbers(data.decode().splitlines())
    assert min(_numbers(appended)) == max(editors_numbers) + 1
    assert sorted(line.removeprefix("* SOURCE FILE: ") for line in appended
                  if line.startswith("* SOURCE FILE:")) == sorted(a.path for a in generated)
    assert all(line[:3].isdigit() or line.startswith("* ") for line in appended)
    # In the list's own timecode: the first take starts under the first shot, spelled alike.
    first_shot = next(line for line in data.decode().splitlines() if line[:3].isdigit())
    assert appended[0].split()[-2] == first_shot.split()[-2]
    # Read back: the editor's events as the source gives them, v2a's track as v2a laid it.
    reread = read_timeline(written, options=options)
    assert _editors_tracks(reread) == _editors_tracks(read_timeline(source, options=options))
    assert _layout(reread) == _layout(read_timeline(fallback))
    assert "the editor's list as they wrote it" in note


def test_a_rerun_replaces_v2a_events_and_never_doubles_them(tmp_path):
    """Run, then run again on the written list into its own folder (as `RegenerateClip` does),
    then once more: each time the editor's list and one set of v2a's events, the newest takes."""
    data = (LISTS / "dissolve_test.edl").read_bytes()
    source = _source(tmp_path, data)
    out = tmp_path / "out"
    timeline = read_timeline(source)
    _with_takes(timeline, source)
    written, _, _ = _write(timeline, out)
    first = _appended(data, Path(written).read_bytes())

    for take in (2, 3):
        timeline = read_timeline(written)
        again = _with_takes(timeline, Path(written), take, first=1)  # all but the first shot
        written, fallback, _ = _write(timeline, out)
        appended = _appended(data, Path(written).read_bytes())
        assert len(appended) == len(first)  # as many events as the first run's, no more
        files = [Path(line.split(": ")[1]).name for line in appended if "SOURCE FILE" in line]
        assert files[1:] == [Path(audio.path).name for audio in again]
        assert files[0].endswith("_take1.wav")  # the first shot's take, kept
        assert _layout(read_timeline(written)) == _layout(read_timeline(fallback))
    assert _numbers(appended) == _numbers(first)


def test_an_editors_event_naming_a_take_on_a_channel_of_theirs_stays(tmp_path):
    """An editor who cut one of v2a's takes into their own audio (A2, beside their music) keeps
    that event on a re-run: only a channel that holds nothing but takes is read as v2a's."""
    data = b"""\
TITLE: TAKE CUT IN
FCM: NON-DROP FRAME

001  A001     V     C        01:00:00:00 01:00:05:00 01:00:00:00 01:00:05:00
* FROM CLIP NAME:  a.mov
002  MUSIC    A2    C        00:00:10:00 00:00:12:00 01:00:00:00 01:00:02:00
* FROM CLIP NAME:  score.wav
003  AX       A2    C        01:00:02:00 01:00:04:00 01:00:02:00 01:00:04:00
* FROM CLIP NAME:  kept_take1.wav
* SOURCE FILE: /elsewhere/kept_take1.wav
"""
    source = _source(tmp_path, data)
    timeline = read_timeline(source)
    _with_takes(timeline, source)
    written, _, _ = _write(timeline, tmp_path / "out")
    timeline = read_timeline(written)
    _with_takes(timeline, Path(written), take=2)
    written, _, _ = _write(timeline, tmp_path / "out")
    appended = _appended(data, Path(written).read_bytes())
    assert [line.split()[2] for line in appended if line[:3].isdigit()] == ["A3"]
    assert appended[-2].endswith("_take2.wav") and appended[-1] == "* V2A TRACK: SFX"


def test_an_editors_channel_of_a_copied_take_is_theirs_and_stays_in_the_list(tmp_path):
    """A list keeps no track names: an editor's channel holding only a take they copied (reel
    AX, the take in FROM CLIP NAME and SOURCE FILE, as v2a writes its events, and AX as
    Premiere writes a clip without a reel) was read as v2a's track and taken out of the list.
    In a list v2a noted its events in, only the note marks v2a's: the editor's channel stays,
    byte for byte, and v2a's events are refilled on theirs. (A list with no note of v2a's at
    all is one written before v2a noted its events, read as then: test_v2a_track_identity.)"""
    data = b"""\
TITLE: TAKE ON A2
FCM: NON-DROP FRAME

001  A001     V     C        01:00:00:00 01:00:05:00 01:00:00:00 01:00:05:00
* FROM CLIP NAME:  a.mov
"""
    source = _source(tmp_path, data)
    timeline = read_timeline(source)
    _with_takes(timeline, source)
    written, _, _ = _write(timeline, tmp_path / "out")
    copied = b"""\
900  AX       A2    C        01:00:02:00 01:00:04:00 01:00:02:00 01:00:04:00
* FROM CLIP NAME:  liked_take1.wav
* SOURCE FILE: /elsewhere/liked_take1.wav
"""
    handed = Path(written).read_bytes() + copied  # the editor's copy on a channel of theirs
    source = _source(tmp_path, handed)
    timeline = read_timeline(source)
    (ours,) = find_v2a_tracks(timeline, "SFX")
    assert ours.name == "A1"
    _with_takes(timeline, source, take=2)
    written, _, _ = _write(timeline, tmp_path / "again")
    again = Path(written).read_bytes()
    assert again.startswith(data) and copied in again  # the editor's lines, as they wrote them
    assert again.count(b"_take1.wav") == 2  # the editor's copy alone, v2a's events refilled
    back = read_timeline(written)
    (ours,) = find_v2a_tracks(back, "SFX")
    assert [Path(c.media_reference.target_url).name.endswith("_take2.wav")
            for c in ours.find_clips()] == [True]
    editors = [track for track in back.audio_tracks() if track is not ours]
    assert [track.name for track in editors] == ["A2"]


def test_a_list_changed_since_it_was_read_is_not_written_from_the_stale_copy(tmp_path):
    """Changed elsewhere: the adapter's list of what was read, the note says why; saved again
    over the list v2a wrote while v2a ran: left as saved, the result in the .otio beside it."""
    data = (LISTS / "dissolve_test.edl").read_bytes()
    source = _source(tmp_path, data)
    timeline = read_timeline(source)
    _with_takes(timeline, source)
    source.write_bytes(data.replace(b"clip_B", b"clip_C"))
    written, fallback, note = _write(timeline, tmp_path / "out")
    assert written.endswith("cut.edl") and fallback.endswith("cut.otio")
    assert f"the EDL {source} changed since v2a read it" in note
    assert b"clip_C" not in Path(written).read_bytes()
    assert _layout(read_timeline(fallback)) == _layout(timeline)

    saved = Path(written).read_bytes() + b"* SAVED AGAIN\n"
    again = read_timeline(written)
    _with_takes(again, Path(written), take=2)
    Path(written).write_bytes(saved)
    result, fallback, note = _write(again, tmp_path / "out")
    assert Path(written).read_bytes() == saved
    assert result == fallback and fallback.endswith("cut.otio") and "changed since" in note


@pytest.mark.parametrize("data", [
    # Avid and Premiere on Windows write their code page: "Café" was "not text" to the reader.
    "TITLE: Café « cut »\r\nFCM: NON-DROP FRAME\r\n\r\n"
    "001  A001     V     C        01:00:00:00 01:00:05:00 01:00:00:00 01:00:05:00\r\n"
    "* FROM CLIP NAME:  été.mov\r\n".encode("cp1252"),
    # A byte-order mark (Windows tools): the reader took the TITLE line for an unknown event.
    b"\xef\xbb\xbfTITLE: MARKED\nFCM: NON-DROP FRAME\n\n"
    b"001  A001     V     C        01:00:00:00 01:00:05:00 01:00:00:00 01:00:05:00\n"
    b"* FROM CLIP NAME:  a.mov\n",
], ids=["windows_1252", "byte_order_mark"])
def test_a_list_not_in_plain_utf8_is_read_and_written_back_in_its_own_bytes(tmp_path, data):
    source = _source(tmp_path, data)
    timeline = read_timeline(source)
    assert timeline.name in ("Café « cut »", "MARKED")
    generated = _with_takes(timeline, source)
    written, _, _ = _write(timeline, tmp_path / "out")
    written_data = Path(written).read_bytes()
    assert written_data.startswith(data) and written_data.count(b"\xef\xbb\xbf") <= 1
    assert [Path(c.media_reference.target_url).name for c in find_v2a_tracks(
        read_timeline(written), "SFX")[0].find_clips()] == [Path(a.path).name for a in generated]


@pytest.mark.parametrize("line", ["* FROM CLIP: {}", "* FROM FILE: {}", "* SOURCE FILE: {}"])
def test_relative_media_paths_in_the_editors_notes_name_their_files_from_where_it_is_written(
        tmp_path, line):
    """The reader takes the media of a FROM CLIP or FROM FILE note relative to the list's
    folder; written into another folder byte for byte, the editor's shot named a file beside
    the new list that is not there (offline). A SOURCE FILE path with a folder in it is a path
    too; a bare name there (a reel, as Resolve writes) is a name and stays as written."""
    media = tmp_path / "project" / "media" / "a.mov"
    media.parent.mkdir(parents=True)
    media.write_bytes(b"")
    note = line.format("media/a.mov")
    data = ("TITLE: RELATIVE\nFCM: NON-DROP FRAME\n\n"
            "001  A001     V     C        01:00:00:00 01:00:05:00 01:00:00:00 01:00:05:00\n"
            f"* FROM CLIP NAME:  a.mov\n{note}\n* SOURCE FILE: A001C003_220101_R1AB\n").encode()
    source = tmp_path / "project" / "cut.edl"
    source.write_bytes(data)
    timeline = read_timeline(source)
    _with_takes(timeline, source)
    out = tmp_path / "deliveries"
    written, _, _ = _write(timeline, out)

    lines = Path(written).read_text().splitlines()
    prefix = note.removesuffix("media/a.mov")
    (rebased,) = [text.removeprefix(prefix) for text in lines if text.startswith(prefix)
                  and not text.endswith((".wav", "R1AB"))]
    assert (out / rebased).resolve() == media.resolve()
    assert "* SOURCE FILE: A001C003_220101_R1AB" in lines
    # Written beside the list it was read from, the list is the editor's again, byte for byte.
    again = read_timeline(written)
    _with_takes(again, Path(written))
    before = Path(written).read_bytes()
    beside, _, _ = write_timeline(again, written, "cmx_3600")
    assert Path(beside).read_bytes() == before
    if "SOURCE" not in prefix:  # what the reader links: the shot's media, found from there
        (clip,) = read_timeline(written).video_tracks()[0].find_clips()
        assert (out / clip.media_reference.target_url).resolve() == media.resolve()


def test_a_changed_list_whose_keys_fade_gets_the_adapters_list_with_each_fade_a_dissolve(
        tmp_path):
    """A key that fades is read onto the picture track, as its background dissolving into its
    fill: changed since read, the list is the adapter's, one video track it can write (a key
    that cuts in puts its fill on a second track: the .otio alone), and the note says so."""
    text, _ = HAND_MADE["key"]
    data = text.replace("K O  000", "K O  020").encode()
    source = _source(tmp_path, data)
    timeline = read_timeline(source)
    _with_takes(timeline, source)
    source.write_bytes(data + b"* CHANGED\n")
    written, fallback, note = _write(timeline, tmp_path / "out")
    assert written.endswith("cut.edl") and fallback.endswith("cut.otio")
    assert "keys that fade as dissolves" in note
    events = [line.split() for line in Path(written).read_text().splitlines()
              if line[:3].isdigit() and line.split()[2] == "V"]
    # Each fade a dissolve over its frames: into the key's fill from its start, out of it
    # into the background to its end.
    assert [(fields[1], fields[3:5], fields[-2:]) for fields in events if fields[3] == "D"] == [
        ("LOGO", ["D", "030"], ["01:00:05:00", "01:00:09:00"]),
        ("BG3", ["D", "020"], ["01:00:10:04", "01:00:11:00"])]
    # No event of no length but a dissolve's outgoing cut: the adapter wrote the background
    # the fade in covers whole (cut mid-fade as v2a reads it) as one, which many importers
    # refuse (edl-edges session).
    for fields, following in zip(events, events[1:] + [None], strict=True):
        if fields[-2] == fields[-1]:
            assert following is not None and following[0] == fields[0], fields
            assert following[3] == "D"


def test_the_otio_beside_a_list_rewritten_in_place_lets_a_later_run_write_into_it(tmp_path):
    """A re-run writing into its own result (as the CLI run on it, or a regeneration, does)
    recorded in the .otio beside the list the list as it was before v2a overwrote it: a run on
    that .otio then said the list had "changed since v2a read it" and wrote the .otio alone."""
    data = (LISTS / "dissolve_test.edl").read_bytes()
    source = _source(tmp_path, data)
    out = tmp_path / "out"
    timeline = read_timeline(source)
    _with_takes(timeline, source)
    written, _, _ = _write(timeline, out)
    timeline = read_timeline(written)
    _with_takes(timeline, Path(written), take=2)
    written, fallback, _ = _write(timeline, out)  # in place

    timeline = read_timeline(fallback)
    again = _with_takes(timeline, Path(fallback), take=3)
    result, fallback, note = _write(timeline, out)
    assert result == written and "changed since" not in note, note
    appended = _appended(data, Path(written).read_bytes())
    files = [Path(line.split(": ")[1]).name for line in appended if "SOURCE FILE" in line]
    assert files == [Path(audio.path).name for audio in again]
    assert _layout(read_timeline(written)) == _layout(read_timeline(fallback))


def test_a_list_the_editor_saved_after_v2a_wrote_it_is_left_as_saved_by_a_run_on_the_otio(
        tmp_path):
    """The .otio beside the list records the list as v2a wrote it: the editor's save over it
    afterwards is told apart, and a run on the .otio leaves it (it wrote the list from the
    source list the .otio recorded, over the editor's save)."""
    source = _source(tmp_path, (LISTS / "dissolve_test.edl").read_bytes())
    timeline = read_timeline(source)
    _with_takes(timeline, source)
    written, fallback, _ = _write(timeline, tmp_path / "out")
    saved = Path(written).read_bytes() + b"* SAVED AGAIN\n"
    Path(written).write_bytes(saved)

    timeline = read_timeline(fallback)
    _with_takes(timeline, Path(fallback), take=2)
    result, fallback, note = _write(timeline, tmp_path / "out")
    assert Path(written).read_bytes() == saved
    assert result == fallback and f"the EDL {written} changed since v2a read it" in note


@pytest.mark.parametrize("in_place", [False, True], ids=["from_the_editors_list", "in_place"])
def test_a_stop_between_the_otio_and_the_list_renames_leaves_an_otio_a_run_still_writes_into(
        tmp_path, monkeypatch, stop_before_the_edls_rename, in_place):
    """Stopped (Ctrl-C) after the .otio beside the list was renamed into place and before the
    list was: the .otio recorded the list as staged, which never landed, and a run on it (a
    regeneration) found the list "changed since v2a read it" and wrote the .otio alone. The
    record keeps the list as it was before too, and the list v2a wrote from."""
    data = (LISTS / "dissolve_test.edl").read_bytes()
    source = _source(tmp_path, data)
    out, read_from = tmp_path / "out", source
    if in_place:  # run again on the list v2a wrote, in its folder
        timeline = read_timeline(source)
        _with_takes(timeline, source)
        read_from = Path(_write(timeline, out)[0])
    before = read_from.read_bytes()
    timeline = read_timeline(read_from)
    _with_takes(timeline, read_from, take=2)
    stop_before_the_edls_rename()
    with pytest.raises(KeyboardInterrupt):
        _write(timeline, out)
    monkeypatch.undo()
    listed = out / "cut.edl"
    assert (listed.read_bytes() if in_place else listed.exists()) == (before if in_place else False)

    timeline = read_timeline(out / "cut.otio")
    _with_takes(timeline, out / "cut.otio", take=3)
    written, fallback, note = _write(timeline, out)
    assert (written, fallback) == (str(listed), str(out / "cut.otio")), note
    assert "changed since" not in note
    appended = "\n".join(_appended(data, listed.read_bytes()))
    assert "_take3.wav" in appended and "_take2.wav" not in appended

    # The list now as this run wrote it; one the editor saves over it is still told apart.
    listed.write_bytes(listed.read_bytes() + b"* SAVED AGAIN\n")
    timeline = read_timeline(out / "cut.otio")
    _with_takes(timeline, out / "cut.otio", take=4)
    result, fallback, note = _write(timeline, out)
    assert result == fallback and f"the EDL {listed} changed since v2a read it" in note
