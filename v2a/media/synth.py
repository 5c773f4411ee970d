"""Synthetic test media whose pictures say which frame they are.

Every frame carries its frame number as a 4x4 grid of black/white cells (16 bits, most
significant first, row by row) in the middle of its central square, so the number survives
compression, scaling and a center crop; `read_frame_number` reads it back. A red square slides
along the top edge (visible motion) and optional white flashes mark events.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction

import av
import numpy as np

from v2a.media.timecode import frames_to_timecode, timecode_to_frames

GRID = 4
_BACKGROUND, _FLASH, _BIT_ON, _BIT_OFF = 96, 200, 235, 20


def _grid_box(width: int, height: int) -> tuple[int, int, float]:
    """Left, top and cell size of the code grid: the middle 80% of the central square."""
    side = min(width, height)
    cell = side * 0.8 / GRID
    return (width - side) // 2 + round(side * 0.1), (height - side) // 2 + round(side * 0.1), cell


def draw_frame(number: int, width: int, height: int, flash: bool = False) -> np.ndarray:
    """An RGB picture (height, width, 3) showing `number` as the code grid."""
    if not 0 <= number < 2 ** (GRID * GRID):
        raise ValueError(f"frame number {number} does not fit the {GRID}x{GRID} code grid")
    image = np.full((height, width, 3), _FLASH if flash else _BACKGROUND, np.uint8)
    square = max(2, min(width, height) // 10)
    x = (number * max(1, width // 40)) % max(1, width - square)
    image[:square, x : x + square] = (220, 30, 30)
    left, top, cell = _grid_box(width, height)
    for bit in range(GRID * GRID):
        row, col = divmod(bit, GRID)
        on = (number >> (GRID * GRID - 1 - bit)) & 1
        y0, x0 = top + round(row * cell), left + round(col * cell)
        y1, x1 = top + round((row + 1) * cell), left + round((col + 1) * cell)
        image[y0:y1, x0:x1] = _BIT_ON if on else _BIT_OFF
    return image


def read_frame_number(image: np.ndarray) -> int:
    """The number `draw_frame` drew, read from an upright RGB picture of any size."""
    height, width = image.shape[:2]
    left, top, cell = _grid_box(width, height)
    luma = image.astype(np.float32).mean(axis=2)
    number = 0
    for bit in range(GRID * GRID):
        row, col = divmod(bit, GRID)
        # Sample the middle half of the cell: edges blur under compression and scaling.
        y0, x0 = top + (row + 0.25) * cell, left + (col + 0.25) * cell
        patch = luma[round(y0) : round(y0 + cell / 2) + 1, round(x0) : round(x0 + cell / 2) + 1]
        number = (number << 1) | int(patch.mean() > 128)
    return number


def make_test_movie(
    path: str,
    *,
    frames: int,
    rate: Fraction | float = Fraction(25),
    size: tuple[int, int] = (160, 120),
    start_timecode: str | None = "00:00:00:00",
    drop_frame: bool = False,
    codec: str = "libx264",
    with_audio: bool = False,
    rotation: int = 0,
    frame_times: Sequence[float] | None = None,
    keyframe_interval: int = 0,
    flash_every: int = 0,
    pixel_aspect: Fraction = Fraction(1),
    fast_start: bool = False,
    grain: int = 0,
    codec_options: dict[str, str] | None = None,
    pix_fmt: str | None = None,
    container_options: dict[str, str] | None = None,
) -> str:
    """Writes a movie of `frames` numbered frames; returns `path`.

    `size` is the upright (display) size; with `rotation` (degrees counterclockwise, as in the
    display matrix) the stored picture is turned the other way, as a phone held upright stores it.
    `start_timecode` goes into the file the way cameras write it (a QuickTime/MP4 `tmcd` track);
    `drop_frame` writes it with the drop-frame ';'. `frame_times` (seconds, increasing) gives each
    frame its own presentation time: a variable-frame-rate file. With `pixel_aspect` (the sample
    aspect ratio: 4/3 for HDV) the stored picture is squeezed to `width / pixel_aspect` stored
    pixels, as an anamorphic camera stores it. `fast_start` puts a MOV/MP4's index first.
    `grain` adds noise of up to that many grey levels to the top eighth of the picture (clear
    of the code grid), so frames take kilobytes as camera footage does, not the few bytes the
    flat picture compresses to. `codec_options` replace the encoder's defaults here (x264's
    `x264-params`, to make B-frames and open GOPs as cameras do), `pix_fmt` the stored pixel
    format (10-bit `yuv420p10le`, ProRes `yuv422p10le`), and `container_options` the muxer's.
    """
    rate = _exact_rate(rate)
    width, height = size
    muxer_options = dict(container_options or {})
    if fast_start:
        muxer_options["movflags"] = "faststart"
    with av.open(path, "w", options=muxer_options) as container:
        stream = container.add_stream(codec, rate=rate)
        turned = (height, width) if rotation % 180 else (width, height)
        stored_w, stored_h = round(turned[0] / pixel_aspect), turned[1]
        stream.width, stream.height = stored_w, stored_h
        stream.pix_fmt = pix_fmt or _PIXEL_FORMATS.get(codec, "yuv420p")
        if pixel_aspect != 1:
            stream.codec_context.sample_aspect_ratio = pixel_aspect
        stream.gop_size = keyframe_interval or max(1, round(rate))
        if codec == "libx264":
            stream.options = {"preset": "veryfast", "crf": "18"}
        elif codec == "mpeg4":
            stream.options = {"qscale": "3"}
        if codec_options is not None:
            stream.options = codec_options
        if frame_times is not None:
            stream.codec_context.time_base = Fraction(1, 90_000)
            # B-frames with irregular pts make MP4 muxers guess a wrong duration.
            stream.codec_context.max_b_frames = 0
        if start_timecode is not None:
            stream.metadata["timecode"] = _tag(start_timecode, rate, drop_frame)
        if rotation % 360:
            stream.set_display_rotation(rotation)
        audio = _add_audio_stream(container) if with_audio else None
        for index in range(frames):
            flash = bool(flash_every) and index % flash_every == 0
            picture = draw_frame(index, width, height, flash)
            if grain:
                band = picture[: height // 8]
                noise = np.random.default_rng(index).integers(-grain, grain + 1, band.shape)
                band[:] = np.clip(band + noise, 0, 255)
            picture = np.rot90(picture, k=-(rotation // 90))
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
            if pixel_aspect != 1:
                frame = frame.reformat(stored_w, stored_h, interpolation="AREA")
            if frame_times is not None:
                frame.pts, frame.time_base = round(frame_times[index] * 90_000), Fraction(1, 90_000)
            else:
                frame.pts, frame.time_base = index, 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio is not None:
            end = frame_times[-1] + 1 / float(rate) if frame_times is not None else frames / rate
            _write_audio(container, audio, float(end), flash_every / float(rate))
    return path


#: Codecs that take no yuv420p picture.
_PIXEL_FORMATS = {"gif": "rgb8"}


def _exact_rate(rate: Fraction | float) -> Fraction:
    if isinstance(rate, Fraction):
        return rate
    for exact in (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001)):
        if abs(float(exact) - rate) < 0.005:
            return exact
    return Fraction(rate).limit_denominator(1001)


def _tag(timecode: str, rate: Fraction, drop_frame: bool) -> str:
    """Normalises the separator so the tag says whether it is drop-frame."""
    frame = timecode_to_frames(timecode.replace(";", ":"), rate)
    if drop_frame:
        # The string was given as a drop-frame label: count it as one.
        frame = timecode_to_frames(timecode[:-3] + ";" + timecode[-2:], rate)
    return frames_to_timecode(frame, rate, drop_frame)


def _add_audio_stream(container):
    stream = container.add_stream("aac", rate=48_000)
    stream.layout = "mono"
    return stream


def _write_audio(container, stream, seconds: float, flash_period: float) -> None:
    """A quiet hum with a click at each flash, so the audio has events too."""
    rate = 48_000
    t = np.arange(round(seconds * rate)) / rate
    signal = 0.05 * np.sin(2 * np.pi * 220 * t)
    if flash_period > 0:
        envelope = np.exp(-(t % flash_period) * 40)
        signal += 0.5 * envelope * np.sin(2 * np.pi * 1000 * t)
    signal = signal.astype(np.float32)
    for start in range(0, len(signal), 1024):
        chunk = signal[start : start + 1024]
        frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def make_image_sequence(
    directory: str,
    prefix: str,
    suffix: str,
    start_frame: int,
    count: int,
    padding: int,
    size: tuple[int, int] = (160, 120),
) -> list[str]:
    """Writes `count` numbered stills (PNG, or JPEG for .jpg/.jpeg); each shows its file number."""
    os.makedirs(directory, exist_ok=True)
    jpeg = suffix.lower() in (".jpg", ".jpeg")
    paths = []
    for number in range(start_frame, start_frame + count):
        codec = av.CodecContext.create("mjpeg" if jpeg else "png", "w")
        codec.width, codec.height = size
        codec.pix_fmt = "yuvj420p" if jpeg else "rgb24"
        codec.time_base = Fraction(1, 25)
        frame = av.VideoFrame.from_ndarray(draw_frame(number, *size), format="rgb24")
        if jpeg:
            frame = frame.reformat(format="yuvj420p")
        data = b"".join(bytes(packet) for packet in [*codec.encode(frame), *codec.encode(None)])
        path = os.path.join(directory, f"{prefix}{str(number).zfill(padding)}{suffix}")
        with open(path, "wb") as handle:
            handle.write(data)
        paths.append(path)
    return paths
