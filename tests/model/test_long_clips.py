"""Long clips: every stage that grew with a clip's length runs a chunk at a time, and the sound is
the same number for number as when each stage ran on the whole clip at once."""

from fractions import Fraction

import numpy as np
import opentimelineio as otio
import pytest
import torch
import torch.nn.functional as F
from model_fixtures import moving_frames, tiny_config

from model import audio_codec, network, v2a_model
from model.audio_codec import MelCodec
from model.config import AudioConfig
from model.generators import load_generator
from model.magnitude_decoder import MagnitudeNet
from model.network import motion_descriptor, motion_in_chunks
from model.sampler import window_starts
from model.v2a_model import V2AModel
from v2a.contracts import SAMPLE_RATE, GenerationRequest
from v2a.media.audio import read_wav
from v2a.media.frames import SegmentFrames
from v2a.media.synth import make_test_movie
from v2a.pipeline import run_generation

WHOLE = 10**9  # a chunk longer than any clip here: the stage runs on the whole clip at once


def _loud_mel(frames: int) -> np.ndarray:
    """Log-mels loud enough in places that the limiter works, so its chunks are checked too."""
    rng = np.random.default_rng(0)
    mel = rng.normal(-5.0, 1.5, (frames, 80))
    mel[frames // 3 : frames // 3 + 40] += 5.0
    return mel.astype(np.float32)


def _decode_whole_and_in_chunks(monkeypatch, codec: MelCodec, mel: np.ndarray, num_samples: int):
    """(whole, chunked, frames each Griffin-Lim pass of the chunked decoding held)."""
    monkeypatch.setattr(audio_codec, "DECODE_CHUNK_FRAMES", WHOLE)
    whole = codec.decode(mel, num_samples, seed=5)
    spans = []
    griffin_lim = codec.griffin_lim

    def counting(magnitude, *args):
        spans.append(magnitude.shape[1])
        return griffin_lim(magnitude, *args)

    monkeypatch.setattr(codec, "griffin_lim", counting)
    monkeypatch.setattr(audio_codec, "DECODE_CHUNK_FRAMES", 147)
    return whole, codec.decode(mel, num_samples, seed=5), spans


def test_a_long_mel_decodes_a_chunk_at_a_time_to_the_samples_of_the_whole(monkeypatch):
    # 22.05 kHz as shipped (chunks start where 48 kHz samples line up: every 147 frames); fewer
    # Griffin-Lim iterations than the 32 shipped, for time: the context still rounds up to 147.
    codec = MelCodec(AudioConfig(griffinlim_iters=8))
    num_samples = 500 * 256 * SAMPLE_RATE // 22_050 - 13
    whole, chunked, spans = _decode_whole_and_in_chunks(monkeypatch, codec, _loud_mel(500), num_samples)
    assert np.abs(whole).max() > 0.97  # the limiter was at work
    assert chunked.shape == (num_samples,)
    np.testing.assert_array_equal(chunked, whole)
    # Griffin-Lim never held the whole clip: a chunk and its context on both sides at most.
    assert len(spans) > 1 and max(spans) <= 147 + 2 * 147 < 500


def test_the_learned_high_band_decodes_in_chunks_as_whole_within_float_rounding(monkeypatch):
    # The learned magnitudes' convolutions round differently on another length (by about 1e-6),
    # which Griffin-Lim's iterations carry into the samples far below hearing: measured at most
    # 5e-5 (-86 dBFS) with 32 iterations, and none at all on the shipped checkpoint's 80 and 100 s clips.
    codec = MelCodec(AudioConfig(decoder="learned", griffinlim_iters=8))
    torch.manual_seed(0)
    codec.magnitude_net = MagnitudeNet(codec.cfg).eval()
    num_samples = 500 * 256 * SAMPLE_RATE // 22_050
    whole, chunked, _ = _decode_whole_and_in_chunks(monkeypatch, codec, _loud_mel(500), num_samples)
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=5e-4)


# 5 s asked of 4.1 s of frames: torch says it pads the tail with zeros, which is the point here.
@pytest.mark.filterwarnings("ignore:The length of signal is shorter:UserWarning")
@pytest.mark.parametrize("seconds", [0.0, 0.001, 2.7, 5.0])
def test_a_mel_longer_or_shorter_than_the_samples_asked_for_decodes_as_whole(monkeypatch, seconds):
    codec = MelCodec(AudioConfig(griffinlim_iters=4))  # 4.1 s of frames
    whole, chunked, _ = _decode_whole_and_in_chunks(monkeypatch, codec, _loud_mel(350), round(seconds * SAMPLE_RATE))
    np.testing.assert_array_equal(chunked, whole)


def test_visual_features_are_pooled_a_chunk_at_a_time_as_from_the_whole(monkeypatch):
    model = V2AModel(tiny_config())
    frames = np.random.default_rng(1).integers(0, 256, (300, 32, 32, 3), dtype=np.uint8)
    monkeypatch.setattr(v2a_model, "VISUAL_CHUNK_FRAMES", 64)
    chunked = model.prepare_visual(frames, 24.0)
    # The whole clip pooled in one go, as before the chunks.
    video = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    whole = F.interpolate(video, size=(16, 16), mode="area").round().to(torch.uint8).permute(0, 2, 3, 1)
    assert torch.equal(chunked.sync_frames, whole)
    # Past the frames' end, the clip holds its last picture, as if it were repeated.
    held = model.prepare_visual(frames, 24.0, length=340)
    repeated = model.prepare_visual(np.concatenate([frames, np.repeat(frames[-1:], 40, axis=0)]), 24.0)
    assert torch.equal(held.sync_frames, repeated.sync_frames)
    assert torch.equal(held.semantic, repeated.semantic)


def test_motion_is_described_a_chunk_at_a_time_as_for_the_whole_clip(monkeypatch):
    frames = torch.from_numpy(np.random.default_rng(2).integers(0, 256, (30, 8, 8, 3), dtype=np.uint8))
    monkeypatch.setattr(network, "MOTION_CHUNK_FRAMES", 7)
    assert torch.equal(motion_in_chunks(frames), motion_descriptor(frames[None])[0])


def test_a_clip_of_many_windows_sounds_the_same_generated_in_chunks(monkeypatch):
    torch.manual_seed(0)
    model = V2AModel(tiny_config())
    for module in model.modules():  # random output layers, so the sound depends on the picture
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.3)
    model.eval()
    seconds = 8
    frames = moving_frames(seconds * 24, event=100)
    num_samples = seconds * SAMPLE_RATE + 5

    def generate(chunk_frames: int, visual: int, motion: int) -> np.ndarray:
        monkeypatch.setattr(audio_codec, "DECODE_CHUNK_FRAMES", chunk_frames)
        monkeypatch.setattr(v2a_model, "VISUAL_CHUNK_FRAMES", visual)
        monkeypatch.setattr(network, "MOTION_CHUNK_FRAMES", motion)
        return model.generate(frames, 24.0, num_samples, seed=3)

    cfg = model.config
    tokens = int(np.ceil(audio_codec.num_frames(cfg.audio, num_samples) / cfg.net.patch))
    assert len(window_starts(tokens, cfg.net.window_tokens, cfg.sampler.overlap_tokens)) > 10
    np.testing.assert_array_equal(generate(147, 50, 40), generate(WHOLE, WHOLE, WHOLE))


def test_the_model_reading_frames_on_demand_makes_the_takes_of_decoded_frames(tmp_path, monkeypatch):
    """Through the real pipeline, a real movie and a (tiny) checkpoint: the picture handed
    undecoded and read 10 frames at a time gives the takes the decoded frames give."""
    movie = make_test_movie(str(tmp_path / "shot.mp4"), frames=60, rate=Fraction(24), size=(48, 32))
    available = otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(60, 24))
    clip = otio.schema.Clip(name="shot", source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(6, 24), otio.opentime.RationalTime(40, 24)),
        media_reference=otio.schema.ExternalReference(movie, available))
    timeline = otio.schema.Timeline(name="one")
    timeline.tracks.append(otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video, children=[clip]))
    path = str(tmp_path / "one.otio")
    otio.adapters.write_to_file(timeline, path)
    torch.manual_seed(0)
    V2AModel(tiny_config()).save(str(tmp_path / "tiny.safetensors"))
    generator = load_generator(f"v2a:{tmp_path / 'tiny.safetensors'}")
    monkeypatch.setattr(v2a_model, "VISUAL_CHUNK_FRAMES", 10)
    asked = []
    read = SegmentFrames.__getitem__
    monkeypatch.setattr(SegmentFrames, "__getitem__", lambda self, index: asked.append(index) or read(self, index))
    takes = []
    for on_demand in (False, True):
        generator.frames_on_demand = on_demand
        asked.clear()
        result = run_generation(GenerationRequest(timeline_path=path, out_dir=str(tmp_path / f"out{on_demand}")),
                                generator)
        (audio,) = result.generated
        takes.append(read_wav(audio.path)[0])
    np.testing.assert_array_equal(takes[1], takes[0])
    # On demand (the last run), the model asked for the picture 10 frames at a time, never whole.
    assert len(asked) > 2 and max(len(np.atleast_1d(index)) for index in asked) == 10


def test_a_cancel_while_the_picture_is_read_stops_before_the_rest_is_read(monkeypatch):
    # Frames decoded on demand make reading the picture an hour-long clip's first 80 s, and the
    # model checked the cancel only between sampling steps.
    import threading

    from v2a.contracts import GenerationCancelled

    monkeypatch.setattr(v2a_model, "VISUAL_CHUNK_FRAMES", 16)
    model = V2AModel(tiny_config())
    cancel, reads = threading.Event(), []

    class Picture:  # frames on demand, as v2a.media.frames.SegmentFrames hands them
        shape, dtype, ndim = (200, 32, 32, 3), np.dtype(np.uint8), 4

        def __len__(self):
            return 200

        def __getitem__(self, which):
            reads.append(np.size(which))
            cancel.set()  # the editor cancels while the first span is read
            return np.zeros((*np.shape(which), 32, 32, 3), np.uint8)

    with pytest.raises(GenerationCancelled, match="reading the picture"):
        model.generate(Picture(), 24.0, SAMPLE_RATE * 8, cancel=cancel)
    assert reads == [16]


def test_a_cancel_while_a_long_clip_is_decoded_stops_between_chunks(monkeypatch):
    import threading

    from v2a.contracts import GenerationCancelled

    monkeypatch.setattr(audio_codec, "DECODE_CHUNK_FRAMES", 100)
    codec = MelCodec(AudioConfig(griffinlim_iters=2))
    cancel, passes = threading.Event(), []
    griffin_lim = codec.griffin_lim

    def first_chunk_then_cancel(*args, **kwargs):
        passes.append(1)
        cancel.set()  # the editor cancels while the first chunk is decoded
        return griffin_lim(*args, **kwargs)

    monkeypatch.setattr(codec, "griffin_lim", first_chunk_then_cancel)
    with pytest.raises(GenerationCancelled, match="decoding the sound"):
        codec.decode(_loud_mel(500), 500 * 256 * SAMPLE_RATE // 22_050, cancel=cancel)
    assert len(passes) == 1
