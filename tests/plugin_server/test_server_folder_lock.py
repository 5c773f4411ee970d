"""A server job whose output folder another process writes into waits in its queue, says on
what, and runs once that process lets go, even by dying (kill -9)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import opentimelineio as otio

from v2a.folder_lock import LOCK_FILE
from v2a.v1 import jobs_pb2 as pb


def test_a_job_waits_for_another_process_writing_its_folder_and_runs_when_it_dies(
        make_server, connect, roots, fixture_timeline, media_dir):
    folder = roots["out"] / "shared"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from v2a.folder_lock import FolderLock\n"
         f"held = FolderLock({str(folder)!r}, 'v2a generate cut.otio')\n"
         "held.acquire()\n"
         "print('held', flush=True)\n"
         "time.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        client = connect(make_server())
        job = client.submit(fixture_timeline, inline=True, output_folder="shared",
                            media_search_paths=(str(media_dir),))
        deadline = time.monotonic() + 30
        while "waiting" not in client.get(job.job_id).message:
            assert time.monotonic() < deadline, client.get(job.job_id)
            time.sleep(0.02)
        waiting = client.get(job.job_id)
        assert waiting.state == pb.JOB_STATE_RUNNING and not any(c.step for c in waiting.clips)
        assert waiting.message.startswith(
            f"waiting: another v2a run (pid {holder.pid}, v2a generate cut.otio, since ")
        assert waiting.message.endswith("is writing the output folder shared")
        holder.send_signal(signal.SIGKILL)  # the kernel drops its lock
        done = client.wait(job.job_id)
    finally:
        holder.kill()
        holder.wait(10)
    assert done.state == pb.JOB_STATE_SUCCEEDED and not done.message, done.message
    timeline = otio.adapters.read_from_file(client.result(job.job_id).timeline_path)
    assert len([c for t in timeline.audio_tracks() for c in t.find_clips()]) == 4
    assert not (folder / LOCK_FILE).exists()
