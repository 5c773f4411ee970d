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
