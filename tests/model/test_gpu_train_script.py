"""scripts/gpu_train.sh's `train` and `unpack` steps: the glue around `model.train` that brings a
GPU machine's checkpoints back as float16 pieces and makes them whole float32 checkpoints here."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from model_fixtures import TINY_MODEL, write_tiny_corpus
from safetensors.torch import load_file

from model.config import TrainConfig, from_dict
from model.features import build_cache, load_features, read_packed_features, write_packed_features
from model.v2a_model import V2AModel, read_metadata

REPO = Path(__file__).resolve().parents[2]


def test_train_there_then_unpack_here_gives_the_runs_checkpoints_back(tmp_path):
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    cfg = from_dict(TrainConfig, {"model": TINY_MODEL, "corpus": str(corpus)})
    write_packed_features(load_features(build_cache(corpus, "train", cfg.model, progress=False), cfg.model),
                          tmp_path / "train.npz.xz")
    config = {"model": TINY_MODEL, "features": str(tmp_path / "train.npz.xz"), "corpus": "nowhere",
              "batch_size": 4, "steps": 4, "warmup_steps": 1, "save_every": 4, "keep_every": 2, "threads": 1}
    (tmp_path / "config.json").write_text(json.dumps(config))
    out, run, runs = tmp_path / "out", tmp_path / "run", tmp_path / "runs"
    out.mkdir()
    env = os.environ | {"OUT": str(out), "GPU_PYTHON": sys.executable, "PYTHON": sys.executable,
                        "GPU_RUN_DIR": str(run), "RUNS": str(runs)}
    script = str(REPO / "scripts" / "gpu_train.sh")

    trained = subprocess.run(["bash", script, "train", str(tmp_path / "config.json")], env=env,
                             capture_output=True, text=True, timeout=300)
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr[-2000:]
    assert {"train.log", "loss.png", "history.json"} <= {p.name for p in out.iterdir()}
    assert list(out.glob("final.fp16.safetensors.part-*")) and list(out.glob("middle.fp16.safetensors.part-*"))

    unpacked = subprocess.run(["bash", script, "unpack", str(out), "tiny"], env=env,
                              capture_output=True, text=True, timeout=300)
    assert unpacked.returncode == 0, unpacked.stdout[-2000:] + unpacked.stderr[-2000:]
    for which, original, step in (("final", run / "model.safetensors", 4), ("middle", run / "model-step2.safetensors", 2)):
        back = runs / f"tiny-{which}.safetensors"
        info = json.loads(read_metadata(str(back))["info"])
        assert info["step"] == step and info["transport"].startswith("float16")
        V2AModel.load(str(back))
        ours, theirs = load_file(str(back)), load_file(str(original))
        assert ours.keys() == theirs.keys()
        for name, value in theirs.items():
            assert ours[name].dtype == torch.float32
            # float16 for the trip, except the mel normalisation, which comes back exact
            tolerance = 0.0 if name.startswith("mel_") else 1e-3 * float(value.abs().max()) + 1e-7
            assert float((ours[name] - value).abs().max()) <= tolerance, name


def test_prepare_packs_the_split_and_picks_the_init_layers_the_config_can_take(tmp_path):
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    config = {"model": TINY_MODEL, "corpus": str(corpus), "features": str(tmp_path / "gpu" / "train.npz.xz"),
              "init_from": str(tmp_path / "gpu" / "init.safetensors")}
    (tmp_path / "config.json").write_text(json.dumps(config))
    env = os.environ | {"PYTHON": sys.executable}
    prepared = subprocess.run(["bash", str(REPO / "scripts" / "gpu_train.sh"), "prepare", str(tmp_path / "config.json"),
                               "--mel-bits", "7"], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert prepared.returncode == 0, prepared.stdout[-2000:] + prepared.stderr[-2000:]
    assert "to carry: " in prepared.stdout and "MiB of the device's 64" in prepared.stdout
    assert len(read_packed_features(tmp_path / "gpu" / "train.npz.xz").mel) == 4
    picked = load_file(str(tmp_path / "gpu" / "init.safetensors"))
    takes = V2AModel(from_dict(TrainConfig, config).model).state_dict()
    # the tiny model's sync encoder and transformer are narrower than the shipped one's: only
    # the layers of the same shape come (the shipped model has a learned decoder, the tiny none)
    assert picked and all(takes[k].shape == v.shape for k, v in picked.items())
    assert not any(k.startswith("decoder.") for k in picked)


def _script(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "scripts" / "gpu_train.sh"), *args], env=os.environ | env,
                          capture_output=True, text=True, timeout=120)


def test_unpack_from_a_wrong_folder_fails_naming_it_and_creates_nothing(tmp_path):
    runs = tmp_path / "runs"
    missing = _script("unpack", str(tmp_path / "nonexist"), "foo", RUNS=str(runs))
    assert missing.returncode != 0 and f"no folder {tmp_path / 'nonexist'}" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = _script("unpack", str(tmp_path / "empty"), "foo", RUNS=str(runs))
    assert empty.returncode != 0 and "has no final.fp16.safetensors.part-*" in empty.stderr
    assert not runs.exists()


def test_help_and_no_arguments_show_the_usage():
    for args in (["--help"], ["-h"], ["prepare", "--help"]):
        shown = _script(*args)
        assert shown.returncode == 0 and shown.stdout.startswith("usage: "), args
    bare = _script()
    assert bare.returncode == 2 and bare.stderr.startswith("usage: ")


def test_prepare_with_options_but_no_config_says_the_config_comes_first():
    done = _script("prepare", "--mel-bits", "7")
    assert done.returncode == 2
    assert done.stderr.strip() == "gpu_train.sh: prepare: CONFIG comes before options (gpu_train.sh prepare CONFIG --mel-bits 7)"


def test_prepare_with_a_config_without_features_names_what_is_missing(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": TINY_MODEL, "init_from": str(tmp_path / "init.safetensors")}))
    done = _script("prepare", str(config), PYTHON=sys.executable)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"gpu_train.sh prepare: {config} sets no features (the files prepare writes)"
