"""A picture of what a run generated: the shots, the sound v2a laid under them and its
spectrogram, on the timeline's timecode.

An editor looks before they listen: a shot whose take came out silent, one much louder than its
neighbours, a hit that lands before the contact on screen are seen at a glance here, where a
summary of file names says nothing. `v2a generate --picture FILE.png` draws it once the timeline
is written.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from otio_adapters.timing import exact_rate, format_timecode
from v2a.contracts import SAMPLE_RATE, GeneratedAudio, Segment
from v2a.files import atomic_write
from v2a.media.audio import min_max_peaks, read_wav
from v2a.media.errors import MediaError

#: The sound as drawn: the spectrogram shows up to 8 kHz, and an hour is 230 MB of float32.
DRAWN_RATE = 16_000
WIDTH_PX = 1600
THUMB_PX = 64
#: Spectrogram columns at most (each a 512-sample window): finer than the picture's pixels is lost.
MAX_COLUMNS = 3200
_WINDOW = 512


def sound_under_picture(generated: Sequence[GeneratedAudio], start_sample: int,
                        span_samples: int, rate: int = DRAWN_RATE) -> np.ndarray:
    """The takes summed as they sit on the timeline from `start_sample` (timeline samples at
    SAMPLE_RATE) for `span_samples`, resampled to `rate`. Each take's part under its picture
    only: the handles it is crossfaded with at a cut are not drawn."""
    from scipy.signal import resample_poly

    common = math.gcd(rate, SAMPLE_RATE)
    out = np.zeros(math.ceil(span_samples * rate / SAMPLE_RATE), np.float32)
    for take in generated:
        samples, file_rate = read_wav(take.path)
        if file_rate != SAMPLE_RATE:
            raise MediaError(f"{take.path}: a take at {file_rate} Hz, not {SAMPLE_RATE}")
        if samples.ndim > 1:
            samples = samples.mean(axis=1)
        body = samples[take.handle_before_samples:take.handle_before_samples + take.num_samples]
        if rate != SAMPLE_RATE:
            body = resample_poly(body, rate // common, SAMPLE_RATE // common).astype(np.float32)
        at = round((take.start_sample - start_sample) * rate / SAMPLE_RATE)
        end = min(len(out), at + len(body))
        if end > max(at, 0):
            out[max(at, 0):end] += body[max(0, -at):end - at]
    return out


def spectrogram_db(sound: np.ndarray, max_columns: int = MAX_COLUMNS) -> np.ndarray:
    """(frequency bins, columns) magnitude in dB relative to full scale: Hann windows of
    `_WINDOW` samples, spaced so that there are at most `max_columns`."""
    padded = np.pad(sound, (0, max(0, _WINDOW - len(sound))))
    hop = max(_WINDOW // 2, math.ceil((len(padded) - _WINDOW + 1) / max_columns))
    starts = np.arange(0, len(padded) - _WINDOW + 1, hop)
    window = np.hanning(_WINDOW).astype(np.float32)
    spectra = np.abs(np.fft.rfft(padded[starts[:, None] + np.arange(_WINDOW)] * window, axis=1))
    return 20 * np.log10(spectra.T / (window.sum() / 2) + 1e-6)


def segment_at(segments: Sequence[Segment], sample: int) -> Segment | None:
    """The segment seen at a timeline sample: the topmost track's where several are."""
    under = [s for s in segments if s.start_sample <= sample < s.start_sample + s.num_samples]
    return max(under, key=lambda s: s.track_index, default=None)


def picture_strip(segments: Sequence[Segment], start_sample: int, span_samples: int,
                  count: int, size: int = THUMB_PX) -> np.ndarray:
    """uint8 (size, count * size, 3): the picture at the middle of each of `count` equal parts
    of the span, side by side; mid grey where no shot is or its media cannot be read."""
    tiles = np.full((count, size, size, 3), 128, np.uint8)
    wanted: dict[int, tuple[Segment, list[int], list[float]]] = {}
    for index in range(count):
        sample = start_sample + round((index + 0.5) * span_samples / count)
        segment = segment_at(segments, sample)
        if segment is not None:
            entry = wanted.setdefault(id(segment), (segment, [], []))
            entry[1].append(index)
            entry[2].append((sample - segment.start_sample) / SAMPLE_RATE)
    from v2a.media.frames import SegmentFrames

    for segment, indices, seconds in wanted.values():
        try:
            with SegmentFrames.at_record_seconds(segment, seconds, size) as frames:
                tiles[indices] = frames[np.arange(len(seconds))]
        except MediaError:
            pass  # offline or undecodable: its tiles stay grey (the run's summary names it)
    return np.concatenate(list(tiles), axis=1)


def draw_result_picture(path: str, segments: Sequence[Segment],
                        generated: Sequence[GeneratedAudio], names: dict[str, str],
                        timeline_start: Fraction = Fraction(0), title: str = "") -> str:
    """Write a PNG at `path` (whole or not at all) of the span the generated takes cover: the
    shots (`segments`, the plan's), the takes' waveform and its spectrogram, each take marked
    and named (`names`: clip id to name). Returns `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    if not generated:
        raise ValueError("no take to draw")
    first = min(take.start_sample for take in generated)
    span = max(take.start_sample + take.num_samples for take in generated) - first
    seconds = span / SAMPLE_RATE
    # The timecode's rate: the timeline's (0 where a segment has none, as a still's plan may).
    rate = exact_rate(next((s.timeline_rate for s in segments if s.timeline_rate > 0), 24))
    offset = timeline_start + Fraction(first, SAMPLE_RATE)

    sound = sound_under_picture(generated, first, span)
    strip = picture_strip(segments, first, span, max(1, WIDTH_PX // THUMB_PX))
    lowest, highest = min_max_peaks(sound, WIDTH_PX)
    spectrum = spectrogram_db(sound)

    figure, (shots, wave, spec) = plt.subplots(
        3, 1, sharex=True, figsize=(WIDTH_PX / 100, 6.4),
        gridspec_kw={"height_ratios": [1, 1.4, 2.2]})
    shots.imshow(strip, extent=(0, seconds, 0, 1), aspect="auto", interpolation="bilinear")
    shots.set_yticks([])
    shots.set_ylabel("picture")
    times = (np.arange(len(lowest)) + 0.5) * seconds / max(1, len(lowest))
    wave.fill_between(times, lowest, highest, color="#2a6f97", linewidth=0)
    wave.set_ylim(-1, 1)
    wave.set_ylabel("v2a sound")
    spec.imshow(spectrum, origin="lower", aspect="auto", cmap="magma",
                extent=(0, seconds, 0, DRAWN_RATE / 2000), vmin=spectrum.max() - 80,
                vmax=spectrum.max(), interpolation="nearest")
    spec.set_ylabel("kHz")
    for take in sorted(generated, key=lambda t: t.start_sample):
        at = (take.start_sample - first) / SAMPLE_RATE
        for axis in (shots, wave, spec):
            axis.axvline(at, color="white" if axis is spec else "black", linewidth=0.6)
        if len(generated) <= 40:  # past that the names overlap into a grey bar
            label = names.get(take.clip_id, take.clip_id)
            if (lufs := take.provenance.get("loudness_lufs")) is not None:
                label += f"\n{lufs:.1f} LUFS"  # how loud, beside how it looks
            wave.text(at + seconds / 400, 0.92, label, fontsize=7, va="top", clip_on=True)
    spec.xaxis.set_major_formatter(FuncFormatter(
        lambda x, _: format_timecode(offset + Fraction(x).limit_denominator(100_000), rate)))
    spec.set_xlim(0, seconds)
    spec.set_xlabel("record timecode (each take's sound under its picture; handles not drawn)")
    shots.set_title(title or f"{len(generated)} take(s)", fontsize=9, loc="left")
    figure.tight_layout()
    png = io.BytesIO()
    try:
        figure.savefig(png, format="png", dpi=100)
    finally:
        plt.close(figure)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write(path, png.getvalue())
    return path
