"""The learned magnitude decoder: it learns, it travels in the checkpoint, it decodes exactly."""

import json

import numpy as np
import pytest
import torch
from model_fixtures import TINY_MODEL, moving_frames, tiny_config, write_tiny_corpus

from model.audio_codec import MelCodec
from model.config import AudioConfig, ModelConfig, from_dict
from model.magnitude_decoder import (
    MagnitudeNet,
    _spectra,
    held_out_loss,
    train_decoder,
    train_magnitude_net,
)
from model.v2a_model import V2AModel, read_metadata
from v2a.contracts import SAMPLE_RATE


def _bursts(count: int, seed: int) -> list[np.ndarray]:
    """Decaying noise bursts, some bright, some dull: broadband, so the band above the mels'
    8 kHz top follows from the bands below it."""
    rng = np.random.default_rng(seed)
    t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    out = []
    for _ in range(count):
        noise = rng.standard_normal(len(t))
        dull = rng.uniform(0, 0.95)
        for i in range(1, len(noise)):  # a one-pole low-pass of random strength
            noise[i] = (1 - dull) * noise[i] + dull * noise[i - 1]
        out.append((0.2 * noise * np.exp(-t * rng.uniform(2, 10))).astype(np.float32))
    return out


def test_training_predicts_magnitudes_the_pseudo_inverse_cannot():
    torch.manual_seed(0)
    codec = MelCodec(AudioConfig())
    train = [tuple(x.half() for x in _spectra(codec, a)) for a in _bursts(24, seed=1)]
    held_out = [tuple(x.half() for x in _spectra(codec, a)) for a in _bursts(4, seed=2)]
    net = MagnitudeNet(codec.cfg, width=64, blocks=2)
    before = held_out_loss(net, held_out)
    train_magnitude_net(net, train, steps=150, batch=8, crop=24, lr=3e-3, progress=False)
    after = held_out_loss(net, held_out)
    assert after < 0.6 * before
    # Above the mels' 8 kHz top the pseudo-inverse leaves the bins empty; the net fills them in.
    mel, magnitude = held_out[0]  # the magnitudes of the bins above 8 kHz
    with torch.no_grad():
        learned = net(mel[None].float())[0].exp()
    pinv = codec.pinv_magnitude(mel.float()).T[:, codec.first_unmeasured_bin:]
    true = magnitude.float().exp()
    assert learned.shape == true.shape == (mel.shape[0], 513 - 372)
    assert (learned - true).abs().mean() < 0.7 * (pinv - true).abs().mean()


def _learned_config() -> ModelConfig:
    return from_dict(ModelConfig, {**TINY_MODEL, "audio": {**TINY_MODEL["audio"], "decoder": "learned"}})


def test_a_learned_decoder_travels_in_the_checkpoint_and_output_is_exact(tmp_path):
    torch.manual_seed(0)
    model = V2AModel(_learned_config())
    path = str(tmp_path / "m.safetensors")
    model.save(path)
    loaded = V2AModel.load(path)
    assert loaded.config.audio.decoder == "learned"
    assert torch.equal(loaded.decoder.out.weight, model.decoder.out.weight)
    frames = moving_frames(30, 32, event=10)
    audio = loaded.generate(frames, 24.0, 48_001, seed=3)
    assert audio.shape == (48_001,) and np.isfinite(audio).all()
    assert np.array_equal(audio, loaded.generate(frames, 24.0, 48_001, seed=3))


def test_learned_decoding_without_weights_is_a_clear_error():
    codec = MelCodec(AudioConfig(decoder="learned"))
    with pytest.raises(ValueError, match="needs its weights"):
        codec.decode(np.full((40, 80), -5.0, np.float32), 4800)


def test_train_decoder_copies_the_flow_weights_and_records_the_run(tmp_path):
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=3)
    torch.manual_seed(0)
    source = V2AModel(tiny_config())
    source.save(str(tmp_path / "source.safetensors"), {"trained": "yes"})
    out = tmp_path / "with-decoder.safetensors"
    summary = train_decoder(str(tmp_path / "source.safetensors"), str(corpus), str(out), steps=3,
                            command="v2a train-decoder ...", progress=False)
    model = V2AModel.load(str(out))
    assert model.config.audio.decoder == "learned"
    for name, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    info = json.loads(read_metadata(str(out))["info"])
    assert info["trained"] == "yes" and info["decoder"]["steps"] == 3 and info["decoder"]["train_examples"] == 3
    assert summary["out"] == str(out)


def test_the_learned_magnitude_keeps_the_measured_band_and_fills_the_rest():
    torch.manual_seed(0)
    model = V2AModel(_learned_config())
    mel = torch.full((20, 80), -4.0) + torch.randn(20, 80)
    combined = model.codec.learned_magnitude(mel)
    cut = model.codec.first_unmeasured_bin
    assert cut == 372  # 8 kHz at 22,050 Hz / 1,024 bins
    assert torch.equal(combined[:cut], model.codec.pinv_magnitude(mel)[:cut])
    with torch.no_grad():
        assert torch.allclose(combined[cut:], model.decoder(mel[None])[0].exp().T)
    assert float(combined[cut:].min()) > 0  # the pseudo-inverse leaves these empty


@pytest.mark.parametrize(("option", "message"), [("--steps=0", "0 must be at least 1"),
                                                 ("--steps=-3", "-3 must be at least 1"),
                                                 ("--threads=-1", "-1 must not be negative"),
                                                 ("--limit=-1", "-1 must not be negative")])
def test_train_decoder_refuses_counts_out_of_range_before_any_work(tmp_path, capsys, option, message):
    from v2a.cli import main

    out = tmp_path / "decoder.safetensors"
    with pytest.raises(SystemExit) as stopped:
        main(["train-decoder", "--checkpoint", str(tmp_path / "model.safetensors"), "--out", str(out), option])
    assert stopped.value.code == 2
    assert f"{option.split('=')[0]}: {message}" in capsys.readouterr().err
    assert not out.exists()
