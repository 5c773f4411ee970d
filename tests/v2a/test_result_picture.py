"""`v2a generate --picture`: the shots, the sound laid under them and its spectrogram."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import opentimelineio as otio
import soundfile
from PIL import Image

from v2a.contracts import SAMPLE_RATE, GeneratedAudio
from v2a.result_picture import picture_strip, sound_under_picture, spectrogram_db

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _take(folder: Path, name: str, start: int, body: int, before: int, after: int,
          level: float) -> GeneratedAudio:
    """A take whose handles hold 0.5 and whose part under the picture holds `level`."""
    samples = np.full(before + body + after, 0.5, np.float32)
    samples[before:before + body] = level
    path = str(folder / f"{name}.wav")
    soundfile.write(path, samples, SAMPLE_RATE, subtype="FLOAT")  # exact levels
    return GeneratedAudio(name, path, start, body, before, after)


def test_the_sound_drawn_is_each_takes_part_under_its_picture_where_it_sits(tmp_path):
    first = _take(tmp_path, "a", start=48_000, body=9_600, before=480, after=960, level=0.25)
    second = _take(tmp_path, "b", start=57_600, body=4_800, before=960, after=0, level=-0.75)

    sound = sound_under_picture([first, second], 48_000, 14_400, rate=SAMPLE_RATE)

    assert len(sound) == 14_400
    assert np.all(sound[:9_600] == 0.25) and np.all(sound[9_600:] == -0.75)  # no handle's 0.5
    at_16k = sound_under_picture([first, second], 48_000, 14_400)
    assert len(at_16k) == 4_800
    assert abs(at_16k[1_000] - 0.25) < 1e-3 and abs(at_16k[4_000] + 0.75) < 1e-3


def test_the_spectrogram_puts_a_tone_in_its_frequency_row():
    rate, hz = 16_000, 1_000
    tone = np.sin(2 * np.pi * hz * np.arange(rate * 2) / rate).astype(np.float32)
    spectrum = spectrogram_db(tone, max_columns=50)
    assert spectrum.shape[1] <= 50
    row = int(np.argmax(spectrum.mean(axis=1)))
    assert row == round(hz / (rate / 512))  # the bin of 1 kHz in 512-sample windows
    assert spectrum[row].mean() > -10  # a full-scale sine reads near 0 dBFS


def test_the_strip_shows_each_shot_and_grey_where_none_is():
    from v2a.contracts import GenerationRequest
    from v2a.pipeline import plan_request

    _, segments = plan_request(GenerationRequest(str(SAMPLES / "sample.otio"), out_dir=""))
    end = max(s.start_sample + s.num_samples for s in segments)
    strip = picture_strip(segments, 0, end, count=40, size=16)

    assert strip.shape == (16, 40 * 16, 3)
    tiles = strip.reshape(16, 40, 16, 3).transpose(1, 0, 2, 3)
    grey = [bool(np.all(tile == 128)) for tile in tiles]
    gap = [not any(s.start_sample <= round((i + 0.5) * end / 40) < s.start_sample + s.num_samples
                   for s in segments) for i in range(40)]
    assert any(gap), "the sample has a gap between 'wake up' and 'stretch'"
    assert grey == gap


def test_generate_draws_the_picture_once_the_timeline_is_written(tmp_path, capsys):
    from v2a.cli import main

    project = tmp_path / "project"
    shutil.copytree(SAMPLES / "media", project / "media")
    shutil.copy(SAMPLES / "sample.otio", project / "cut.otio")
    picture = tmp_path / "pictures" / "cut.png"  # its folder made as --out's is

    code = main(["generate", str(project / "cut.otio"), "--out", str(tmp_path / "out"),
                 "--generator", "motion-bursts", "--picture", str(picture)])

    assert code == 0
    assert f"picture: {picture}" in capsys.readouterr().out
    with Image.open(picture) as image:
        assert image.size == (1600, 640)
        pixels = np.asarray(image.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 1_000  # frames and a spectrogram
    assert [p.name for p in picture.parent.iterdir() if p.name.startswith(".")] == []
    assert otio.adapters.read_from_file(str(tmp_path / "out" / "cut.otio"))


def test_a_picture_path_that_cannot_be_written_is_refused_before_anything_runs(tmp_path, capsys):
    from v2a.cli import main

    (tmp_path / "a file").write_text("")
    for wrong in (tmp_path / "a file" / "cut.png", tmp_path / "cut.jpg"):
        code = main(["generate", str(SAMPLES / "sample.otio"), "--out", str(tmp_path / "out"),
                     "--generator", "silence", "--picture", str(wrong)])
        assert code == 2
        assert f"--picture {wrong}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_picture_that_fails_to_draw_leaves_no_file_and_the_run_done(tmp_path, capsys,
                                                                      monkeypatch):
    import matplotlib.figure

    from v2a.cli import main

    def broken(self, target, *args, **kwargs):  # half a PNG into what it was given, then fail
        if hasattr(target, "write"):
            target.write(b"\x89PNG half")
        else:
            Path(target).write_bytes(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken)
    shutil.copytree(SAMPLES / "media", tmp_path / "media")
    shutil.copy(SAMPLES / "sample.otio", tmp_path / "cut.otio")
    picture = tmp_path / "shots" / "cut.png"
    picture.parent.mkdir()

    code = main(["generate", str(tmp_path / "cut.otio"), "--out", str(tmp_path / "out"),
                 "--generator", "silence", "--picture", str(picture)])

    assert code == 0
    assert "the picture was not drawn (OSError: disk full)" in capsys.readouterr().err
    assert list(picture.parent.iterdir()) == []
    assert (tmp_path / "out" / "cut.otio").is_file()


def test_a_run_that_generates_nothing_draws_no_picture_and_says_so(tmp_path, capsys):
    from v2a.cli import main

    shutil.copy(SAMPLES / "sample.otio", tmp_path / "cut.otio")  # its media left behind: offline
    picture = tmp_path / "cut.png"

    code = main(["generate", str(tmp_path / "cut.otio"), "--out", str(tmp_path / "out"),
                 "--generator", "silence", "--picture", str(picture)])

    assert code == 1
    assert "no picture drawn: no take was generated" in capsys.readouterr().err
    assert not picture.exists()
