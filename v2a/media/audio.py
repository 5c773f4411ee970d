"""48 kHz Broadcast WAV out (with a `bext` chunk, written atomically), WAV in, length fitting.

soundfile cannot write a `bext` chunk, so the writer is our own: RIFF 'WAVE' holding `bext`
(EBU Tech 3285 version 2), `iXML` (the production sound fields: project, scene, take, note,
track name), `fmt ` (PCM, 24 bit) and `data`. DAWs place the file on their timeline at bext
TimeReference, counted in samples since midnight / the timeline start; NLEs and sound
libraries show the iXML scene and take as the file's own.
"""

from __future__ import annotations

import datetime
import itertools
import os
import re
import struct
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import soundfile
from scipy.signal import resample_poly

from v2a.contracts import SAMPLE_BITS, SAMPLE_RATE
from v2a.files import atomic_write
from v2a.media.errors import MediaError
from v2a.media.loudness import Loudness

_BEXT_FIXED = struct.Struct("<256s32s32s10s8sIIH64s5h180s")  # 602 bytes, CodingHistory follows
_LOUDNESS_UNSET = 0x7FFF  # Tech 3285 v2: loudness fields not computed
_IXML_VERSION = "2.10"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class ProductionNotes:
    """What a production sound file says of itself in iXML: Resolve, Pro Tools and sound
    library tools show the scene and take beside the file's name."""

    project: str  # the timeline's name
    scene: str  # the clip's name
    take: int
    note: str  # how it was made
    track: str  # the name of its one channel (the track it was made for)


def write_wav(
    path: str,
    samples: np.ndarray,
    *,
    description: str,
    originator: str,
    time_reference_samples: int,
    coding_history: str = "",
    originator_reference: str = "",
    loudness: Loudness | None = None,
    production: ProductionNotes | None = None,
) -> None:
    """Writes float samples in [-1, 1] ((n,) mono or (n, channels)) as 48 kHz 24-bit BWF.

    `loudness` (of these samples, `measure_loudness`) fills the `bext` loudness fields; without
    it they say "not computed". `production` adds an `iXML` chunk after the `bext`.

    Atomic: the file is written beside its target, flushed to disk, then renamed over it, so a
    killed run leaves either the old file or the new one, never half of one. The samples are
    converted a block at a time: at once, the conversion's copies of an hour took about 5 GB.
    """
    samples = np.asarray(samples)
    if samples.ndim not in (1, 2):
        raise ValueError(f"samples must be (n,) or (n, channels), got shape {samples.shape}")
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    block_align = channels * SAMPLE_BITS // 8
    data_size = len(samples) * block_align
    bext = _chunk(
        b"bext",
        _bext(
            description, originator, originator_reference, time_reference_samples, coding_history,
            loudness,
        ),
    )
    if production is not None:
        bext += _chunk(b"iXML", _ixml(production, channels))
    fmt = struct.pack(
        "<HHIIHH", 1, channels, SAMPLE_RATE, SAMPLE_RATE * block_align, block_align, SAMPLE_BITS
    )
    pad = b"\0" if data_size % 2 else b""  # RIFF chunks are word aligned
    body_size = 4 + len(bext) + len(_chunk(b"fmt ", fmt)) + 8 + data_size + len(pad)
    if body_size + 8 > 0xFFFFFFFF:
        raise MediaError(f"{path}: audio too long for a WAV file (over 4 GiB)")
    header = (
        b"RIFF" + struct.pack("<I", body_size) + b"WAVE" + bext + _chunk(b"fmt ", fmt)
        + b"data" + struct.pack("<I", data_size)
    )
    blocks = (_pcm24(samples[start : start + _WAV_BLOCK]) for start in range(0, len(samples), _WAV_BLOCK))
    atomic_write(path, itertools.chain([header], blocks, [pad]))


_WAV_BLOCK = 1 << 20  # samples converted at a time (22 s at 48 kHz)


def _chunk(tag: bytes, payload: bytes) -> bytes:
    pad = b"\0" if len(payload) % 2 else b""  # RIFF chunks are word aligned
    return tag + struct.pack("<I", len(payload)) + payload + pad


def _pcm24(samples: np.ndarray) -> bytes:
    values = np.asarray(samples, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("samples contain NaN or infinity")
    scaled = np.round(np.clip(values, -1.0, 1.0) * (2**23 - 1)).astype("<i4")
    # Little-endian int32 -> keep the three low bytes of each sample.
    return scaled.reshape(-1).view(np.uint8).reshape(-1, 4)[:, :3].tobytes()


def _ascii(text: str, size: int) -> bytes:
    return text.encode("ascii", "replace")[:size]


def _bext(
    description: str, originator: str, reference: str, time_reference: int, coding_history: str,
    loudness: Loudness | None = None,
) -> bytes:
    if time_reference < 0:
        raise ValueError(f"time reference must be >= 0 samples, got {time_reference}")
    now = datetime.datetime.now()
    fixed = _BEXT_FIXED.pack(
        _ascii(description, 256),
        _ascii(originator, 32),
        _ascii(reference, 32),
        now.strftime("%Y-%m-%d").encode(),
        now.strftime("%H:%M:%S").encode(),
        time_reference & 0xFFFFFFFF,
        time_reference >> 32,
        2,
        b"",
        *_loudness_fields(loudness),
        b"",
    )
    history = coding_history.encode("ascii", "replace")
    if history and not history.endswith(b"\r\n"):
        history += b"\r\n"  # Tech 3285: each CodingHistory line ends with CR LF
    return fixed + history


def read_wav(path: str) -> tuple[np.ndarray, int]:
    """(float32 samples, (n,) for mono else (n, channels); sample rate)."""
    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=False)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        raise MediaError(f"{path}: cannot read WAV ({error})") from error
    return samples, rate


def _ixml(notes: ProductionNotes, channels: int) -> bytes:
    root = ElementTree.Element("BWFXML")
    for tag, text in (("IXML_VERSION", _IXML_VERSION), ("PROJECT", notes.project),
                      ("SCENE", notes.scene), ("TAKE", str(notes.take)), ("NOTE", notes.note)):
        ElementTree.SubElement(root, tag).text = _xml_text(text)
    tracks = ElementTree.SubElement(root, "TRACK_LIST")
    ElementTree.SubElement(tracks, "TRACK_COUNT").text = str(channels)
    for channel in range(1, channels + 1):
        track = ElementTree.SubElement(tracks, "TRACK")
        for tag, text in (("CHANNEL_INDEX", str(channel)), ("INTERLEAVE_INDEX", str(channel)),
                          ("NAME", notes.track)):
            ElementTree.SubElement(track, tag).text = _xml_text(text)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def _xml_text(text: str) -> str:
    """Text without the characters XML 1.0 cannot hold (control characters a clip name might
    carry from an editor's export), which would make the whole chunk unreadable."""
    return _NOT_XML.sub("", text)


def read_ixml(path: str) -> dict[str, str]:
    """The top-level text fields of a WAV file's `iXML` chunk (PROJECT, SCENE, TAKE, NOTE…) and
    its first track's NAME as TRACK_NAME; {} when it has none."""
    chunk = _read_chunk(path, b"iXML")
    if chunk is None:
        return {}
    root = ElementTree.fromstring(chunk.rstrip(b"\0"))
    fields = {child.tag: child.text or "" for child in root if len(child) == 0}
    name = root.find("TRACK_LIST/TRACK/NAME")
    if name is not None:
        fields["TRACK_NAME"] = name.text or ""
    return fields


def _loudness_fields(loudness: Loudness | None) -> list[int]:
    """Tech 3285 v2's five loudness fields, in hundredths (of LUFS, LU, dBTP)."""
    values = (
        (None,) * 5 if loudness is None else (
            loudness.integrated, loudness.loudness_range, loudness.true_peak,
            loudness.max_momentary, loudness.max_short_term,
        )
    )
    return [
        _LOUDNESS_UNSET if value is None else max(-32768, min(32766, round(value * 100)))
        for value in values
    ]


def read_bext(path: str) -> dict:
    """The fields of a WAV file's `bext` chunk; MediaError when it has none."""
    chunk = _read_chunk(path, b"bext")
    if chunk is None:
        raise MediaError(f"{path}: has no bext chunk")
    return _parse_bext(chunk)


def _read_chunk(path: str, wanted: bytes) -> bytes | None:
    """The body of a WAV file's first chunk of this type, None when it has none. Reads the
    chunks' headers and that chunk alone, not the samples (an hour's take is 500 MB)."""
    with open(path, "rb") as handle:
        if (header := handle.read(12))[:4] != b"RIFF" or header[8:12] != b"WAVE":
            raise MediaError(f"{path}: not a RIFF WAVE file")
        while len(chunk_header := handle.read(8)) == 8:
            tag, size = chunk_header[:4], struct.unpack("<I", chunk_header[4:])[0]
            if tag == wanted:
                return handle.read(size)
            handle.seek(size + size % 2, os.SEEK_CUR)
    return None


def _parse_bext(chunk: bytes) -> dict:
    fields = _BEXT_FIXED.unpack_from(chunk)
    text = [value.rstrip(b"\0").decode("ascii", "replace") for value in fields[:5]]
    return {
        "description": text[0],
        "originator": text[1],
        "originator_reference": text[2],
        "origination_date": text[3],
        "origination_time": text[4],
        "time_reference": fields[5] | (fields[6] << 32),
        "version": fields[7],
        "umid": fields[8],
        "loudness": fields[9:14],
        "coding_history": chunk[_BEXT_FIXED.size :].rstrip(b"\0").decode("ascii", "replace"),
    }


def fit_to_length(samples: np.ndarray, num_samples: int) -> np.ndarray:
    """Exactly `num_samples` along axis 0: trimmed at the end, or padded with silence."""
    samples = np.asarray(samples)
    if len(samples) >= num_samples:
        return samples[:num_samples]
    pad = [(0, num_samples - len(samples))] + [(0, 0)] * (samples.ndim - 1)
    return np.pad(samples, pad)


#: 5 ms: where a take meets silence it fades in or out over this many samples. A take cut off
#: mid-sound there (the model's sound does not stop at a picture's cut) starts or stops in one
#: sample, which a monitor plays as a click; a DAW's default region fade is a few ms too.
EDGE_FADE_SAMPLES = SAMPLE_RATE * 5 // 1000


def fade_edges(samples: np.ndarray, fade_in: bool, fade_out: bool,
               length: int = EDGE_FADE_SAMPLES, start: int = 0, end: int | None = None) -> np.ndarray:
    """`samples` (mono) with a raised-cosine fade in over the `length` samples from `start` and
    out over those before `end` (the take's played range; at most half of it each); the length
    is the same. A handle beyond a fade (before `start`, from `end`) fades out towards it over
    as many samples, a mirror image: the timeline does not play it where the take meets silence,
    but a crossfade laid there later (the neighbour generated then) plays it, and a handle at
    full level into a faded edge would step there. The rest is the same samples."""
    samples = np.array(samples, dtype=np.float32)  # a copy: the caller's array is not faded
    end = len(samples) if end is None else end
    length = min(length, (end - start) // 2)
    if length > 0:
        # sin² from just above 0 to just below 1: no step at the edge, none where it ends.
        ramp = np.sin((np.arange(length) + 0.5) / length * np.pi / 2).astype(np.float32) ** 2
        if fade_in:
            samples[start : start + length] *= ramp
            handle = min(length, start)
            samples[start - handle : start] *= ramp[::-1][length - handle :]
        if fade_out:
            samples[end - length : end] *= ramp[::-1]
            handle = min(length, len(samples) - end)
            samples[end : end + handle] *= ramp[:handle]
    return samples


def min_max_peaks(samples: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest sample of each of `points` equal slices of a mono signal (fewer
    slices when it is shorter, none when it is empty): a waveform drawn at that width."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    n = len(samples)
    points = max(1, min(points, n)) if n else 0
    if not points:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    starts = ((np.arange(points + 1, dtype=np.int64) * n) // points)[:-1]
    return np.minimum.reduceat(samples, starts), np.maximum.reduceat(samples, starts)


def resample(samples: np.ndarray, from_rate: int, num_samples: int) -> np.ndarray:
    """Resamples to SAMPLE_RATE and returns EXACTLY `num_samples` samples (float32).

    Polyphase filtering (scipy.signal.resample_poly, which low-passes against aliasing) by the
    exact ratio 48000/from_rate; the result then differs from `num_samples` by at most a few
    samples of rounding, which `fit_to_length` trims or pads with silence at the end.
    """
    samples = np.asarray(samples, dtype=np.float32)
    if from_rate != SAMPLE_RATE:
        ratio = Fraction(SAMPLE_RATE, int(from_rate))
        samples = resample_poly(samples, ratio.numerator, ratio.denominator, axis=0)
    return fit_to_length(samples, num_samples).astype(np.float32)
