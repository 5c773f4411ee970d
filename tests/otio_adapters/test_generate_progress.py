"""`v2a generate`'s progress when stderr is a log, not a terminal: one line per clip."""

from __future__ import annotations

from otio_adapters.cli import _levels, _Progress
from v2a.contracts import ClipEvent, GeneratedAudio, GenerationResult


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


def _take(name: str, lufs, peak) -> GeneratedAudio:
    provenance = {"source_clip": name, "loudness_lufs": lufs, "true_peak_dbtp": peak}
    return GeneratedAudio(name, f"/out/{name}.wav", 0, 48_000, 0, 0, provenance)


def test_the_summary_gives_the_takes_loudness_span_and_highest_true_peak():
    def levels(*takes):
        return _levels(GenerationResult(timeline_path="", generated=takes))

    assert levels(_take("door", -31.2, -9.0), _take("blip", None, -3.5), _take("rain", -22.4, -6.1)) \
        == "levels: -31.2 (door) to -22.4 LUFS (rain), true peak at most -3.5 dBTP"
    assert levels(_take("door", -31.2, -9.0)) == "levels: -31.2 LUFS (door), true peak at most -9.0 dBTP"
    assert levels(_take("blip", None, -12.0)) == "levels: true peak at most -12.0 dBTP"
    # Every take alike (brought to a target): not one clip's name, as if it alone were there.
    assert levels(_take("door", -23.0, -9.0), _take("rain", -23.0, -4.0)) \
        == "levels: -23.0 LUFS (all 2 takes), true peak at most -4.0 dBTP"
    # Silent takes, or a run of an earlier v2a whose provenance has no levels: no line at all.
    assert levels(_take("hush", None, None)) == "" and levels() == ""


def test_the_summary_says_which_takes_a_loudness_target_did_not_reach_and_why():
    def normalized(name, lufs, peak, missed_by=None):
        take = _take(name, lufs, peak)
        take.provenance.update(loudness_target_lufs=-23.0, gain_db=3.0)
        if missed_by:
            take.provenance["loudness_target_missed_by"] = missed_by
        return take

    takes = (normalized("door", -23.0, -6.0), normalized("crash", -27.5, -1.0, "true peak"),
             normalized("hush", None, None, "silent"))
    assert _levels(GenerationResult(timeline_path="", generated=takes)) == (
        "levels: -27.5 (crash) to -23.0 LUFS (door), true peak at most -1.0 dBTP; brought to "
        "-23 LUFS, 1 take(s) left as made (silent), 1 take(s) held under it by the -1 dBTP true "
        "peak ceiling")
