"""The model-side command lines (`v2a data ...`, `v2a eval`, `v2a train`, `v2a train-decoder`):
what their --help says and how they report errors."""

from __future__ import annotations

import argparse
import logging
import sys

import pytest

from model.data.sources import discover_classes

needs_packages = pytest.mark.skipif(
    not {"drum"} <= {c.name for c in discover_classes()},
    reason="Debian sound packages not installed (bash scripts/setup-data.sh)",
)

MODEL_COMMANDS = ("data", "eval", "train", "train-decoder")


def _options(parser: argparse.ArgumentParser, command: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, f"{command} {name}")
        elif action.option_strings and not isinstance(action, argparse._HelpAction):
            yield command, action


def test_every_model_option_says_its_default_in_help():
    """`eval --generators` (the full list), `--threads` (2), `data build --per-class` (260),
    `--classes`, `train --config`, `pack-features --config`, `train-decoder --corpus`… said no
    default: a reader had to open model/cli.py to learn what a run without them does. A flag
    (store_true) is off unless given, and a required option has none."""
    from v2a.cli import build_parser

    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    silent = []
    for name in MODEL_COMMANDS:
        for command, action in _options(subcommands.choices[name], f"v2a {name}"):
            if action.required or isinstance(action, argparse._StoreTrueAction):
                continue
            if "default" not in action.help:
                silent.append(f"{command} {action.option_strings[0]}")
    assert silent == []


def test_the_help_states_the_defaults_the_parser_uses(capsys):
    """The defaults said are the ones in force (rendered from the parser, not copied by hand)."""
    from v2a.cli import main

    for argv, said in ((["eval", "--help"], ("silence,random-sample,onset-transfer,motion-bursts,"
                                              "ceiling,default", "(default: 2)")),
                       (["data", "build", "--help"], ("(default: 260)",))):
        with pytest.raises(SystemExit):
            main(argv)
        # argparse wraps lines, at hyphens too ("random-" / "sample"): compare without spaces
        text = "".join(capsys.readouterr().out.split())
        for part in said:
            assert "".join(part.split()) in text, (argv, part)


def test_a_split_the_corpus_lacks_is_named_with_the_splits_it_has(tmp_path, capsys):
    """`--split tset` said "no examples in split 'tset'" and left the reader to guess which
    splits there are (an imported corpus may have only some). Said as every subcommand says a
    user error (`v2a COMMAND: error: ...`, exit 2), not as a log line ("ERROR model.cli: ...")."""
    from model_fixtures import write_tiny_corpus

    from v2a.cli import main

    corpus = write_tiny_corpus(tmp_path / "corpus", examples=2)  # a train split only
    code = main(["eval", "--corpus", str(corpus), "--split", "tset", "--generators", "silence",
                 "--out", str(tmp_path / "r")])
    assert code == 2
    assert capsys.readouterr().err == (
        f"v2a eval: error: {corpus}: no examples in split 'tset'; its splits: train\n")
    assert not (tmp_path / "r").exists()
    code = main(["data", "pack-features", "--corpus", str(corpus), "--split", "tset",
                 "--out", str(tmp_path / "f.npz.xz")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("v2a data pack-features: error: ") and err.count("\n") == 1
    assert "no examples in split 'tset'; its splits: train" in err


def test_pack_features_without_a_corpus_says_there_is_none(tmp_path, capsys):
    """`v2a data pack-features` with no corpus built said "no examples in split 'train'; its
    splits: none", where eval and train say there is no corpus and how to build one."""
    from v2a.cli import main

    code = main(["data", "pack-features", "--corpus", str(tmp_path / "corpus"),
                 "--out", str(tmp_path / "f.npz.xz")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("v2a data pack-features: error: ")
    assert f"no corpus manifest at {tmp_path / 'corpus' / 'manifest.jsonl'}" in err
    assert "v2a data build" in err and not (tmp_path / "corpus").exists()


def test_user_errors_of_data_eval_and_train_are_said_as_generate_says_them(tmp_path, capsys):
    """One form for a user error whatever the subcommand: `data import-folder` and `eval
    --generators ,` logged theirs, `train-decoder` had its own."""
    from v2a.cli import main

    assert main(["eval", "--generators", ",", "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.startswith("v2a eval: error: --generators names no generator")
    assert main(["data", "import-folder", str(tmp_path / "none"), "--captions",
                 str(tmp_path / "none.csv"), "--out", str(tmp_path / "c")]) == 2
    assert capsys.readouterr().err.startswith("v2a data import-folder: error: ")
    assert main(["train-decoder", "--checkpoint", "x.safetensors", "--out", "x.pt"]) == 2
    assert capsys.readouterr().err == (
        "v2a train-decoder: error: --out x.pt: name a .safetensors file\n")


@pytest.fixture
def console(capsys):
    """stderr as a terminal shows it: the log's console handler (v2a.cli's format) and the
    progress bars both write there; each line is what is left after its last carriage return.
    Call it once the test runs (the handler takes the stderr of that moment), then read."""
    handlers = []

    def start():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logging.root.addHandler(handler)
        handlers.append(handler)
        return lambda: [line.split("\r")[-1] for line in capsys.readouterr().err.split("\n")]

    yield start
    for handler in handlers:
        logging.root.removeHandler(handler)


def _error_lines_start_their_own_line(lines: list[str], said: str) -> None:
    shown = [line for line in lines if said in line]
    assert shown, lines
    assert all(line.startswith("ERROR ") or line.startswith("v2a ") for line in shown), shown


def test_an_example_that_cannot_be_loaded_is_said_on_its_own_line(tmp_path, console):
    # "load:  67%|...| 2/3 [00:00<00:00,  3.44ex/s]ERROR model.cli: ...wav: cannot read the
    # audio": the load bar was left open while the command logged the error.
    from model_fixtures import write_tiny_corpus

    from v2a.cli import main

    corpus = write_tiny_corpus(tmp_path / "corpus", examples=3)
    (corpus / "train/ex2.wav").write_bytes(b"RIFF, but cut short")  # the third one loaded
    shown = console()
    assert main(["eval", "--corpus", str(corpus), "--split", "train", "--generators", "silence",
                 "--threads", "1", "--out", str(tmp_path / "r")]) == 2
    _error_lines_start_their_own_line(shown(), "cannot read the audio")


def test_a_generator_that_fails_while_scoring_is_said_on_its_own_line(tmp_path, console,
                                                                      monkeypatch):
    import numpy as np
    from model_fixtures import write_tiny_corpus

    import model.generators
    from v2a.cli import main

    class Fails:
        frame_rate, frame_size = 24.0, 32

        def provenance(self):
            return {"kind": "baseline"}

        def generate(self, frames, fps, num_samples, params):
            if params.seed == 1:  # the second clip, with the eval bar half way
                raise RuntimeError("out of memory")
            return np.zeros(num_samples, np.float32)

    monkeypatch.setattr(model.generators, "load_generator", lambda spec: Fails())
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=2)
    shown = console()
    assert main(["eval", "--corpus", str(corpus), "--split", "train", "--generators", "silence",
                 "--threads", "1", "--out", str(tmp_path / "r")]) == 0
    _error_lines_start_their_own_line(shown(), "silence failed: RuntimeError: out of memory")


@needs_packages
def test_a_build_that_fails_midway_is_said_on_its_own_line(tmp_path, console, monkeypatch):
    import model.data.build
    from v2a.cli import main

    def full_disk(job):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model.data.build, "make_example", full_disk)
    shown = console()
    assert main(["data", "build", "--out", str(tmp_path / "c"), "--per-class", "2",
                 "--classes", "drum", "--workers", "1"]) == 2
    _error_lines_start_their_own_line(shown(), "No space left on device")


def test_a_training_run_that_fails_midway_is_said_on_its_own_line(tmp_path, console,
                                                                  monkeypatch):
    import json

    from model_fixtures import TINY_MODEL, write_tiny_corpus

    import model.train
    from v2a.cli import main

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model.train, "_save", full_disk)
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"model": TINY_MODEL, "corpus": str(corpus), "batch_size": 4,
                                  "steps": 2, "warmup_steps": 1, "save_every": 1, "threads": 1}))
    shown = console()
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    _error_lines_start_their_own_line(shown(), "No space left on device")


def test_progress_into_a_log_is_lines_not_one_endless_line(tmp_path, capsys):
    """Into a log (stderr not a terminal), each tqdm refresh began with a carriage return:
    `v2a data build`, `eval` and `train` wrote their progress as one endless line there, where
    `v2a generate` writes lines. Now a bar's state is a line of its own, now and then."""
    import json

    from model_fixtures import TINY_MODEL, write_tiny_corpus

    from v2a.cli import main

    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    assert main(["eval", "--corpus", str(corpus), "--split", "train", "--generators", "silence",
                 "--threads", "1", "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b[" not in err, err
    assert any(line.startswith("eval: 100%") for line in err.splitlines()), err

    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"model": TINY_MODEL, "corpus": str(corpus), "batch_size": 4,
                                  "steps": 2, "warmup_steps": 1, "threads": 1}))
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b[" not in err, err
    assert any(line.startswith("train: 100%") for line in err.splitlines()), err
