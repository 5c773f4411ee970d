"""`v2a eval` end to end on a tiny corpus: metrics.json, report.md, pictures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from model_fixtures import write_tiny_corpus

from model.data.build import build_corpus
from model.data.sources import discover_classes
from v2a.cli import main

needs_packages = pytest.mark.skipif(
    not {"drum", "bird"} <= {c.name for c in discover_classes()},
    reason="Debian sound packages not installed (bash scripts/setup-data.sh)",
)


@needs_packages
def test_eval_scores_baselines_and_writes_a_readable_report(tmp_path, capsys):
    torch.set_num_threads(1)
    corpus = tmp_path / "corpus"
    build_corpus(corpus, seed=0, per_class=7, workers=1, progress=False,
                 only_classes=["drum", "bird"])
    out = tmp_path / "report"
    code = main(["eval", "--corpus", str(corpus), "--limit", "2", "--threads", "1",
                 "--generators", "silence,onset-transfer,motion-bursts,ceiling", "--out", str(out)])
    assert code == 0
    results = json.loads((out / "metrics.json").read_text())["results"]
    assert set(results) == {"reference", "silence", "onset-transfer", "motion-bursts", "ceiling"}
    assert results["reference"]["onset_acc"] == 1.0 and results["reference"]["frechet"] < 1e-6
    assert results["silence"]["onset_acc"] == 0.0 and results["silence"]["av_align"] == 0.0
    assert results["silence"]["frechet"] > results["onset-transfer"]["frechet"]
    # Quiet clips: silence is all quiet, the references and their decoded ceiling none.
    assert results["silence"]["quiet_share"] == 1.0
    assert results["reference"]["quiet_share"] == 0.0 and results["ceiling"]["quiet_share"] == 0.0
    assert results["motion-bursts"]["provenance"]["kind"] == "baseline"
    # Per class: silence is plain at a glance, where the averages hide which class went quiet.
    for name in ("drum", "bird"):
        assert results["silence"]["per_class"][name]["level_db"] < -150
        assert results["reference"]["per_class"][name]["level_db"] > -60
        assert results["silence"]["per_class"][name]["av_align"] == 0.0
        assert results["motion-bursts"]["per_class"][name]["av_align"] > 0.8  # bursts sit on the peaks
    # The Fréchet distance in parts: silence is one point (no spread at all), the references
    # spread, and their two classes sit apart.
    parts = {name: results[name]["frechet_parts"] for name in ("reference", "silence")}
    assert parts["silence"]["spread"] < 1e-6 and parts["silence"]["class_spread"] < 1e-6
    assert parts["reference"]["spread"] > 0 and parts["reference"]["class_spread"] > 0
    assert parts["reference"]["mean_term"] < 1e-6
    assert parts["silence"]["mean_term"] + parts["silence"]["covariance_term"] == pytest.approx(
        results["silence"]["frechet"])
    # And against the ceiling (the reference through our decoder): zero for itself, far for
    # silence, and nearer for the reference than for silence.
    to_ceiling = {name: row["frechet_parts"]["vs_ceiling"]["ceiling"] for name, row in results.items()}
    assert to_ceiling["ceiling"] < 1e-6
    assert to_ceiling["silence"] > to_ceiling["reference"] > 0
    # The embeddings are kept, in example order, for distances computed later.
    saved = np.load(out / "embeddings.npz")
    assert list(saved["classes"]) == ["bird", "drum"] and saved["silence"].shape == (2, 512)
    assert np.allclose(saved["silence"][0], saved["silence"][1])  # one sound, one point
    assert not np.allclose(saved["reference"][0], saved["reference"][1])
    report = (out / "report.md").read_text()
    assert "## Fréchet distance in parts" in report and "Fréchet to ceiling" in report
    assert "## Per class" in report and "| drum | " in report and "### AV-Align" in report
    assert "| silence |" in report and "oracle" in report
    pictures = sorted(out.glob("*.png"))
    assert len(pictures) == 2 and all(f"({p.name})" in report for p in pictures)
    assert "| onset-transfer |" in capsys.readouterr().out


def test_eval_without_a_corpus_says_how_to_make_one(tmp_path, capsys):
    code = main(["eval", "--corpus", str(tmp_path / "nothing"), "--out", str(tmp_path / "r")])
    assert code == 2
    assert "v2a data build" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_an_unknown_generator_is_refused_before_any_example_is_scored(tmp_path, capsys, monkeypatch):
    import model.eval.run

    def no_work(*args, **kwargs):
        raise AssertionError("examples were loaded before the generator specs were checked")

    monkeypatch.setattr(model.eval.run, "load_example", no_work)
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=2)
    code = main(["eval", "--corpus", str(corpus), "--split", "train", "--generators", "silence,defualt",
                 "--out", str(tmp_path / "r")])
    assert code == 2
    assert "unknown generator 'defualt'; choose one of:" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_negative_seed_offset_is_refused_on_the_command_line(tmp_path, capsys):
    # Seeds are 0 .. 2^63 - 1: a negative offset failed every model row, and the run still exited 0.
    with pytest.raises(SystemExit) as stopped:
        main(["eval", "--corpus", str(tmp_path), "--seed-offset", "-5", "--out", str(tmp_path / "r")])
    assert stopped.value.code == 2
    assert "--seed-offset: -5 must not be negative" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_corpus_without_a_train_split_is_scored_without_train_centroids(tmp_path):
    # `v2a data import-folder` of one's own clips, all in the test split: the train-centroid
    # column has nothing to measure against ("need at least one array to stack" after every
    # generator had run, and no report).
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    manifest = corpus / "manifest.jsonl"
    rows = [{**json.loads(line), "split": "test"} for line in manifest.read_text().splitlines()]
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "report"
    assert main(["eval", "--corpus", str(corpus), "--generators", "silence", "--threads", "1",
                 "--out", str(out)]) == 0
    results = json.loads((out / "metrics.json").read_text())["results"]
    assert results["silence"]["class_agreement_train_centroids"] is None
    assert results["silence"]["class_agreement"] is not None  # the held-out measure needs no train split
    assert "| silence |" in (out / "report.md").read_text()


def test_generators_get_frames_at_their_own_rate_and_size(tmp_path):
    import numpy as np

    from model.data.io import write_mp4
    from model.eval.run import Example, frames_for

    video = np.zeros((96, 160, 160, 3), np.uint8)
    video[:, :, :80] = 200  # left half bright
    write_mp4(tmp_path / "v.mp4", video, 24)
    ex = Example({"duration": 4.0}, tmp_path / "v.mp4", video, np.zeros(1), np.zeros(0),
                 np.zeros(0))

    class Wants:
        frame_rate, frame_size = 12.0, 64

    frames = frames_for(Wants(), ex)
    assert frames.shape == (48, 64, 64, 3)
    assert frames[:, :, :28].mean() > 150 and frames[:, :, 36:].mean() < 50

    class Native:
        frame_rate, frame_size = 24.0, 160

    assert frames_for(Native(), ex) is video


def test_eval_gives_the_caption_as_prompt_or_none_and_seeds_by_index_plus_offset(tmp_path):
    import numpy as np

    from model.eval.run import Example, score_generator

    ex = Example({"id": "a", "duration": 0.5, "caption": "a dog barks", "class": "mammal"}, tmp_path / "v.mp4",
                 np.zeros((12, 16, 16, 3), np.uint8), np.zeros(24000, np.float32), np.zeros(0), np.zeros(0))

    class Records:
        frame_rate, frame_size = 24.0, 16
        prompts: list = []
        seeds: list = []

        def provenance(self):
            return {}

        def generate(self, frames, fps, num_samples, params):
            self.prompts.append(params.prompt)
            self.seeds.append(params.seed)
            return np.zeros(num_samples, np.float32)

    class Embeds:
        def embed(self, clips):
            return np.zeros((len(clips), 4))

    generator = Records()
    score_generator("r", generator, [ex], Embeds(), set(), lambda: None)
    score_generator("r", generator, [ex], Embeds(), set(), lambda: None, with_captions=False)
    score_generator("r", generator, [ex, ex], Embeds(), set(), lambda: None, seed_offset=1000)
    assert generator.prompts == ["a dog barks", None, "a dog barks", "a dog barks"]
    assert generator.seeds == [0, 0, 1000, 1001]


def test_examples_are_dealt_over_classes_and_the_default_is_the_whole_split():
    from model.eval.run import select_examples

    rows = [{"id": f"{c}-{s}-{i}", "class": c, "split": s}
            for c in ("bird", "drum", "door") for s in ("test", "val") for i in range(5 if c == "bird" else 3)]
    whole = select_examples(rows, "test")
    assert len(whole) == 11 and {r["split"] for r in whole} == {"test"}
    # A limit takes one of each class in turn, so every class is in even a small run.
    assert [r["class"] for r in select_examples(rows, "test", 4)] == ["bird", "door", "drum", "bird"]
    assert select_examples(rows, "test", 100) == whole


def test_class_agreement_leaves_out_clips_whose_class_has_no_other_reference():
    """With one clip per class (`--limit 12`) every row read 0.000, the references' own too:
    no row has a centroid of its own class. Such rows are left out, and with none left the
    figure is missing ("—"), not 0."""
    import numpy as np

    from model.eval.report import markdown_table, per_class_tables
    from model.eval.run import Scores, summarise

    def scored(embeddings):
        scores = Scores("g")
        scores.embeddings = list(embeddings)
        scores.level_db = [-20.0] * len(embeddings)
        scores.onset_acc = scores.onset_ap = scores.onset_count_acc = scores.av_align = [1.0] * len(embeddings)
        scores.seconds, scores.audio_seconds = 1.0, 4.0
        return scores

    refs = np.eye(4)[[0, 1, 2, 2]]  # a, b, then two clips of c
    classes = ["a", "b", "c", "c"]
    train = {"a": refs[0], "b": refs[1], "c": refs[2]}  # the older measure's train centroids
    row = summarise(scored(refs), refs, classes, train, [-20.0] * 4)
    assert row["class_agreement"] == 1.0  # only the two c clips can agree, and both do
    assert row["per_class"]["a"]["class_agreement"] is None
    assert row["per_class"]["c"]["class_agreement"] == 1.0

    one_each = summarise(scored(refs[:3]), refs[:3], classes[:3], train, [-20.0] * 3)
    assert one_each["class_agreement"] is None
    assert one_each["class_agreement_train_centroids"] == 1.0  # train centroids exist for every class
    g_row = markdown_table({"g": one_each}).splitlines()[-1].split("|")
    assert g_row[7].strip() == "—"  # the class agree column
    assert "| a | — |" in per_class_tables({"g": one_each})


def test_a_generator_that_cannot_be_loaded_is_an_error_before_any_example_is_scored(
        tmp_path, capsys, monkeypatch):
    # `v2a:/typo` (a checkpoint that is not there) read "pending" in every column and the run
    # exited 0; `ceiling:typo` failed after every example was loaded, without naming the spec.
    import model.eval.run

    def no_work(*args, **kwargs):
        raise AssertionError("examples were loaded before the generators were")

    monkeypatch.setattr(model.eval.run, "load_example", no_work)
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=2)
    for spec, why in (("v2a:/typo", "model checkpoint not found: /typo"),
                      ("ceiling:typo", "decoder 'typo'")):
        capsys.readouterr()
        code = main(["eval", "--corpus", str(corpus), "--split", "train", "--threads", "1",
                     "--generators", f"silence,{spec}", "--out", str(tmp_path / "r")])
        assert code == 2
        assert f"generator {spec!r} cannot be loaded: {why}" in capsys.readouterr().err
        assert not (tmp_path / "r").exists()


def test_generators_that_name_none_are_refused(tmp_path, capsys):
    # `--generators ,` scored the reference alone and exited 0, as if a run had been asked for.
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=2)
    for text in (",", " ", ""):
        capsys.readouterr()
        code = main(["eval", "--corpus", str(corpus), "--split", "train", "--generators", text,
                     "--out", str(tmp_path / "r")])
        assert code == 2
        assert "--generators names no generator" in capsys.readouterr().err
        assert not (tmp_path / "r").exists()


def test_a_generator_named_twice_is_refused(tmp_path, capsys):
    # `silence,silence` generated every clip twice and kept one row (the second overwrote the
    # first in the results): minutes lost for `default,default`, and one row where two were asked.
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=2)
    code = main(["eval", "--corpus", str(corpus), "--split", "train", "--generators",
                 "silence, silence", "--out", str(tmp_path / "r")])
    assert code == 2
    assert "generator 'silence' is named twice in --generators" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_damaged_corpus_is_a_one_line_error_naming_the_file_and_line(tmp_path, capsys):
    # A manifest line cut short read "Unterminated string starting at: line 1 column 393" (no
    # file, and line 1 of that line); a row without its class, and a WAV that is not audio (a
    # copy cut short), ended in tracebacks.
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=3)
    manifest = corpus / "manifest.jsonl"
    good = manifest.read_text()
    lines = good.splitlines()

    def run() -> int:
        capsys.readouterr()
        return main(["eval", "--corpus", str(corpus), "--split", "train", "--threads", "1",
                     "--generators", "silence", "--out", str(tmp_path / "r")])

    manifest.write_text("\n".join(lines[:2] + [lines[2][:40]]) + "\n")
    assert run() == 2
    assert f"{manifest}:3: not JSON" in capsys.readouterr().err

    row = json.loads(lines[1])
    del row["class"]
    manifest.write_text("\n".join([lines[0], json.dumps(row), lines[2]]) + "\n")
    assert run() == 2
    assert f"{manifest}:2: a row without 'class'" in capsys.readouterr().err

    manifest.write_text(good)
    (corpus / "train/ex1.wav").write_bytes(b"RIFF, but cut short")
    assert run() == 2
    assert f"{corpus / 'train/ex1.wav'}: cannot read the audio" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_the_embeddings_show_progress(tmp_path, capsys):
    # Embedding takes about 0.2 s a clip on 2 cores: the references, the train centroids' 288
    # clips and each generator's clips were minutes of a run with no bar moving (the eval bar
    # stood at a generator's last clip while its clips were embedded).
    from model.eval.run import evaluate

    torch.set_num_threads(1)
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    evaluate(corpus, tmp_path / "r", split="train", generators=["silence"], show_progress=True)
    err = capsys.readouterr().err
    for bar in ("embed reference: 100%", "embed train centroids: 100%", "embed silence: "):
        assert bar in err


def _report_files(out):
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_the_report_folder_holds_one_runs_report_even_when_a_run_stops_midway(tmp_path,
                                                                             monkeypatch):
    # The pictures were written before metrics.json and report.md, embeddings.npz after them,
    # and pictures of earlier runs stayed: a run stopped midway left a report beside pictures
    # or embeddings of another run. The report is now made beside --out and swapped in whole.
    import model.eval.run
    from model.eval.run import evaluate

    torch.set_num_threads(1)
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=4)
    out = tmp_path / "report"
    out.mkdir()
    (out / "metrics.json").write_text("{}")  # an earlier report, with a picture this run lacks
    (out / "an-earlier-example.png").write_bytes(b"png")
    evaluate(corpus, out, split="train", generators=["silence"], show_progress=False)
    names = set(_report_files(out))
    assert "an-earlier-example.png" not in names
    assert {"metrics.json", "report.md", "embeddings.npz"} <= names
    assert {p for p in names if p.endswith(".png")} == {"ex0.png", "ex1.png"}

    before = _report_files(out)

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(model.eval.run, "_save_embeddings", stop)  # after pictures and report
    with pytest.raises(KeyboardInterrupt):
        evaluate(corpus, out, split="train", generators=["silence"], show_progress=False,
                 seed_offset=7)
    assert _report_files(out) == before  # the earlier run's report, whole
    monkeypatch.undo()
    evaluate(corpus, out, split="train", generators=["silence"], show_progress=False,
             seed_offset=7)  # the stopped run's leftovers do not stand in the way
    assert json.loads((out / "metrics.json").read_text())["settings"]["seed_offset"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "report"]


def test_eval_refuses_an_out_folder_that_is_not_a_report_before_any_work(tmp_path, capsys):
    # The report folder is replaced whole: a folder of something else is never emptied.
    corpus = write_tiny_corpus(tmp_path / "corpus", examples=2)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    code = main(["eval", "--corpus", str(corpus), "--split", "train", "--generators", "silence",
                 "--out", str(tmp_path / "mine")])
    assert code == 2
    said = f"{tmp_path / 'mine'} exists and is not an eval report; choose another --out"
    assert said in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]
