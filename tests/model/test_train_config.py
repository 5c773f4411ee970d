"""`v2a train`'s config: every value is checked when the config is read (file or --set), before any
work, with one line naming the key and what it accepts."""

import json

import pytest
import torch
from model_fixtures import TINY_MODEL

from model.config import ModelConfig, TrainConfig, from_dict, load_json
from v2a.cli import main


@pytest.mark.parametrize("data, named", [
    ({"model": {"audio": {"decoder": "bogus"}}}, "model.audio.decoder 'bogus' ('griffinlim', 'learned' or 'hifigan')"),
    ({"model": {"net": {"dim": 64, "heads": 5}}}, "model.net.heads 5 (must divide dim 64)"),
    ({"model": {"audio": {"fmax": 20000.0}}}, "model.audio.fmin 0.0 / fmax 20000.0"),
    ({"steps": "100"}, 'steps "100" (a whole number)'),
    ({"lr": True}, "lr true (a number)"),
    ({"batch_size": 0}, "batch_size 0 (at least 1)"),
    ({"lr": float("inf")}, "lr Infinity (a finite number)"),
    ({"model": {"sampler": {"quiet_peak_dbfs": float("nan")}}}, "model.sampler.quiet_peak_dbfs NaN (a finite number)"),
    ({"text_drop": 1.5}, "text_drop 1.5 (within [0, 1])"),
    ({"device": "gpu"}, "device 'gpu'"),
    ({"model": 5}, "model 5 (an object of keys"),
    ({"model": {"sampler": {"steps": 0}}}, "sampler settings: model.sampler.steps 0"),
    ({"model": {"net": {"text_dim": 512}}}, "model.net.text_dim 512 (the TextEncoder gives 384)"),
    ({"model": {"net": {"semantic_dim": 64}}},
     "model.net.semantic_dim 64 (the SemanticEncoder gives 1280)"),
])
def test_a_bad_value_is_refused_when_the_config_is_read_naming_its_key(data, named):
    with pytest.raises(ValueError) as error:
        from_dict(TrainConfig, data)
    assert named in str(error.value)


def test_a_checkpoints_model_config_with_a_bad_decoder_is_refused_when_read():
    with pytest.raises(ValueError, match="audio.decoder 'bogus'"):
        from_dict(ModelConfig, {"audio": {"decoder": "bogus"}})


def test_a_config_file_that_is_not_an_object_names_the_file(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1]")
    with pytest.raises(ValueError, match=r"config .*list.json: config \[1\] \(an object of keys"):
        load_json(TrainConfig, str(path))


@pytest.mark.parametrize("name", ["missing.json", ""])  # "": the folder itself
def test_a_config_file_that_cannot_be_read_is_a_value_error_naming_it(tmp_path, name):
    with pytest.raises(ValueError, match=f"config {tmp_path / name}: "):
        load_json(TrainConfig, str(tmp_path / name))


def test_whole_numbers_are_taken_where_a_float_is_asked_for():
    assert from_dict(TrainConfig, {"lr": 1, "model": TINY_MODEL}).lr == 1.0


@pytest.mark.parametrize("setting, named", [
    ("steps=abc", "--set steps: 'abc' is not a JSON value"),
    ("steps", "--set steps: expected KEY=JSON"),
    ('steps="100"', 'steps "100" (a whole number)'),
    ("batch_size=0", "batch_size 0 (at least 1)"),
    ("model.net.heads=5", "model.net.heads 5 (must divide dim 32)"),
    ('model.audio.decoder="bogus"', "model.audio.decoder 'bogus'"),
    ("model=5", "model 5 (an object of keys"),
    ("lr=1e999", "lr Infinity (a finite number)"),
    ("max_minutes=Infinity", "max_minutes Infinity (a finite number)"),
])
def test_a_bad_set_value_is_one_line_and_exit_2_before_anything_is_written(tmp_path, capsys, setting, named):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"model": TINY_MODEL, "corpus": str(tmp_path / "no-corpus")}))
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(out), "--set", setting]) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("v2a train: error: ") and named in message and "\n" not in message
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="the machine has CUDA")
def test_a_device_this_machine_lacks_is_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--set", 'device="cuda"']) == 2
    assert "device 'cuda': this machine has no CUDA device" in capsys.readouterr().err
    assert not out.exists()


def test_an_out_that_is_a_file_is_refused_before_any_work(tmp_path, capsys):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"model": TINY_MODEL, "corpus": str(tmp_path / "no-corpus")}))
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    assert main(["train", "--config", str(config), "--out", str(taken)]) == 2
    message = capsys.readouterr().err.strip()
    assert message == f"v2a train: error: --out {taken} is a file: name a run folder"
    assert taken.read_text() == "mine"
