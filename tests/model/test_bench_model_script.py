"""scripts/bench_model.py fails clearly: a checkpoint named on the command line that is not there,
or one its timing process cannot load, is one message naming it, not figures of something else."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = str(REPO / "scripts" / "bench_model.py")


def test_a_checkpoint_that_is_not_there_is_refused_not_replaced_by_an_untrained_model(tmp_path):
    # It printed "no checkpoint: timing an untrained model of the default size" and went on to
    # time one, exit status 0: figures of a model nobody asked for.
    run = subprocess.run([sys.executable, SCRIPT, "--checkpoint", str(tmp_path / "typo.safetensors"),
                          "--skip-speed", "--skip-quality"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert f"--checkpoint {tmp_path / 'typo.safetensors'}: no such file" in run.stderr
    assert "untrained" not in run.stdout


def test_a_timing_process_that_fails_shows_why(tmp_path):
    # The speed runs happen in child processes, whose stderr was captured and dropped: a damaged
    # checkpoint read as "CalledProcessError: ... returned non-zero exit status 1", nothing else.
    damaged = tmp_path / "cut.safetensors"
    damaged.write_bytes((REPO / "model/checkpoints/v2a-default.safetensors").read_bytes()[:1000])
    run = subprocess.run([sys.executable, SCRIPT, "--checkpoint", str(damaged), "--skip-quality",
                          "--corpus", str(tmp_path / "no-corpus"), "--threads", "1"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "CalledProcessError" not in run.stderr
    assert "the timing process failed (exit status 1)" in run.stderr
    assert str(damaged) in run.stderr  # the child's own one-line error, which names the file


def test_quality_sections_without_a_corpus_say_so(tmp_path):
    # `--skip-speed --corpus typo` measured nothing, printed nothing and exited 0; without
    # --skip-speed the quality figures were left out after the timing without a word.
    nowhere = tmp_path / "typo"
    run = subprocess.run([sys.executable, SCRIPT, "--skip-speed", "--corpus", str(nowhere)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert f"no corpus at {nowhere} (manifest.jsonl): nothing to measure" in run.stderr


def _bench_with_fakes(monkeypatch, subset_classes, manifest_classes):
    """The script as a module, its model and embedder replaced by fakes: the sound is the
    prompted class's (captions are class names), else the picture's, and is embedded as that
    class's axis. Only the class agreement rule is under test."""
    import importlib.util
    from types import SimpleNamespace

    import numpy as np

    import model.eval.embedding
    import model.v2a_model
    from model.eval.run import Example

    spec = importlib.util.spec_from_file_location("bench_model", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_model", bench)  # for its dataclass
    spec.loader.exec_module(bench)
    names = sorted(set(manifest_classes))

    class Model:
        config = SimpleNamespace(sampler=SimpleNamespace(
            noise_churn=0.0, time_shift=1.0, guidance_from=0.0, cfg_strength=3.0,
            prompt_strength=0.0))

        def generate(self, frames, fps, num_samples, prompt=None, **kwargs):
            index = names.index(prompt) if prompt else int(frames[0, 0, 0, 0])
            return np.full(num_samples, 0.01 * (index + 1), np.float32)

    class Embedder:
        def embed(self, clips):
            return np.eye(len(names))[[int(round(clip[0] * 100)) - 1 for clip in clips]]

    monkeypatch.setattr(model.v2a_model.V2AModel, "load", staticmethod(lambda path: Model()))
    monkeypatch.setattr(model.eval.embedding, "default_embedder", lambda: Embedder())
    examples = [Example({"id": f"{c}{i}", "class": c, "caption": c}, Path("v.mp4"),
                        np.full((24, 8, 8, 3), names.index(c), np.uint8),
                        np.zeros(4800, np.float32), np.zeros(0), np.zeros(0))
                for i, c in enumerate(subset_classes)]
    rows = [{"class": c, "caption": c} for c in manifest_classes]
    references = Embedder().embed([0.01 * (names.index(c) + 1) * np.ones(1)
                                   for c in subset_classes])
    return bench, bench.Subset(rows, examples, references, list(subset_classes))


def test_bench_class_agreement_leaves_out_clips_without_another_of_their_class(monkeypatch):
    # `--subset 3` on a corpus of three classes printed "class_agreement": 0.0 (and "a"'s and
    # "b"'s clips counted as disagreeing below), where `v2a eval` leaves such clips out since
    # the fourteenth session: the two tools read the same clips differently.
    bench, data = _bench_with_fakes(monkeypatch, ["a", "b", "c", "c"], ["a", "b", "c"])
    row = bench.steps_vs_quality("ckpt", data, [4])[0]
    assert row["class_agreement"] == 1.0  # both c clips agree; a and b cannot, and are left out
    bench, data = _bench_with_fakes(monkeypatch, ["a", "b", "c"], ["a", "b", "c"])
    assert bench.steps_vs_quality("ckpt", data, [4])[0]["class_agreement"] is None

    levels = bench.prompt_levels("ckpt", _bench_with_fakes(monkeypatch, ["a", "b", "c", "c"],
                                                           ["a", "b", "c"])[1])
    for label in ("reference", "own caption", "class prompt", "no prompt"):
        assert levels["a"][label]["class_agreement"] is None
        assert levels["c"][label]["class_agreement"] == 1.0


def test_prompt_steering_leaves_out_clips_whose_class_has_no_centroid(monkeypatch):
    # The prompted other class is the fifth after the clip's own in the manifest's classes
    # (a -> f, b -> a, c -> b here); f is in no clip of the subset, so a's clip can agree with
    # neither its own class nor f, and counted as a miss in both figures.
    bench, data = _bench_with_fakes(monkeypatch, ["a", "b", "c", "c"],
                                    ["a", "b", "c", "d", "e", "f"])
    result = bench.prompt_steering("ckpt", data)
    assert result["no prompt"]["agree_with_video_class"] == 1.0  # the c clips, as `v2a eval`
    # Prompted with the other class's caption, the fakes sound like it: b's and the c clips'
    # agree with it, and a's clip, whose other class has no clip here, is left out.
    prompted = result["other class's caption, prompt strength 0"]
    assert prompted["agree_with_other_class"] == 1.0
    assert prompted["agree_with_video_class"] == 0.0
