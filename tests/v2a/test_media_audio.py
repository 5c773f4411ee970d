import os
import struct

import av
import numpy as np
import pytest
import soundfile

from v2a import files
from v2a.contracts import SAMPLE_RATE
from v2a.media import audio
from v2a.media.audio import fit_to_length, read_bext, read_wav, resample, write_wav


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def independent_bext(path):
    """Walks the RIFF chunks with nothing but struct, as a DAW would."""
    data = open(path, "rb").read()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack_from("<I", data, 4)[0] == len(data) - 8
    chunks, offset = {}, 12
    while offset < len(data):
        tag, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        chunks[tag] = data[offset + 8 : offset + 8 + size]
        offset += 8 + size + size % 2
    assert offset == len(data)
    return chunks


def test_wav_has_exact_length_24_bit_48k_and_bext_placement(tmp_path):
    path = str(tmp_path / "clip.wav")
    samples = np.sin(np.linspace(0, 100, 48_001)).astype(np.float32) * 0.5  # odd length: padding
    start = 3 * 2**32 + 12345  # beyond 32 bits: TimeReference high word is used
    write_wav(
        path,
        samples,
        description="v2a shot 1",
        originator="v2a",
        time_reference_samples=start,
        coding_history="A=PCM,F=48000,W=24,M=mono,T=v2a",
    )

    chunks = independent_bext(path)
    assert list(chunks) == [b"bext", b"fmt ", b"data"]
    bext = chunks[b"bext"]
    assert bext[:10] == b"v2a shot 1" and bext[256:259] == b"v2a"
    low, high, version = struct.unpack_from("<IIH", bext, 256 + 32 + 32 + 10 + 8)
    assert low + (high << 32) == start and version == 2
    assert bext[602:] == b"A=PCM,F=48000,W=24,M=mono,T=v2a\r\n"
    assert struct.unpack("<HHIIHH", chunks[b"fmt "]) == (1, 1, 48000, 144000, 3, 24)
    assert len(chunks[b"data"]) == 48_001 * 3

    assert os.stat(path).st_mode & 0o777 == 0o666 & ~current_umask()  # not mkstemp's 0600
    info = soundfile.info(path)
    assert (info.samplerate, info.frames, info.subtype) == (SAMPLE_RATE, 48_001, "PCM_24")
    with av.open(path) as container:  # ffmpeg's reader agrees on the exact count
        decoded = sum(frame.samples for frame in container.decode(audio=0))
    assert decoded == 48_001

    back, rate = read_wav(path)
    assert rate == SAMPLE_RATE and np.max(np.abs(back - samples)) < 2e-7
    fields = read_bext(path)
    assert fields["time_reference"] == start and fields["description"] == "v2a shot 1"
    assert fields["originator"] == "v2a" and fields["loudness"] == (0x7FFF,) * 5


def test_stereo_and_clipping(tmp_path):
    path = str(tmp_path / "s.wav")
    samples = np.stack([np.full(10, 2.0), np.full(10, -2.0)], axis=1)
    write_wav(path, samples, description="", originator="v2a", time_reference_samples=0)
    back, _ = read_wav(path)
    assert back.shape == (10, 2)
    assert back[0, 0] == pytest.approx(1.0, abs=1e-6) and back[0, 1] == pytest.approx(
        -1.0, abs=1e-6
    )


def test_failed_write_leaves_no_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "clip.wav"
    write_wav(
        str(path), np.zeros(100), description="old", originator="v2a", time_reference_samples=0
    )

    def crash(*args):
        raise KeyboardInterrupt  # a run killed mid-write

    monkeypatch.setattr(files.os, "fsync", crash)  # where atomic_write looks it up
    with pytest.raises(KeyboardInterrupt):
        write_wav(
            str(path), np.zeros(200), description="new", originator="v2a", time_reference_samples=0
        )
    assert os.listdir(tmp_path) == ["clip.wav"]
    assert read_bext(str(path))["description"] == "old"  # the old file is intact


def test_unwritable_folder_is_a_clear_error(tmp_path):
    with pytest.raises(OSError, match="cannot write .*missing"):
        write_wav(
            str(tmp_path / "missing" / "a.wav"),
            np.zeros(10),
            description="",
            originator="v2a",
            time_reference_samples=0,
        )


def test_nan_samples_are_refused(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        write_wav(
            str(tmp_path / "a.wav"),
            np.array([0.0, np.nan]),
            description="",
            originator="v2a",
            time_reference_samples=0,
        )
    assert not os.listdir(tmp_path)


def test_a_long_take_is_written_a_block_at_a_time_with_the_same_samples(tmp_path, monkeypatch):
    samples = np.random.default_rng(0).uniform(-1.1, 1.1, 10_001).astype(np.float32)
    monkeypatch.setattr(audio, "_WAV_BLOCK", 10**9)
    write_wav(str(tmp_path / "whole.wav"), samples, description="d", originator="v2a",
              time_reference_samples=48_000)
    monkeypatch.setattr(audio, "_WAV_BLOCK", 1_000)
    write_wav(str(tmp_path / "blocks.wav"), samples, description="d", originator="v2a",
              time_reference_samples=48_000)
    whole, blocks = independent_bext(tmp_path / "whole.wav"), independent_bext(tmp_path / "blocks.wav")
    assert blocks[b"fmt "] == whole[b"fmt "] and blocks[b"data"] == whole[b"data"]
    assert len(blocks[b"data"]) == 3 * len(samples)


def test_a_nan_late_in_a_long_take_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(audio, "_WAV_BLOCK", 1_000)
    samples = np.zeros(10_000)
    samples[9_500] = np.nan  # found after the first blocks were written to the temp file
    with pytest.raises(ValueError, match="NaN"):
        write_wav(str(tmp_path / "a.wav"), samples, description="", originator="v2a",
                  time_reference_samples=0)
    assert not os.listdir(tmp_path)


def test_fit_to_length_trims_or_pads_with_silence():
    assert fit_to_length(np.ones(5), 3).tolist() == [1, 1, 1]
    assert fit_to_length(np.ones(2), 4).tolist() == [1, 1, 0, 0]


@pytest.mark.parametrize(
    ("rate", "n"), [(22_050, 48_000), (16_000, 47_999), (44_100, 1601), (48_000, 10)]
)
def test_resample_returns_exact_count_and_keeps_pitch(rate, n):
    seconds = n / SAMPLE_RATE
    t = np.arange(round(seconds * rate)) / rate
    tone = np.sin(2 * np.pi * 440 * t)
    out = resample(tone, rate, n)
    assert out.shape == (n,) and out.dtype == np.float32
    if n > 10_000:
        spectrum = np.abs(np.fft.rfft(out))
        assert np.argmax(spectrum) * SAMPLE_RATE / n == pytest.approx(440, abs=2)


def test_bext_carries_the_measured_loudness_in_hundredths(tmp_path):
    """Tech 3285 v2's loudness fields, as loudness tools read them: integrated, range, true
    peak, max momentary, max short-term; a measure the take is too short for stays 'not
    computed' (0x7FFF)."""
    from v2a.media.loudness import measure_loudness

    seconds = np.arange(5 * SAMPLE_RATE) / SAMPLE_RATE
    samples = (10 ** (-20 / 20) * np.sin(2 * np.pi * 1000 * seconds)).astype(np.float32)
    path = str(tmp_path / "take.wav")
    write_wav(path, samples, description="take", originator="v2a", time_reference_samples=0,
              loudness=measure_loudness(samples))
    integrated, spread, peak, momentary, short_term = read_bext(path)["loudness"]
    assert integrated == pytest.approx(-2300, abs=10)  # a mono 1 kHz sine at -20 dBFS: -23 LUFS
    assert spread == pytest.approx(0, abs=10) and peak == pytest.approx(-2000, abs=10)
    assert momentary == pytest.approx(-2300, abs=10) and short_term == pytest.approx(-2300, abs=10)

    write_wav(path, samples[: SAMPLE_RATE // 4], description="blip", originator="v2a",
              time_reference_samples=0, loudness=measure_loudness(samples[: SAMPLE_RATE // 4]))
    assert read_bext(path)["loudness"] == (0x7FFF, 0x7FFF, pytest.approx(-2000, abs=10), 0x7FFF, 0x7FFF)


def test_production_notes_go_into_an_ixml_chunk_that_other_readers_step_over(tmp_path):
    """iXML as production sound files carry it (NLEs and sound libraries show the scene and
    take); names are escaped, and a control character an export left in a clip name is dropped
    rather than making the whole chunk unreadable XML."""
    path = str(tmp_path / "take.wav")
    samples = np.zeros(4801, np.float32)  # odd: the data chunk is padded after the iXML one
    notes = audio.ProductionNotes(project="Cut <3> & co", scene="burrow\x01 é", take=3,
                                  note="v2a v2a-flow; seed 2", track="V2A SFX")
    write_wav(path, samples, description="take", originator="v2a", time_reference_samples=0,
              production=notes)
    chunks = independent_bext(path)
    assert list(chunks) == [b"bext", b"iXML", b"fmt ", b"data"]
    assert chunks[b"iXML"].startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<BWFXML>")
    assert audio.read_ixml(path) == {
        "IXML_VERSION": "2.10", "PROJECT": "Cut <3> & co", "SCENE": "burrow é", "TAKE": "3",
        "NOTE": "v2a v2a-flow; seed 2", "TRACK_NAME": "V2A SFX",
    }
    assert soundfile.info(path).frames == 4801 and read_bext(path)["originator"] == "v2a"
    with av.open(path) as container:
        assert sum(frame.samples for frame in container.decode(audio=0)) == 4801
    plain = str(tmp_path / "plain.wav")
    write_wav(plain, samples, description="", originator="v2a", time_reference_samples=0)
    assert audio.read_ixml(plain) == {}
