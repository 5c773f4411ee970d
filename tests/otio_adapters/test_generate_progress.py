"""`v2a generate`'s progress when stderr is a log, not a terminal: one line per clip."""

from __future__ import annotations

from otio_adapters.cli import _Progress
from v2a.contracts import ClipEvent


def test_progress_into_a_log_is_one_line_per_clip(capsys):  # capsys: stderr is no terminal
    progress = _Progress()
    clips = [("a1", "Clip-001"), ("b2", "Clip-002")]
    for clip_id, name in clips:
        progress.on_event(ClipEvent(clip_id, name, "queued"))
    for (clip_id, name), end in zip(clips, ("done", "failed"), strict=True):
        for step in range(1, 41):
            progress.on_event(ClipEvent(clip_id, name, "running", step, 40))
        said = "take 1: a1_take1.wav (-27.8 LUFS, true peak -9.1 dBTP)" if end == "done" else "x"
        progress.on_event(ClipEvent(clip_id, name, end, message=said))
    progress.close()

    err = capsys.readouterr().err
    # A take's line says which file it wrote and how loud it is; a failure's reason is in the
    # summary that follows.
    assert err.splitlines() == [
        "clips:  50% 1/2 Clip-001: done, take 1: a1_take1.wav (-27.8 LUFS, true peak -9.1 dBTP)",
        "clips: 100% 2/2 Clip-002: failed",
    ]
    assert "\r" not in err
