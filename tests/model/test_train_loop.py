"""Training: a step lowers the loss; runs save, plot and resume; torchrun DDP on gloo works."""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from model_fixtures import TINY_MODEL, tiny_config, write_tiny_corpus

from model.config import TrainConfig, from_dict
from model.features import FeatureSet
from model.network import COLOUR_FEATURES, mirror_motion, motion_descriptor
from model.train import _batch, train
from model.v2a_model import V2AModel, read_metadata

REPO = Path(__file__).resolve().parents[2]


def _tiny_batch(batch: int = 4):
    g = torch.Generator().manual_seed(0)
    cfg = tiny_config()
    mel_frames = cfg.net.window_tokens * cfg.net.patch
    mel = -6 + 2 * torch.randn(batch, mel_frames, cfg.audio.n_mels, generator=g)
    sync = torch.randint(0, 255, (batch, 12, cfg.visual.sync_size, cfg.visual.sync_size, 3), generator=g,
                         dtype=torch.uint8)
    semantic, text = torch.randn(batch, 1280, generator=g), torch.randn(batch, 384, generator=g)
    keep = torch.ones(batch, dtype=torch.bool)
    return mel, motion_descriptor(sync), semantic, text, keep, keep


def test_training_steps_lower_the_loss_on_a_tiny_batch():
    torch.manual_seed(0)
    model = V2AModel(tiny_config())
    batch = _tiny_batch()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def loss_now() -> float:  # the same noise and times each time: only the weights change
        with torch.no_grad():
            return float(model(*batch, generator=torch.Generator().manual_seed(1)))

    before = loss_now()
    for step in range(30):
        loss = model(*batch, generator=torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss_now() < 0.8 * before


def _train_config(corpus: Path, **overrides) -> TrainConfig:
    values = {"model": TINY_MODEL, "corpus": str(corpus), "batch_size": 4, "steps": 4, "warmup_steps": 2,
              "save_every": 2, "log_every": 2, "threads": 1}
    return from_dict(TrainConfig, {**values, **overrides})


def test_a_run_saves_a_loadable_checkpoint_a_loss_plot_and_resumes(tmp_path):
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    out = tmp_path / "run"
    summary = train(_train_config(corpus), out, progress=False, command="v2a train --out run")
    assert summary["steps"] == 4
    for name in ("model.safetensors", "train_state.pt", "loss.png", "history.json", "config.json"):
        assert (out / name).is_file(), name
    assert json.loads(read_metadata(str(out / "model.safetensors"))["info"])["command"] == "v2a train --out run"
    assert list((corpus / "features").glob("*/*.npz"))  # frozen features were cached
    V2AModel.load(str(out / "model.safetensors"))
    summary = train(_train_config(corpus, steps=6), out, resume=True, progress=False)
    assert summary["steps"] == 6
    assert [s for s, _ in json.loads((out / "history.json").read_text())] == list(range(1, 7))


def test_resuming_with_other_model_settings_is_refused_and_leaves_the_run_as_it_was(tmp_path):
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    out = tmp_path / "run"
    train(_train_config(corpus), out, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    wider = {**TINY_MODEL, "net": {**TINY_MODEL["net"], "dim": 16}}
    with pytest.raises(ValueError, match=r"other model settings: model.net.dim 32 \(asked for: 16\)"):
        train(_train_config(corpus, model=wider, steps=6), out, resume=True, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    # the sampler is read only when generating: a resumed run may change it
    quicker = {**TINY_MODEL, "sampler": {"steps": 3}}
    assert train(_train_config(corpus, model=quicker, steps=6), out, resume=True, progress=False)["steps"] == 6


def test_resuming_a_run_that_saved_nothing_is_refused_and_writes_nothing(tmp_path):
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    with pytest.raises(FileNotFoundError, match="--resume: no .*train_state.pt"):
        train(_train_config(corpus), tmp_path / "run", resume=True, progress=False)
    assert not (tmp_path / "run").exists()


def test_resuming_from_a_damaged_train_state_is_a_value_error_naming_it(tmp_path):
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    out = tmp_path / "run"
    train(_train_config(corpus), out, progress=False)
    state = out / "train_state.pt"
    for damaged in (state.read_bytes()[:1000], b"", b"not a torch file"):
        state.write_bytes(damaged)
        before = {p.name: p.read_bytes() for p in out.iterdir()}
        with pytest.raises(ValueError, match=r"--resume: .*train_state.pt cannot be read \("):
            train(_train_config(corpus, steps=6), out, resume=True, progress=False)
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_saves_a_resumable_state_and_says_how_to_resume(tmp_path, signum):
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"model": TINY_MODEL, "corpus": str(corpus), "batch_size": 4, "steps": 100000,
                                  "warmup_steps": 1, "save_every": 100000, "threads": 1}))
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "v2a.cli", "train", "--config", str(config), "--out", str(out)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        seen = b""
        while not re.search(rb"\| *[1-9]\d*/100000", seen):  # tqdm has counted a step: the loop runs
            chunk = os.read(proc.stderr.fileno(), 4096)
            assert chunk, seen.decode(errors="replace")[-2000:]
            seen += chunk
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signum
    step = torch.load(out / "train_state.pt", weights_only=False)["step"]
    line = stderr.decode().strip().splitlines()[-1]
    assert line.startswith(f"v2a train: stopped by {signal.Signals(signum).name} at step {step}; saved into {out}")
    assert line.endswith(f"continue with: v2a train --config {config} --out {out} --resume")
    assert "Traceback" not in stderr.decode()
    resumed = train(_train_config(corpus, steps=step + 1), out, resume=True, progress=False)
    assert resumed["steps"] == step + 1 and "stopped_by" not in resumed


def test_missing_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest"):
        train(_train_config(tmp_path / "nowhere"), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_a_run_that_cannot_start_leaves_an_earlier_run_in_that_folder_as_it_was(tmp_path):
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    out = tmp_path / "run"
    train(_train_config(corpus), out, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    wider = {**TINY_MODEL, "net": {**TINY_MODEL["net"], "dim": 16}}
    # A run stopped before its first save: only its config.json, which a start that failed
    # replaced with one describing other weights.
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    (stopped / "config.json").write_bytes(before["config.json"])
    with pytest.raises(FileNotFoundError, match="manifest"):
        train(_train_config(tmp_path / "nowhere", model=wider), stopped, progress=False)
    with pytest.raises(FileNotFoundError):
        train(_train_config(corpus, model=wider, init_from=str(tmp_path / "missing.safetensors")), stopped,
              progress=False)
    assert [p.name for p in stopped.iterdir()] == ["config.json"]
    assert (stopped / "config.json").read_bytes() == before["config.json"]
    # A run with its weights is not started over without --resume: the first save replaced them.
    with pytest.raises(ValueError, match=r"holds a run \(model.safetensors, train_state.pt\): add --resume"):
        train(_train_config(corpus, model=wider), out, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.slow  # two fresh torch processes: about 45 s on the shared 2-core machine
def test_torchrun_two_processes_on_gloo(tmp_path):
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"model": TINY_MODEL, "corpus": str(corpus), "batch_size": 4, "steps": 3,
                                  "warmup_steps": 1, "save_every": 3, "threads": 1}))
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # Its own process group, so a hang kills the workers too, not just torchrun.
    proc = subprocess.Popen(
        [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "model.train",
         "--config", str(config), "--out", str(tmp_path / "run")],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    assert json.loads(stdout[stdout.index("{"):])["steps"] == 3
    V2AModel.load(str(tmp_path / "run" / "model.safetensors"))


def test_init_from_a_checkpoint_copies_matching_layers_and_starts_changed_ones_fresh(tmp_path):
    from model.train import _init_from

    torch.manual_seed(0)
    source = V2AModel(tiny_config())
    with torch.no_grad():
        for parameter in source.parameters():
            parameter.add_(1.0)
    path = str(tmp_path / "source.safetensors")
    source.save(path)
    wider = tiny_config()
    wider.net.sync_dim = 24  # the sync encoder's shapes change; everything else matches
    model = V2AModel(wider)
    _init_from(model, path)
    torch.testing.assert_close(model.net.blocks[0].qkv.weight, source.net.blocks[0].qkv.weight)
    assert not torch.equal(model.sync.temporal.weight[:16, :16], source.sync.temporal.weight)


def test_init_from_keeps_the_parents_mel_normalisation_only_for_the_same_mels(tmp_path):
    from model.train import _init_from

    source = V2AModel(tiny_config())
    with torch.no_grad():
        source.mel_mean.fill_(-3.0)
        source.mel_std.fill_(1.5)
    path = str(tmp_path / "source.safetensors")
    source.save(path)
    same = V2AModel(tiny_config())
    _init_from(same, path)
    assert torch.all(same.mel_mean == -3.0) and torch.all(same.mel_std == 1.5)
    full_band = tiny_config()  # the same tensor shapes, mels of another band
    full_band.audio.sample_rate, full_band.audio.n_fft, full_band.audio.hop = 44_100, 2048, 512
    full_band.audio.fmax = 22_050.0
    other = V2AModel(full_band)
    with torch.no_grad():
        other.mel_mean.fill_(-7.0)  # what train() measured on this data
    _init_from(other, path)
    assert torch.all(other.mel_mean == -7.0) and not torch.all(other.mel_std == 1.5)
    torch.testing.assert_close(other.net.blocks[0].qkv.weight, source.net.blocks[0].qkv.weight)


def test_init_from_a_file_that_is_not_a_checkpoint_is_a_value_error_naming_it(tmp_path):
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    parent = tmp_path / "parent.safetensors"
    parent.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="parent.safetensors: not a readable .safetensors checkpoint"):
        train(_train_config(corpus, init_from=str(parent)), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_init_from_a_few_layers_without_metadata_takes_those_layers(tmp_path):
    # What scripts/gpu_train.sh prepare writes: the sync encoder and the null embeddings of the
    # shipped checkpoint, no config (the first GPU run of a new representation starts from it).
    from safetensors.torch import save_file

    from model.train import _init_from

    source = V2AModel(tiny_config())
    with torch.no_grad():
        for parameter in source.parameters():
            parameter.add_(1.0)
    picked = {k: v.contiguous() for k, v in source.state_dict().items() if k.startswith(("sync.", "net.null_"))}
    save_file(picked, str(tmp_path / "init.safetensors"))
    model = V2AModel(tiny_config())
    before = model.mel_mean.clone()
    _init_from(model, str(tmp_path / "init.safetensors"))
    torch.testing.assert_close(model.sync.temporal.weight, source.sync.temporal.weight)
    torch.testing.assert_close(model.net.null_text, source.net.null_text)
    assert not torch.equal(model.net.blocks[0].qkv.weight, source.net.blocks[0].qkv.weight)
    assert torch.equal(model.mel_mean, before)


def test_fine_tuning_a_model_with_a_learned_decoder_keeps_that_decoder(tmp_path):
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    learned = {**TINY_MODEL, "audio": {**TINY_MODEL["audio"], "decoder": "learned"}}
    torch.manual_seed(5)
    source = V2AModel(from_dict(TrainConfig, {"model": learned}).model)
    source.save(str(tmp_path / "source.safetensors"))
    cfg = _train_config(corpus, model=learned, init_from=str(tmp_path / "source.safetensors"))
    train(cfg, tmp_path / "run", progress=False)
    tuned = V2AModel.load(str(tmp_path / "run" / "model.safetensors"))
    for name, value in source.decoder.state_dict().items():
        assert torch.equal(tuned.decoder.state_dict()[name], value), name
    assert not torch.equal(tuned.net.blocks[0].qkv.weight, source.net.blocks[0].qkv.weight)  # it did train


def _feature_set(rows: int = 64):
    g = torch.Generator().manual_seed(0)
    motion = torch.rand(rows, 6, 114, generator=g).half()
    return FeatureSet(mel=torch.randn(rows, 8, 4, generator=g).half(), motion=motion,
                      semantic=torch.randn(rows, 16, generator=g).half(),
                      text=torch.randn(rows, 8, generator=g).half(), has_text=torch.ones(rows, dtype=torch.bool),
                      group=torch.full((rows,), -1))


def test_prompt_swap_changes_only_the_pictures_look_of_prompted_rows():
    data, index = _feature_set(), torch.arange(64)
    cfg = TrainConfig(prompt_swap=1.0, text_drop=0.5, video_drop=0.0)
    mel, motion, semantic, text, video_keep, text_keep = _batch(data, index, cfg, torch.Generator().manual_seed(3),
                                                                torch.device("cpu"))
    own_motion = torch.stack([data.motion[i] if torch.equal(motion[i, :, :64], data.motion[i, :, :64].float())
                              else mirror_motion(data.motion[i]) for i in range(64)]).float()
    swapped = (semantic != data.semantic.float()).any(1)
    assert torch.equal(swapped, text_keep)  # every prompted row, and no unprompted one
    assert 20 < int(swapped.sum()) < 44
    assert torch.equal(mel, data.mel.float()) and torch.equal(text, data.text.float())
    # Timing is untouched: motion grid and energy are the row's own; only the colour moved.
    assert torch.equal(motion[:, :, :64], own_motion[:, :, :64])
    assert torch.equal(motion[:, :, 112:], own_motion[:, :, 112:])
    assert torch.equal(motion[~swapped], own_motion[~swapped])
    assert not torch.equal(motion[swapped][:, :, COLOUR_FEATURES], own_motion[swapped][:, :, COLOUR_FEATURES])


def test_no_prompt_swap_by_default_leaves_the_picture_alone():
    data, index = _feature_set(), torch.arange(64)
    _, _, semantic, _, _, _ = _batch(data, index, TrainConfig(), torch.Generator().manual_seed(3), torch.device("cpu"))
    assert torch.equal(semantic, data.semantic.float())


def test_text_noise_moves_each_prompt_embedding_by_its_share_and_keeps_it_unit_length():
    data, index = _feature_set(), torch.arange(64)
    data.text = torch.nn.functional.normalize(data.text.float(), dim=1).half()  # as the encoder gives
    _, _, _, text, _, _ = _batch(data, index, TrainConfig(text_noise=0.7), torch.Generator().manual_seed(3),
                                 torch.device("cpu"))
    torch.testing.assert_close(text.norm(dim=1), torch.ones(64))
    cosine = (text * data.text.float()).sum(1)
    # Noise of norm 0.7 around a unit vector: cosine about 1 / sqrt(1 + 0.49) = 0.82 (8 dimensions
    # here, so it scatters).
    assert 0.7 < float(cosine.mean()) < 0.93 and float(cosine.max()) < 0.999
    _, _, _, plain, _, _ = _batch(data, index, TrainConfig(), torch.Generator().manual_seed(3), torch.device("cpu"))
    assert torch.equal(plain, data.text.float())


def test_caption_mix_blends_a_prompt_only_with_captions_of_its_own_class():
    data, index = _feature_set(), torch.arange(64)
    # Class 0 has captions along axes 0 and 1, class 1 along axes 2 and 3; the last 16 rows have
    # no class. Every row's own caption is one axis.
    data.group = torch.tensor([0] * 24 + [1] * 24 + [-1] * 16)
    axis = torch.tensor([i % 2 for i in range(24)] + [2 + i % 2 for i in range(24)] + [4] * 16)
    data.text = torch.nn.functional.one_hot(axis, 8).half()
    _, _, _, text, _, text_keep = _batch(data, index, TrainConfig(caption_mix=1.0, text_drop=0.25),
                                         torch.Generator().manual_seed(3), torch.device("cpu"))
    torch.testing.assert_close(text.norm(dim=1), torch.ones(64))
    own_class = torch.tensor([[1, 1, 0, 0]] * 24 + [[0, 0, 1, 1]] * 24 + [[0, 0, 0, 0]] * 16, dtype=torch.bool)
    assert float(text[:, :4][~own_class].abs().max()) == 0.0  # never another class's caption
    mixed = text_keep[:48] & ((text[:48, :4] > 0.05).sum(1) == 2)
    assert int(mixed.sum()) > 10  # most prompted rows drew the class's other caption and blended
    untouched = ~text_keep.clone()
    untouched[48:] = True  # no class: nothing to mix with
    assert torch.equal(text[untouched], data.text.float()[untouched])


def test_picture_mix_blends_a_picture_only_with_pictures_of_its_own_class_and_keeps_the_timing():
    data, index = _feature_set(), torch.arange(64)
    # Class 0's pictures lie along semantic axes 0 and 1, class 1's along 2 and 3; the last 16
    # rows have no class. Each row's own picture is one axis.
    data.group = torch.tensor([0] * 24 + [1] * 24 + [-1] * 16)
    axis = torch.tensor([i % 2 for i in range(24)] + [2 + i % 2 for i in range(24)] + [4] * 16)
    data.semantic = torch.nn.functional.one_hot(axis, 16).half()
    cfg = TrainConfig(picture_mix=1.0, video_drop=0.25)
    mel, motion, semantic, text, video_keep, _ = _batch(data, index, cfg, torch.Generator().manual_seed(3),
                                                        torch.device("cpu"))
    own_class = torch.tensor([[1, 1, 0, 0]] * 24 + [[0, 0, 1, 1]] * 24 + [[0, 0, 0, 0]] * 16, dtype=torch.bool)
    assert float(semantic[:, :4][~own_class].abs().max()) == 0.0  # never another class's picture
    assert torch.allclose(semantic.sum(1), torch.ones(64))  # a convex blend of two pictures
    mixed = (semantic[:, :4] > 0.05).sum(1) == 2
    assert int(mixed[:48].sum()) > 10 and not mixed[48:].any()  # no class: nothing to mix with
    assert not (mixed & ~video_keep).any()  # a dropped picture stays dropped, not blended back in
    # Only the picture's look: the motion (timing) channels are the row's own or its mirror.
    own_motion = torch.stack([data.motion[i] if torch.equal(motion[i, :, :64], data.motion[i, :, :64].float())
                              else mirror_motion(data.motion[i]) for i in range(64)]).float()
    assert torch.equal(motion[:, :, :64], own_motion[:, :, :64])
    assert torch.equal(motion[:, :, 112:], own_motion[:, :, 112:])
    colour_moved = (motion[:, :, 64:112] != own_motion[:, :, 64:112]).any(2).any(1)
    # A blend with a picture along the same axis leaves the semantic as it was, so every row
    # whose semantic blended moved its colour too, and colour moved only where a blend may be.
    assert not (mixed & ~colour_moved).any()
    assert not (colour_moved & ~(video_keep & (data.group >= 0))).any()
    assert torch.equal(mel, data.mel.float()) and torch.equal(text, data.text.float())


def test_the_training_loss_makes_no_tensor_off_the_models_device():
    # The meta device holds no data and refuses to mix with CPU tensors, so a tensor made on the CPU
    # inside the loss (a position table, a frequency ramp) fails here as it would on a GPU.
    model = V2AModel(tiny_config()).to("meta")
    mel, motion, semantic, text, keep, _ = (t.to("meta") for t in _tiny_batch())
    loss = model.training_loss(mel, motion, semantic, text, keep, keep)
    loss.backward()
    assert loss.device.type == "meta" and model.net.blocks[0].qkv.weight.grad is not None


def test_fit_steps_to_time_shortens_the_schedule_to_the_measured_speed():
    from model.train import _fit_steps

    cfg = TrainConfig(steps=100_000, max_minutes=10.0, fit_steps_to_time=True)
    fitted = _fit_steps(cfg, step=51, seconds=30.0, per_step=0.1, world=1)
    assert fitted.steps == 51 + int((600 - 30) / 0.1)
    assert _fit_steps(TrainConfig(steps=200, max_minutes=10.0), 51, 30.0, 0.1, 1).steps == 200  # never raised


def test_a_run_with_fit_steps_to_time_ends_on_its_fitted_schedule(tmp_path, caplog):
    # The loop's wiring: the schedule is fitted once, after the untimed start, and the run then
    # ends where the fitted schedule does (or at max_minutes on a machine slower than measured),
    # far short of the configured million steps.
    import logging

    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    cfg = _train_config(corpus, steps=1_000_000, max_minutes=0.05, fit_steps_to_time=True,
                        save_every=1_000_000, log_every=1_000)
    with caplog.at_level(logging.INFO, logger="model.train"):
        summary = train(cfg, tmp_path / "run", progress=False)
    fitted = [r.getMessage() for r in caplog.records if r.getMessage().startswith("fit_steps_to_time")]
    assert len(fitted) == 1, fitted
    fitted_steps = int(fitted[0].split(", ")[1].split(" steps")[0])
    assert 50 < summary["steps"] <= fitted_steps < 1_000_000
    assert summary["fitted_steps"] == fitted_steps  # for the line saying how to resume
    state = torch.load(tmp_path / "run" / "train_state.pt", weights_only=False)
    assert state["config"]["steps"] == fitted_steps  # what a --resume continues with


def test_a_fitted_run_stopped_says_how_to_resume_on_its_fitted_schedule(tmp_path, monkeypatch, capsys):
    """A resumed run is not fitted again: "continue with: … --resume" went back to the config's
    steps, and so to another learning-rate schedule than the one the run was on."""
    import model.train
    from model.train_cli import _run_train

    monkeypatch.setattr(model.train, "train", lambda cfg, out, resume, command: {
        "steps": 70, "fitted_steps": 1234, "stopped_by": signal.SIGINT})
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"fit_steps_to_time": True, "max_minutes": 5}))
    args = argparse.Namespace(config=str(config), out=str(tmp_path / "run"), resume=False, set=[])
    monkeypatch.setattr(sys, "argv", ["v2a", "train", "--config", str(config), "--out", args.out])
    assert _run_train(args) == 128 + signal.SIGINT
    assert capsys.readouterr().err.strip().endswith(
        f"--out {args.out} --resume --set steps=1234 --set fit_steps_to_time=false")
