"""The model-side command lines (`v2a data ...`, `v2a eval`, `v2a train`, `v2a train-decoder`):
what their --help says and how they report errors."""

from __future__ import annotations

import argparse

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
    import pytest

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


def test_a_split_the_corpus_lacks_is_named_with_the_splits_it_has(tmp_path, caplog):
    """`--split tset` said "no examples in split 'tset'" and left the reader to guess which
    splits there are (an imported corpus may have only some)."""
    from model_fixtures import write_tiny_corpus

    from v2a.cli import main

    corpus = write_tiny_corpus(tmp_path / "corpus", examples=2)  # a train split only
    code = main(["eval", "--corpus", str(corpus), "--split", "tset", "--generators", "silence",
                 "--out", str(tmp_path / "r")])
    assert code == 2
    assert "no examples in split 'tset'; its splits: train" in caplog.text
    assert not (tmp_path / "r").exists()
    caplog.clear()
    code = main(["data", "pack-features", "--corpus", str(corpus), "--split", "tset",
                 "--out", str(tmp_path / "f.npz.xz")])
    assert code == 2
    assert "no examples in split 'tset'; its splits: train" in caplog.text
