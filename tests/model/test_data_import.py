"""`v2a data import-folder`: a user's videos with sound, cut into the corpus format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile

from model.data.import_folder import ImportError_, import_folder
from model.data.io import read_mp4_frames
from model.eval.onsets import detect_onsets
from v2a.contracts import SAMPLE_RATE
from v2a.media.synth import make_test_movie

REPO = Path(__file__).resolve().parents[2]
BUNNY = REPO / "samples" / "media" / "bigbuckbunny_320x180.mp4"


def rows(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]


def test_clicks_stay_on_their_flash_frames_after_import(tmp_path):
    """A movie flashing every 12 frames with a click on each flash, imported from 0.25 s:
    the clicks land on the frames that show the flashes."""
    make_test_movie(str(tmp_path / "flash.mp4"), frames=150, rate=24, size=(160, 120),
                    with_audio=True, flash_every=12)
    (tmp_path / "captions.csv").write_text("file,start,label,split\nflash,0.25,beeps,train\n")
    summary = import_folder(tmp_path, tmp_path / "captions.csv", tmp_path / "out", workers=1,
                            progress=False)
    assert summary["per_split"]["train"] == 1
    row = rows(tmp_path / "out")[0]
    frames = read_mp4_frames(tmp_path / "out" / row["video"])
    audio, rate = soundfile.read(tmp_path / "out" / row["audio"], dtype="float32")
    assert frames.shape == (96, 160, 160, 3) and rate == SAMPLE_RATE
    assert audio.shape == (4 * SAMPLE_RATE,)
    flashes = np.arange(0.25, 3.9, 0.5)
    heard, _ = detect_onsets(audio, SAMPLE_RATE)
    assert all(np.min(np.abs(heard - t)) <= 0.02 for t in flashes), (heard, flashes)
    corner = frames[:, -12:, :12].mean(axis=(1, 2, 3))  # background: grey 96, flash 200
    bright_frames = np.flatnonzero(corner > 150)
    assert np.array_equal(bright_frames, np.round(flashes * 24).astype(int)), bright_frames
    assert row["onsets"] == [round(float(t), 4) for t in heard]


@pytest.mark.skipif(not BUNNY.is_file(), reason="samples/media/bigbuckbunny_320x180.mp4 absent")
def test_real_footage_with_its_own_sound_imports_vggsound_style(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(BUNNY, folder / "bunny_000001.mp4")  # VGGSound names: {id}_{start:06d}.mp4
    (tmp_path / "vgg.csv").write_text("bunny,1,rabbit waking up,test\n")
    import_folder(folder, tmp_path / "vgg.csv", tmp_path / "out", workers=1, progress=False)
    row = rows(tmp_path / "out")[0]
    assert row["split"] == "test" and row["class"] == "rabbit waking up"
    audio, _ = soundfile.read(tmp_path / "out" / row["audio"], dtype="float32")
    assert audio.shape == (4 * SAMPLE_RATE,) and np.abs(audio).max() > 0.001
    assert read_mp4_frames(tmp_path / "out" / row["video"]).shape == (96, 160, 160, 3)
    assert json.loads((tmp_path / "out" / "licenses.json").read_text())


def test_bad_captions_name_the_line_and_field(tmp_path):
    make_test_movie(str(tmp_path / "a.mp4"), frames=30, rate=25, with_audio=True)
    cases = {
        "a,zero,label,train\n": "start seconds",
        "a,nan,label,train\n": "start seconds",
        "a,inf,label,train\n": "start seconds",
        "a,0,label,holdout\n": "split",
        "missing,0,label,train\n": "no video",
        "a,0,label,train\na,1,label,test\n": "one split only",
        "a,0\n": "expected file",
    }
    for text, message in cases.items():
        (tmp_path / "c.csv").write_text(text)
        with pytest.raises(ImportError_, match=message) as info:
            import_folder(tmp_path, tmp_path / "c.csv", tmp_path / "out", progress=False)
        assert "c.csv" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_start_past_the_end_is_a_clear_error_and_leaves_nothing(tmp_path):
    make_test_movie(str(tmp_path / "a.mp4"), frames=30, rate=25, with_audio=True)
    (tmp_path / "c.csv").write_text("a,9,label,train\n")
    with pytest.raises(ImportError_, match="past the video's end"):
        import_folder(tmp_path, tmp_path / "c.csv", tmp_path / "out", workers=1, progress=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.building").exists()


def test_a_window_that_runs_out_of_video_is_refused_not_padded(tmp_path):
    """A 4 s example from 2 s of a 5 s movie was 1 s of held frame and digital silence."""
    make_test_movie(str(tmp_path / "a.mp4"), frames=125, rate=25, with_audio=True)
    (tmp_path / "c.csv").write_text("a,2,label,train\n")
    with pytest.raises(ImportError_, match=r"line 1: the 4 s example from 2.0 s runs past the video's end .*at most 1.00 s fits"):
        import_folder(tmp_path, tmp_path / "c.csv", tmp_path / "out", workers=1, progress=False)
    assert not (tmp_path / "out").exists()
    (tmp_path / "c.csv").write_text("a,1,label,train\n")  # 1 s + 4 s: exactly the movie
    assert import_folder(tmp_path, tmp_path / "c.csv", tmp_path / "out", workers=1,
                         progress=False)["per_split"]["train"] == 1


def test_a_capture_starting_inside_a_gop_keeps_its_clicks_on_their_flashes(tmp_path):
    """A TV or stream capture starts wherever the recording began: here 10 packets before a
    keyframe, which cannot be decoded. Its picture starts at that keyframe; the frames were
    counted from the first packet (0.25 s before it) while the sound was placed from the
    keyframe, so every example's sound ran 0.24 s ahead of its picture."""
    source = make_test_movie(str(tmp_path / "source.ts"), frames=150, rate=24, size=(160, 120),
                             with_audio=True, flash_every=12)
    folder = tmp_path / "captures"
    folder.mkdir()
    with av.open(source) as given, av.open(str(folder / "flash.ts"), "w") as capture:
        video, audio = given.streams.video[0], given.streams.audio[0]
        written = {video.index: capture.add_stream_from_template(video),
                   audio.index: capture.add_stream_from_template(audio)}
        packets = [packet for packet in given.demux() if packet.dts is not None]
        begins = [p for p in packets if p.stream.index == video.index][10].dts * video.time_base
        for packet in packets:
            if packet.dts * packet.time_base >= begins:
                packet.stream = written[packet.stream.index]
                capture.mux(packet)
    (folder / "captions.csv").write_text("file,start,label,split\nflash.ts,0.25,beeps,train\n")
    import_folder(folder, folder / "captions.csv", tmp_path / "out", workers=1, progress=False)
    row = rows(tmp_path / "out")[0]
    frames = read_mp4_frames(tmp_path / "out" / row["video"])
    audio_out, _ = soundfile.read(tmp_path / "out" / row["audio"], dtype="float32")
    heard, _ = detect_onsets(audio_out, SAMPLE_RATE)
    corner = frames[:, -12:, :12].mean(axis=(1, 2, 3))  # background: grey 96, flash 200
    seen = np.flatnonzero(corner > 150) / 24
    assert len(heard) == len(seen) > 4
    assert np.max(np.abs(heard - seen)) <= 0.03, (heard, seen)


@pytest.mark.parametrize("extension", [".MTS", ".m2ts", ".ts"])
def test_a_camera_or_broadcast_file_is_found_without_its_extension(tmp_path, extension):
    """A captions row names a video without its extension (as VGGSound's do); AVCHD cameras
    write .MTS/.m2ts, captures .ts, broadcast cameras .mxf: those were found only when the row
    spelled the extension out."""
    make_test_movie(str(tmp_path / f"clip{extension}"), frames=120, rate=24, size=(160, 120),
                    with_audio=True, flash_every=12)
    (tmp_path / "c.csv").write_text("clip,0,beeps,train\n")
    assert import_folder(tmp_path, tmp_path / "c.csv", tmp_path / "out", workers=1,
                         progress=False)["per_split"]["train"] == 1
