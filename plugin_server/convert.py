"""Between the wire messages (v2a.v1) and the server's own records."""

from __future__ import annotations

import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp

from plugin_server.jobs import SEED_PER_TAKE, ClipRecord, JobRecord
from v2a.media.audio import min_max_peaks
from v2a.v1 import jobs_pb2 as pb

JOB_STATES = {
    "queued": pb.JOB_STATE_QUEUED,
    "running": pb.JOB_STATE_RUNNING,
    "succeeded": pb.JOB_STATE_SUCCEEDED,
    "failed": pb.JOB_STATE_FAILED,
    "cancelled": pb.JOB_STATE_CANCELLED,
}
JOB_STATE_NAMES = {v: k for k, v in JOB_STATES.items()}
CLIP_STATES = {
    "queued": pb.CLIP_STATE_QUEUED,
    "running": pb.CLIP_STATE_RUNNING,
    "done": pb.CLIP_STATE_DONE,
    "failed": pb.CLIP_STATE_FAILED,
    "skipped": pb.CLIP_STATE_SKIPPED,
    "cancelled": pb.CLIP_STATE_CANCELLED,
}
JOB_KINDS = {"generate": pb.JOB_KIND_GENERATE, "regenerate": pb.JOB_KIND_REGENERATE}


def _timestamp(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def clip_message(clip: ClipRecord, take_count: int) -> pb.ClipProgress:
    """`take_count`: its job's takes per clip (JobRecord.takes)."""
    return pb.ClipProgress(
        clip_id=clip.clip_id, clip_name=clip.clip_name,
        state=CLIP_STATES.get(clip.state, pb.CLIP_STATE_UNSPECIFIED),
        step=clip.step, total_steps=clip.total_steps, media_path=clip.media_path,
        message=clip.message, take=clip.take, take_count=take_count,
    )


def selection_message(data: dict) -> pb.Selection:
    message = pb.Selection(tracks=data.get("tracks", ()))
    for clip in data.get("clips", ()):
        address = message.clips.add(clip_id=clip.get("clip_id", ""), track=clip.get("track", ""))
        if clip.get("record_time") is not None:
            address.record_time = clip["record_time"]
    if data.get("time_range"):
        start, end = data["time_range"]
        message.time_range.CopyFrom(pb.TimeRange(start_seconds=start, end_seconds=end))
    return message


def selection_json(message: pb.Selection) -> dict:
    """The Selection dataclass's JSON shape (see worker.selection_from_json)."""
    clips = []
    for address in message.clips:
        clips.append({
            "clip_id": address.clip_id,
            "track": address.track,
            "record_time": address.record_time if address.HasField("record_time") else None,
        })
    time_range = None
    if message.HasField("time_range"):
        time_range = [message.time_range.start_seconds, message.time_range.end_seconds]
    return {"tracks": list(message.tracks), "clips": clips, "time_range": time_range}


def params_json(message: pb.GenerationParams) -> dict:
    """The GenerationParams dataclass's fields (takes travel beside it, in the job request)."""
    return {
        "prompt": message.prompt,
        "negative_prompt": message.negative_prompt,
        "seed": int(message.seed),
        "steps": int(message.steps),
        "cfg_strength": float(message.guidance),
    }


def loudness_target(message: pb.GenerationParams) -> float | None:
    """The loudness the takes are brought to; None (unset): as the model made them."""
    return message.loudness_target_lufs if message.HasField("loudness_target_lufs") else None


def params_message(data: dict, takes: int, loudness_target: float | None = None,
                   seed_per_take: bool = False) -> pb.GenerationParams:
    """`seed_per_take`: the job was given no seed (each take's comes from its number), so the
    message has none either."""
    return pb.GenerationParams(
        prompt=data.get("prompt", ""), negative_prompt=data.get("negative_prompt", ""),
        seed=None if seed_per_take else data.get("seed", 0), steps=data.get("steps", 0),
        guidance=data.get("cfg_strength", 0.0), takes=takes, loudness_target_lufs=loudness_target,
    )


def job_message(job: JobRecord) -> pb.Job:
    return pb.Job(
        job_id=job.job_id,
        kind=JOB_KINDS.get(job.kind, pb.JOB_KIND_UNSPECIFIED),
        state=JOB_STATES.get(job.state, pb.JOB_STATE_UNSPECIFIED),
        create_time=_timestamp(job.created),
        update_time=_timestamp(job.updated),
        timeline_path=job.timeline_path,
        output_folder=job.output_folder,
        selection=selection_message(job.request.get("selection", {})),
        params=params_message(job.request.get("params", {}), job.request.get("takes", 1),
                              job.request.get("loudness_target_lufs"),
                              job.request.get(SEED_PER_TAKE, False)),
        clips=[clip_message(c, job.takes) for c in job.clips],
        message=job.message,
        result_timeline_path=job.result.get("timeline_path", ""),
        parent_job_id=job.parent_job_id,
        attempts=job.attempts,
        request_id=job.request_id,
    )


def waveform_peaks(samples: np.ndarray, sample_rate: int, points: int) -> pb.WaveformPeaks:
    """min/max of `points` equal slices of a mono signal (fewer when it is shorter)."""
    lowest, highest = min_max_peaks(samples, points)
    peaks = pb.WaveformPeaks(sample_rate=sample_rate, num_samples=np.size(samples))
    peaks.min.extend(lowest.tolist())
    peaks.max.extend(highest.tolist())
    return peaks
