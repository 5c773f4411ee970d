"""CMX 3600 lists at NTSC rates: the rate as people type it, FCM drop frame, non-drop kept."""

from fractions import Fraction
from pathlib import Path

import pytest

from otio_adapters.plan import timeline_start
from otio_adapters.read import read_timeline
from otio_adapters.takes import find_v2a_tracks
from otio_adapters.timing import exact_rate, seconds
from otio_adapters.write import write_audio_tracks, write_timeline
from v2a.contracts import GeneratedAudio, MediaSource, Segment

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "timelines"

# Two events, the second 10 minutes in: drop frame and non-drop differ by 18 frames there.
LIST = """TITLE: reel one
FCM: {fcm}

001  AX       V     C        00:00:00{s}00 00:00:01{s}00 01:00:00{s}00 01:00:01{s}00
* FROM CLIP NAME:  a.mov
002  AX       V     C        00:10:00{s}00 00:10:02{s}00 01:10:00{s}00 01:10:02{s}00
* FROM CLIP NAME:  b.mov
"""
NTSC = Fraction(30000, 1001)


def _read(tmp_path, text: str, rate) -> object:
    path = tmp_path / "cut.edl"
    path.write_text(text)
    return read_timeline(path, options={"rate": rate})


def _events(timeline) -> list[tuple[Fraction, Fraction]]:
    """(record start, source start) of each clip, in seconds from the timeline's start."""
    return [
        (seconds(clip.range_in_parent().start_time), seconds(clip.source_range.start_time))
        for clip in timeline.video_tracks()[0].find_clips()
    ]


@pytest.mark.parametrize(
    ("rate", "exact"),
    [(29.97, NTSC), ("23.976", Fraction(24000, 1001)), (59.94, Fraction(60000, 1001))],
)
def test_an_ntsc_list_reads_at_the_rate_as_people_type_it(tmp_path, rate, exact):
    """OTIO's timecode parser refused 29.97 ("SMPTE timecode does not support this rate")."""
    timeline = _read(tmp_path, LIST.format(fcm="NON-DROP FRAME", s=":"), rate)
    assert exact_rate(timeline.video_tracks()[0].duration().rate) == exact
    assert timeline_start(timeline) == 3600 * round(exact) / exact  # 01:00:00:00 non-drop


@pytest.mark.parametrize("separator", [":", ";"])
def test_a_drop_frame_list_counts_drop_frame_however_it_spells_its_timecodes(tmp_path, separator):
    """FCM: DROP FRAME with colons was read as non-drop: 01:00:00:00 3.6 s late, every event
    off by more the further in."""
    timeline = _read(tmp_path, LIST.format(fcm="DROP FRAME", s=separator), 29.97)
    hour = Fraction(107892) / NTSC  # 01:00:00;00 is frame 107892
    assert timeline_start(timeline) == hour
    ten_minutes = Fraction(17982) / NTSC  # 00:10:00;00
    assert _events(timeline) == [(0, 0), (ten_minutes, ten_minutes)]


def test_a_drop_frame_header_at_a_rate_without_drop_frame_reads_as_written(tmp_path):
    timeline = _read(tmp_path, LIST.format(fcm="DROP FRAME", s=":"), 25)
    assert timeline_start(timeline) == 3600


def _with_v2a_track(timeline) -> None:
    clip = timeline.video_tracks()[0].find_clips()[0]
    record = clip.range_in_parent()
    segment = Segment(
        clip_id="a1",
        clip_name=clip.name,
        track_index=0,
        track_name="V",
        timeline_rate=record.start_time.rate,
        record_start_frame=0,
        record_frames=int(record.duration.value),
        start_sample=0,
        num_samples=48048,
        media=MediaSource(referenced="a.mov", path="/m/a.mov"),
        source_start=0.0,
    )
    write_audio_tracks(
        timeline, [segment], [GeneratedAudio("a1", "/o/a1_take1.wav", 0, 48048, 0, 0)]
    )
    assert find_v2a_tracks(timeline, "SFX")


@pytest.mark.parametrize("changed", [False, True])
@pytest.mark.parametrize(("fcm", "separator"), [("NON-DROP FRAME", ":"), ("DROP FRAME", ";")])
def test_a_written_ntsc_list_keeps_its_own_timecodes_and_says_how_they_count(
    tmp_path, fcm, separator, changed
):
    """The adapter wrote every 29.97 list in drop frame, without an FCM line: a non-drop list's
    01:00:00:00 came back as 01:00:03;18. v2a appends to the editor's own list; `changed`: the
    list was saved again since v2a read it, and the adapter writes it (as a timeline from
    another format), corrected."""
    source = LIST.format(fcm=fcm, s=separator)
    timeline = _read(tmp_path, source, 29.97)
    _with_v2a_track(timeline)
    if changed:
        (tmp_path / "cut.edl").write_text(source + "\n")
    out = tmp_path / "out"
    out.mkdir()
    written, _, _ = write_timeline(timeline, str(out / "cut.edl"), "cmx_3600")
    text = open(written, encoding="utf-8").read()

    def timecodes(list_text: str, channel: str = "V") -> list[list[str]]:
        return [line.split()[-4:] for line in list_text.splitlines()
                if line[:3].isdigit() and line.split()[2] == channel]

    assert timecodes(text) == timecodes(source)
    # v2a's take under the first shot, in the list's own timecode too.
    assert timecodes(text, "A") == [[f"01:00:00{separator}00", f"01:00:01{separator}00"] * 2]
    assert f"FCM: {fcm}" in text.splitlines()[:3]
    assert _events(read_timeline(written, options={"rate": 29.97})) == _events(timeline)


@pytest.mark.parametrize("changed", [False, True])
def test_the_editors_speed_changed_events_come_back_as_the_list_had_them(tmp_path, changed):
    """Avid's list (speed_effects_small.edl) plays 70 frames of source at 47.6 fps under 36
    frames of record; the adapter wrote the source out as 36 / 1.98 (18 frames), and the clip's
    name, spaces and all, where the M2 line's reel goes. (`changed`: as in the test above.)"""
    source = tmp_path / "cut.edl"
    source.write_bytes((FIXTURES / "cmx3600_edl" / "speed_effects_small.edl").read_bytes())
    timeline = read_timeline(source)
    if changed:
        source.write_bytes(source.read_bytes() + b"\n")
    path = tmp_path / "speed.edl"
    write_timeline(timeline, str(path), "cmx_3600")

    def motion(text: str) -> list[list[str]]:
        lines = text.splitlines()
        return [[*lines[i - 1].split()[-4:], *lines[i].split()] for i, line in
                enumerate(lines) if line.startswith("M2") and float(line.split()[2]) > 0]

    assert motion(path.read_text()) == motion(source.read_text()) == [[
        "01:00:06:00", "01:00:08:22", "01:11:31:16", "01:11:33:04",
        "M2", "Z686_5A.", "047.6", "01:00:06:00",
    ]]


# One shot of a 25 fps list: 01:00:00:20 is 0.8 s past the hour at 25 fps, 0.833 s at 24.
LIST_AT_25 = """TITLE: rate
FCM: NON-DROP FRAME

001  SHOT     V     C        01:00:00:05 01:00:01:20 01:00:00:00 01:00:01:15
* FROM CLIP NAME:  shot
"""


@pytest.fixture(scope="module")
def list_at_25(tmp_path_factory) -> Path:
    """A 25 fps list beside its shot, a 25 fps movie from 01:00:00:00."""
    from v2a.media.synth import make_test_movie

    folder = tmp_path_factory.mktemp("list25")
    make_test_movie(str(folder / "shot.mov"), frames=60, rate=Fraction(25),
                    start_timecode="01:00:00:00")
    (folder / "cut.edl").write_text(LIST_AT_25)
    return folder / "cut.edl"


def test_a_list_read_at_the_default_rate_its_media_do_not_run_at_is_said(list_at_25, caplog):
    """A list does not say its rate: read without one, at 24, a 25 fps list's shot is 1.625 s
    long, not 1.6, and its sound made for other frames and laid off its picture. The run says which
    rate to give, before generating (a warning) and in the result's note; given, or with media
    at the rate read, nothing is said."""
    from v2a.contracts import GenerationRequest
    from v2a.pipeline import plan_job

    folder = str(list_at_25.parent)
    unsure = plan_job(GenerationRequest(str(list_at_25), "", relink_roots=(folder,)))
    assert [s.num_samples for s in unsure.segments] == [78_000]  # 01:00:00:05 to :01:20 at 24
    assert "read at 24 fps, the CMX 3600 default" in unsure.rate_note
    assert "(they run at 25 fps): if the list is at 25 fps, give --rate 25" in unsure.rate_note
    assert unsure.rate_note in caplog.text

    given = plan_job(GenerationRequest(str(list_at_25), "", adapter_options={"rate": 25},
                                       relink_roots=(folder,)))
    assert [s.num_samples for s in given.segments] == [76_800]  # 40 frames at 25 fps
    assert given.rate_note == ""
    at_24 = plan_job(GenerationRequest(str(list_at_25), "", adapter_options={"rate": 24},
                                       relink_roots=(folder,)))
    assert at_24.rate_note == ""  # asked for: the editor said so


def test_the_result_of_a_list_read_at_an_assumed_rate_says_so(list_at_25, tmp_path):
    from generator_doubles import SineGenerator

    from v2a.contracts import GenerationRequest
    from v2a.pipeline import run_generation

    request = GenerationRequest(str(list_at_25), str(tmp_path / "out"),
                                relink_roots=(str(list_at_25.parent),))
    result = run_generation(request, SineGenerator())
    assert result.format_note.startswith("the EDL names no frame rate and was read at 24 fps")


def test_the_assumed_rate_is_not_kept_in_the_otio_written_from_the_list(list_at_25, tmp_path):
    """The mark of a rate assumed is the read's, not the timeline's: an .otio written from the
    list and read again does not carry it (an .otio knows its rate)."""
    from otio_adapters.read import RATE_ASSUMED

    timeline = read_timeline(list_at_25)
    assert timeline.metadata["v2a_read"][RATE_ASSUMED] == 24
    written = tmp_path / "cut.otio"
    write_timeline(timeline, str(written), "otio_json")
    assert RATE_ASSUMED not in read_timeline(written).metadata.get("v2a_read", {})
