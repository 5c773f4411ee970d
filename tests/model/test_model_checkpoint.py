"""Checkpoints describe themselves: loading needs nothing but the file."""

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from model_fixtures import moving_frames, tiny_config

from model.config import ModelConfig, from_dict
from model.v2a_model import V2AModel, read_metadata
from v2a.contracts import SAMPLE_RATE


def test_loading_from_the_file_alone_gives_the_same_model(tmp_path):
    torch.manual_seed(0)
    model = V2AModel(tiny_config())
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
        model.mel_mean.fill_(-5.0)
    path = str(tmp_path / "tiny.safetensors")
    model.save(path, info={"step": 3})
    loaded = V2AModel.load(path)
    assert loaded.config == model.config  # the config came from the file's metadata
    frames = moving_frames(24, event=9)
    np.testing.assert_array_equal(
        model.generate(frames, 24.0, SAMPLE_RATE, seed=4), loaded.generate(frames, 24.0, SAMPLE_RATE, seed=4)
    )
    metadata = read_metadata(path)
    assert json.loads(metadata["info"]) == {"step": 3}
    frozen = json.loads(metadata["frozen"])
    assert set(frozen) == {"efficientnet-lite0", "all-MiniLM-L6-v2"}
    assert all(len(digest) == 64 for digest in frozen.values())


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = str(tmp_path / "other.safetensors")
    save_file({"x": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not a v2a checkpoint"):
        V2AModel.load(path)
    with pytest.raises(FileNotFoundError, match="not found"):
        V2AModel.load(str(tmp_path / "missing.safetensors"))


def test_a_cut_short_or_foreign_file_is_a_value_error_naming_it_not_a_safetensors_traceback(tmp_path):
    path = tmp_path / "tiny.safetensors"
    V2AModel(tiny_config()).save(str(path))
    whole = path.read_bytes()
    for name, content in (("cut.safetensors", whole[: len(whole) // 2]), ("empty.safetensors", b""),
                          ("text.safetensors", b"hello\n")):
        (tmp_path / name).write_bytes(content)
        for read in (V2AModel.load, read_metadata):
            with pytest.raises(ValueError, match=f"{name}: not a readable .safetensors checkpoint"):
                read(str(tmp_path / name))


def test_weights_of_another_model_than_the_config_says_are_a_value_error_naming_the_file(tmp_path):
    from safetensors.torch import load_file, save_file

    path = str(tmp_path / "tiny.safetensors")
    V2AModel(tiny_config()).save(path)
    metadata = read_metadata(path)
    config = json.loads(metadata["config"])
    config["net"]["dim"] *= 2
    save_file(load_file(path), path, metadata={**metadata, "config": json.dumps(config)})
    with pytest.raises(ValueError, match="tiny.safetensors: its weights do not fit the model its config describes"):
        V2AModel.load(path)


def test_a_checkpoint_from_an_older_format_says_so_and_how_to_fix_it(tmp_path):
    from safetensors.torch import save_file

    path = str(tmp_path / "old.safetensors")
    save_file({"x": torch.zeros(2)}, path, metadata={"format": "v2a-flow/1", "config": "{}"})
    with pytest.raises(ValueError, match=r"v2a-flow/1 checkpoint from an older v2a.*retrain"):
        V2AModel.load(path)


def test_config_json_merges_over_defaults_and_names_unknown_keys():
    config = from_dict(ModelConfig, {"net": {"depth": 2}, "sampler": {"steps": 4}})
    assert config.net.depth == 2 and config.net.dim == ModelConfig().net.dim
    with pytest.raises(ValueError, match="net.: deepth"):
        from_dict(ModelConfig, {"net": {"deepth": 2}})


def test_a_saved_checkpoint_gets_the_usual_file_mode_not_a_private_one(tmp_path):
    from v2a.files import USUAL_FILE_MODE

    path = tmp_path / "model.safetensors"
    V2AModel(tiny_config()).save(str(path))
    assert path.stat().st_mode & 0o777 == USUAL_FILE_MODE
    assert not list(tmp_path.glob("*.tmp*"))


@pytest.mark.parametrize("sampler, named", [
    ({"guidance_from": 0.7, "guidance_until": 0.3}, "guidance_from 0.7 / guidance_until 0.3"),
    ({"steps": 0}, "steps 0"),
    ({"method": "heun"}, "method 'heun'"),
    ({"noise_churn": 1.5}, "noise_churn 1.5"),
    ({"time_shift": 0}, "time_shift 0"),
    ({"cfg_strength": -1}, "cfg_strength -1"),
])
def test_sampler_settings_are_checked_when_a_config_is_read(sampler, named):
    with pytest.raises(ValueError, match="sampler settings: .*" + named.replace("(", r"\(")):
        from_dict(ModelConfig, {"sampler": sampler})


def _set_sampler_defaults(monkeypatch, *args: str) -> int:
    """scripts/set_sampler_defaults.py ARGS as its command line runs it, in this process (a
    Python of its own spends seconds importing torch again); its exit status."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "set_sampler_defaults.py"
    monkeypatch.setattr(sys, "argv", [str(script), *args])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(script), run_name="__main__")
    return exit_.value.code


def test_set_sampler_defaults_writes_the_chosen_settings_into_the_checkpoint_and_refuses_bad_ones(
        tmp_path, monkeypatch, capsys):
    path = str(tmp_path / "tiny.safetensors")
    V2AModel(tiny_config()).save(path, info={"step": 3})
    done = _set_sampler_defaults(monkeypatch, path, "--steps", "6", "--method", "midpoint",
                                 "--time-shift", "0.5", "--why", "a test")
    assert done == 0, capsys.readouterr().err
    sampler = V2AModel.load(path).config.sampler
    assert (sampler.steps, sampler.method, sampler.time_shift) == (6, "midpoint", 0.5)
    info = json.loads(read_metadata(path)["info"])
    assert info["step"] == 3 and info["sampler_defaults"].startswith("steps 6 (midpoint), time shift 0.5")
    capsys.readouterr()
    refused = _set_sampler_defaults(monkeypatch, path, "--time-shift", "-1", "--why", "a test")
    assert refused == 2 and "time_shift -1.0 (positive)" in capsys.readouterr().err
    assert V2AModel.load(path).config.sampler.time_shift == 0.5  # the file is as it was
