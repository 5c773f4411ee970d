"""One v2a run at a time per output folder, across processes (v2a.folder_lock), and what a
killed run leaves there cleaned before the next one numbers its takes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import opentimelineio as otio

from otio_adapters.takes import clip_takes, find_v2a_tracks, url_to_path
from v2a.contracts import GenerationCancelled
from v2a.folder_lock import (
    LOCK_FILE,
    FolderBusy,
    FolderLock,
    hold_folder,
    read_holder,
    remove_leftovers,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "sample.otio"
CLI = [sys.executable, "-c", "import sys; from v2a.cli import main; sys.exit(main())"]


def _generate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "generate", *args, "--generator", "silence"],
                          capture_output=True, text=True, timeout=180)


def _generate_here(*args: str) -> int:
    """`v2a generate` in this process, for the written timeline a test starts from: the runs
    whose locking is checked are the ones in processes of their own."""
    from v2a.cli import main

    return main(["generate", *args, "--generator", "silence"])


def _run_that_stops_in_its_first_clip(timeline: Path, out: Path, go: Path) -> subprocess.Popen:
    """`v2a generate` whose generator says 'generating' on stdout in its first clip (its take
    file claimed, the folder locked) and goes on only once `go` exists."""
    script = (
        "import os, sys, time\n"
        f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        "from generator_doubles import SineGenerator\n"
        "class WaitsForGo(SineGenerator):\n"
        "    def generate(self, *args, **kwargs):\n"
        "        if self.calls == 0:\n"
        "            print('generating', flush=True)\n"
        f"            while not os.path.exists({str(go)!r}):\n"
        "                time.sleep(0.05)\n"
        "        return super().generate(*args, **kwargs)\n"
        "import model.generators as g\n"
        "g.load_generator = lambda spec: WaitsForGo()\n"
        "from v2a.cli import main\n"
        f"sys.exit(main(['generate', {str(timeline)!r}, '--out', {str(out)!r}]))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "generating\n", process.stderr.read()
    return process


def _takes_on_the_timeline(path: Path) -> dict[str, list[int]]:
    """Clip name -> the take numbers v2a's clip holds, checking each names a whole file."""
    timeline = otio.adapters.read_from_file(str(path))
    takes = {}
    for track in find_v2a_tracks(timeline, "SFX"):
        for clip in track.find_clips():
            for reference in clip_takes(clip).values():
                assert os.path.getsize(url_to_path(reference.target_url)) > 44  # a WAV, whole
            takes[clip.name] = sorted(clip_takes(clip))
    return takes


def test_a_second_run_on_one_folder_waits_and_adds_its_take_after_the_first(tmp_path):
    """Two `v2a generate` on the timeline in one folder: both read it with take 1, and the one
    that wrote last dropped the other's take 2 (its file named by nothing)."""
    out = tmp_path / "out"
    assert _generate_here(str(SAMPLE), "--out", str(out)) == 0
    written = out / "sample.otio"
    first = _run_that_stops_in_its_first_clip(written, out, tmp_path / "go")
    try:
        busy = _generate(str(written), "--out", str(out), "--no-wait")
        assert busy.returncode == 75, busy.stderr
        assert f"pid {first.pid}, v2a generate {written}, since " in busy.stderr
        assert f"is writing into {out}" in busy.stderr

        second = subprocess.Popen([*CLI, "generate", str(written), "--out", str(out),
                                   "--generator", "silence"], stderr=subprocess.PIPE, text=True)
        said = next((line for line in iter(second.stderr.readline, "") if "waiting" in line), "")
        assert said.startswith(f"v2a generate: waiting: another v2a run (pid {first.pid}, "), said
        (tmp_path / "go").touch()
        assert first.wait(120) == 0, first.stderr.read()
        assert second.wait(120) == 0, second.stderr.read()
    finally:
        first.kill()
    takes = _takes_on_the_timeline(written)
    assert len(takes) == 4 and all(numbers == [1, 2, 3] for numbers in takes.values()), takes
    assert len(os.listdir(out / "audio")) == 12  # every take file on the timeline, none beside it
    assert not (out / LOCK_FILE).exists()


def test_a_run_killed_with_sigkill_frees_the_folder_and_its_empty_claim_goes(tmp_path):
    """kill -9 in a clip left its claimed take file empty, and the next run numbered that
    clip's take one further (take 3 beside the others' take 2)."""
    out = tmp_path / "out"
    assert _generate_here(str(SAMPLE), "--out", str(out)) == 0
    written = out / "sample.otio"
    killed = _run_that_stops_in_its_first_clip(written, out, tmp_path / "never")
    claimed = [path for path in (out / "audio").iterdir() if not path.stat().st_size]
    assert [path.name.rsplit("_", 1)[1] for path in claimed] == ["take2.wav"]
    assert read_holder(str(out)).pid == killed.pid
    killed.send_signal(signal.SIGKILL)
    killed.wait(30)

    again = _generate(str(written), "--out", str(out), "--no-wait")  # 75 if it were still held
    assert again.returncode == 0, again.stderr
    takes = _takes_on_the_timeline(written)
    assert len(takes) == 4 and all(numbers == [1, 2] for numbers in takes.values()), takes
    assert len(os.listdir(out / "audio")) == 8
    assert not (out / LOCK_FILE).exists()


def test_only_empty_take_files_no_timeline_names_are_leftovers(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    for name in ("c1_take1.wav", "c2_take1.wav", "c3_take1.wav", "c4_take1.wav", "notes.wav"):
        (audio / name).touch()
    (audio / "c5_take1.wav").write_bytes(b"RIFF")
    (tmp_path / "cut.otio").write_text('{"target_url": "audio/c1_take1.wav"}')
    (tmp_path / "cut.aaf").write_bytes("c2_take1.wav".encode("utf-16-le"))
    (tmp_path / "cut.otiod").mkdir()
    (tmp_path / "cut.otiod" / "content.otio").write_text("c3_take1.wav")
    (tmp_path / "c4_take1.wav.txt").write_text("c4_take1.wav")  # not a timeline
    assert remove_leftovers(tmp_path) == [audio / "c4_take1.wav"]
    assert sorted(os.listdir(audio)) == ["c1_take1.wav", "c2_take1.wav", "c3_take1.wav",
                                         "c5_take1.wav", "notes.wav"]


def test_a_thread_holds_a_folder_again_and_another_thread_waits_for_it(tmp_path):
    """flock locks belong to the open file: the pipeline taking the lock inside a job of the
    server's (same thread) must not wait for itself, another worker thread must wait."""
    folder = tmp_path / "new" / "out"
    seen, cancel = [], threading.Event()

    def other() -> None:
        try:
            FolderLock(str(folder), "other").acquire(wait=False)
        except FolderBusy as busy:
            seen.append(str(busy))
        try:
            FolderLock(str(folder), "other").acquire(cancel=cancel, on_wait=seen.append)
        except GenerationCancelled:
            seen.append("cancelled")

    with hold_folder(str(folder), "first"):
        with hold_folder(str(folder), "again, same thread") as waited:
            assert not waited
        assert read_holder(str(folder)).what == "first"  # the inner hold let go of nothing
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(0.5)  # long enough to see the holder and start waiting
        cancel.set()
        thread.join(10)
    assert len(seen) == 3, seen  # busy, the holder it waits for, cancelled
    busy, holder, cancelled = seen
    assert f"(pid {os.getpid()}, first, since " in busy and f"is writing into {folder}" in busy
    assert holder.what == "first" and cancelled == "cancelled"
    assert not (tmp_path / "new").exists()  # made for the lock, removed with it
