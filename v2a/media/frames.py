"""Decode exactly the frames a segment needs, upright and square, seeking instead of scanning.

Square output policy: scale so the short side equals `size` (area filter), then crop the
centre of the long side; the display rotation (display matrix) is applied after, so portrait
phone footage comes out upright. Non-square pixels (HDV, DV, anamorphic) are widened to the
display aspect before that, so the model sees the picture as the editor does.

Which frame is "displayed at time t": the last frame whose presentation time (pts) is <= t.
Times are compared with a tolerance of 0.1 ms (plus half a tick of coarse millisecond clocks,
as in Matroska), so a time computed in float that lands a hair before a frame boundary still
picks that frame (a frame lasts 16 ms or more). Callers must still use exact rates
(30000/1001, not 29.97) for source times far into a file.
"""

from __future__ import annotations

import logging
import math
import os
from collections import deque
from collections.abc import Iterator, Sequence
from fractions import Fraction

import av
import numpy as np

from v2a.contracts import SAMPLE_RATE, ImageSequence, Segment
from v2a.media import hdr
from v2a.media.errors import MediaError
from v2a.media.probe import (
    ESTIMATED_LENGTH_FORMATS,
    first_frame_time,
    frame_rate_of,
    has_no_clock,
    is_still_picture,
    open_input,
    picture_stream,
    pixel_aspect_of,
    sparse_timestamps,
)

log = logging.getLogger(__name__)

#: Re-seek instead of decoding forward when the next wanted time is this far ahead (seconds).
SEEK_GAP = 4.0
#: Seek this much earlier when a seek landed after the wanted time (seconds, doubled each try).
_SEEK_MARGIN = 1.0
TOLERANCE = 1e-4  # seconds
#: A last frame that would cover less than this fraction of its interval is not requested.
_MIN_COVER = 0.01
#: Timed frames whose times must agree to place the frames after a seek in a sparsely timed
#: stream: FFmpeg gives an occasional frame there the time of another one (see
#: `sparse_timestamps`), so the median of three outvotes it.
_ANCHOR_VOTES = 3
#: Damaged packets in a row stepped over before a file counts as undecodable.
_MAX_DAMAGED_PACKETS = 12


def segment_file_times(segment: Segment, fps: float) -> np.ndarray:
    """File times (seconds from the media's first frame) of the frames a segment needs.

    T = ceil(generated duration * fps) frames (ignoring a last frame under 1% covered, which
    only sample rounding creates and which would ask for the frame after a clip), sampled at
    t = i / fps of record time from the start of the generated range (the record start minus
    the leading handle). The viewer sees whole timeline frames, so t is first snapped down to
    the start of the timeline frame on screen; then it maps to source time by
    ``source_start + speed * t`` and to the file by subtracting media_start.
    """
    count = max(1, math.ceil(segment.generated_samples * fps / SAMPLE_RATE - _MIN_COVER))
    record = np.arange(count) / fps - segment.handle_before_samples / SAMPLE_RATE
    return file_times_at(segment, record)


def file_times_at(segment: Segment, record: np.ndarray) -> np.ndarray:
    """File times of the frames the viewer sees `record` seconds after the segment's record
    start (negative: in its leading handle), as `segment_file_times` maps them."""
    if segment.timeline_rate > 0:
        rate = segment.timeline_rate
        record = np.floor(record * rate + TOLERANCE * rate) / rate
    return segment.source_start + segment.speed * record - segment.media.media_start


def read_segment_frames(segment: Segment, fps: float, size: int) -> np.ndarray:
    """uint8 (T, size, size, 3): the picture the viewer sees under the segment, at `fps`."""
    with SegmentFrames.at_frame_rate(segment, fps, size) as frames:
        return frames[np.arange(len(frames))]


class SegmentFrames:
    """The picture under a segment, as `read_segment_frames` gives it, decoded when asked for.

    `len`, `shape`, `dtype` and `ndim` as of the array; `frames[index]` (an array of frame numbers
    or a slice) decodes those frames; `np.asarray(frames)` decodes them all. Asked for a span at
    a time in order, as a generator that reads the picture in chunks does, the file stays open
    and is decoded once through: a long take is never in memory whole (at 128 px, 1.2 MB a
    second at 24 fps, 4.2 GB an hour). Offline media fails here, before any decoding.
    """

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, segment: Segment, file_times: np.ndarray, size: int) -> None:
        """The pictures at `file_times` (seconds from the media's first frame) under `segment`."""
        if segment.media.image_sequence is None and segment.media.path is None:
            raise MediaError(f"clip {segment.clip_name!r}: media offline ({segment.media.referenced})")
        self.times = file_times
        self.shape = (len(file_times), size, size, 3)
        self._media, self._size = segment.media, size
        self._video: _VideoReader | None = None

    @classmethod
    def at_frame_rate(cls, segment: Segment, fps: float, size: int) -> SegmentFrames:
        """The run of pictures the segment needs at `fps` (`segment_file_times`)."""
        return cls(segment, segment_file_times(segment, fps), size)

    @classmethod
    def at_record_seconds(cls, segment: Segment, seconds: Sequence[float], size: int) -> SegmentFrames:
        """The pictures the viewer sees `seconds` after the segment's record start (thumbnails
        of a result picture), instead of a run of them at a frame rate."""
        return cls(segment, file_times_at(segment, np.asarray(seconds, np.float64)), size)

    def __len__(self) -> int:
        return len(self.times)

    def __getitem__(self, index) -> np.ndarray:
        times = self.times[index]
        if np.ndim(times) != 1:
            raise IndexError(f"frames are read by a slice or an array of frame numbers, not {index!r}")
        try:
            if self._media.image_sequence is not None:
                return read_image_sequence_at(self._media.image_sequence, times, self._size)
            if self._video is None:
                self._video = _VideoReader(self._media.path, self._size)
            return self._video.pictures_at(times)
        except MediaError:
            raise
        except Exception as error:  # a decoder surprise, raised inside whoever asked for frames
            where = self._media.path or self._media.image_sequence.directory
            raise MediaError(f"{where}: cannot decode ({error})") from error

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        frames = self[np.arange(len(self))]
        return frames if dtype is None else frames.astype(dtype)

    def close(self) -> None:
        if self._video is not None:
            self._video.close()
            self._video = None

    def __enter__(self) -> SegmentFrames:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def decode_frames_at(path: str, file_times: Sequence[float], size: int) -> np.ndarray:
    """uint8 (len(file_times), size, size, 3): the frame displayed at each time, in order given.

    Times are seconds from the first frame of the file's video. The covered span is decoded once
    (from the keyframe before its start) however the times are ordered or repeated, so reverse
    and freeze frames cost no more than forward play.
    """
    if len(file_times) == 0:
        return np.empty((0, size, size, 3), np.uint8)
    with _VideoReader(path, size) as reader:
        return reader.pictures_at(file_times)


class _VideoReader:
    """An open video file and where its decoding stands, across calls."""

    def __init__(self, path: str, size: int) -> None:
        self.path, self.size = path, size
        self.container = open_input(path)
        try:
            stream = picture_stream(self.container, path)
            self.still = None
            if is_still_picture(self.container, stream):  # one picture, held for any time
                self.still = _first_picture(self.container, path, size)
            else:
                self.cursor = _FrameCursor(self.container, stream, path, size)
        except BaseException:
            self.container.close()
            raise

    def pictures_at(self, file_times: Sequence[float]) -> np.ndarray:
        times = np.asarray(file_times, dtype=np.float64)
        out = np.empty((len(times), self.size, self.size, 3), np.uint8)
        if len(times) == 0:
            return out
        if not np.all(np.isfinite(times)):
            raise MediaError(f"{self.path}: asked for frames at non-finite times")
        if self.still is not None:
            out[:] = self.still
            return out
        for index in np.argsort(times, kind="stable"):
            out[index] = self.cursor.picture_at(float(times[index]))
        return out

    def close(self) -> None:
        if self.still is None:
            self.cursor.close()  # a raw stream's cursor may have opened the file again
        self.container.close()

    def __enter__(self) -> _VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _FrameCursor:
    """Walks a video stream forward, holding the frame on screen and the one after it.

    A frame's file time is its pts where it has one. A frame without one is a frame after the
    one before it; the first frames after a seek take their time back from the next timed
    frame. Two kinds of file are timed by counting instead: a raw stream (.h264, .hevc, .m2v)
    has no clock at all, so its frames are counted from the first and going back means reading
    it again from the start; H.264/HEVC in an MPEG program stream is counted from an anchor
    that the first few timed frames after a seek agree on (see `sparse_timestamps`).
    """

    def __init__(self, container, stream, path: str, size: int):
        self.container, self.stream, self.path, self.size = container, stream, path, size
        self.pixel_aspect = pixel_aspect_of(stream)
        stream.thread_type = "AUTO"
        # Counted frames each last exactly this: a 90 kHz clock rounds 23.976 fps frames to
        # 3753 or 3754 ticks, and adding those up drifted a frame off within 100 frames.
        self.frame_duration = 1 / float(frame_rate_of(container, stream) or 25)
        self.counted = has_no_clock(container)
        # Where file time 0 is on the container clock (the first frame shown, as probe has it).
        # A raw stream's frames are counted from its first instead.
        self.start = 0.0 if self.counted else first_frame_time(container, stream, path)
        # Matroska/WebM store pts in whole milliseconds: a 29.97 fps frame time is rounded by up
        # to half of one. Clocks that tick once per frame (AVI) round nothing.
        tick = float(stream.time_base)
        self.tolerance = TOLERANCE + (tick / 2 if tick < self.frame_duration / 4 else 0.0)
        self.anchor_votes = _ANCHOR_VOTES if sparse_timestamps(container, stream) else 0
        self.lands_mid_frame = container.format.name in ESTIMATED_LENGTH_FORMATS
        self.frames = None  # the decode iterator, None until the first seek
        self.at_start = False  # decoding began at the file's first frame (file time 0)
        self.pending: deque[tuple[float, av.VideoFrame]] = deque()  # timed, not yet shown
        self.last: tuple[float, av.VideoFrame] | None = None  # the latest frame timed
        self.current = self.upcoming = None  # (file time, frame)
        self.end = math.inf  # end of the last frame, known once the stream ran out
        self.cache: dict[float, np.ndarray] = {}

    def close(self) -> None:
        self.container.close()

    def picture_at(self, t: float) -> np.ndarray:
        if t < -self.tolerance:
            raise MediaError(f"{self.path}: time {t:.3f} s is before the start of the media")
        # Far ahead, or behind the frame on screen (a later call of a reverse clip): seek. A raw
        # stream cannot seek: it is only ever read from its start.
        behind = self.current is not None and t < self.current[0] - self.tolerance
        far = not self.counted and self.frames is not None and t > self._position() + SEEK_GAP
        if self.frames is None or far or behind:
            self._seek(t if t > SEEK_GAP and not self.counted else 0.0)  # near the start: from it
        while self.upcoming is not None and self.upcoming[0] <= t + self.tolerance:
            self._advance()
        if self.upcoming is None and t >= self.end:
            raise MediaError(
                f"{self.path}: time {t:.3f} s is past the end of the media "
                f"(duration {self.end:.3f} s)"
            )
        time, frame = self.current
        if time not in self.cache:
            picture = to_square_rgb(frame, self.size, self.pixel_aspect)
            self.cache = {time: picture}  # one held: times are sorted
        return self.cache[time]

    def _position(self) -> float:
        return self.upcoming[0] if self.upcoming is not None else self.current[0]

    def _seek(self, t: float) -> None:
        """Positions on the keyframe at or before t (re-seeking earlier if the demuxer overshot)."""
        margin = 0.0
        while True:  # ends at the latest once the seek goes to the start
            target = max(0.0, t - margin)
            try:
                if target == 0.0:  # the very beginning: timed seeks can land late (MPEG-TS)
                    self._rewind()
                else:
                    offset = round((self.start + target) / self.stream.time_base)
                    self.container.seek(offset, stream=self.stream, backward=True)
            except av.FFmpegError as error:
                raise MediaError(f"{self.path}: cannot seek to {t:.3f} s ({error})") from error
            self.frames, self.at_start = self._decode(target > 0.0), target == 0.0
            self.pending.clear()
            self.end, self.last = math.inf, None
            try:
                self.current, self.upcoming = None, self._next()
            except _Untimed:  # nothing after the landing says when it is: go back further
                self.upcoming = None
            # Some demuxers land after t, or past the last keyframe so that nothing decodes.
            landed = self.upcoming is not None and self.upcoming[0] <= t + self.tolerance
            if landed or target == 0.0:
                break
            margin = margin * 2 or _SEEK_MARGIN
        if self.upcoming is None:
            raise MediaError(f"{self.path}: no frame decodes at {t:.3f} s")
        self._advance()

    def _rewind(self) -> None:
        """Back to the first frame. A raw stream refuses to seek: it is opened again."""
        if not self.counted:
            self.container.seek(0)
        elif self.frames is not None:  # freshly opened, it is at its start already
            self.container.close()
            self.container = open_input(self.path)
            self.stream = picture_stream(self.container, self.path)
            self.stream.thread_type = "AUTO"

    def _decode(self, after_seek: bool = False) -> Iterator[av.VideoFrame]:
        """Frames in display order, stepping over a few damaged packets like a player would.

        A timed seek in an MPEG program stream lands on a pack, which can start in the middle
        of a frame: that first packet, a frame's tail taken for a keyframe, decoded into another
        frame's picture under its own time (frame 20 shown for frame 276), so it is left out.
        """
        damaged = 0
        packets = self.container.demux(self.stream)
        if after_seek and self.lands_mid_frame:
            next(packets, None)
        for packet in packets:
            try:
                frames = packet.decode()
            except av.InvalidDataError as error:
                damaged += 1
                if damaged > _MAX_DAMAGED_PACKETS:
                    raise MediaError(f"{self.path}: video does not decode ({error})") from error
                log.warning("%s: skipped a damaged video packet at pts %s", self.path, packet.pts)
                continue
            damaged = 0
            yield from frames

    def _advance(self) -> None:
        self.current = self.upcoming
        self.upcoming = self._next()

    def _next(self) -> tuple[float, av.VideoFrame] | None:
        if not self.pending:
            self._time_more_frames()
        if not self.pending:
            if self.last is not None:
                self.end = self.last[0] + self._duration_of(self.last[1])
            return None
        return self.pending.popleft()

    def _time_more_frames(self) -> None:
        """Decodes the next frame and gives it its file time (and the frames before the first
        timed one after a seek theirs)."""
        frame = self._pull()
        if frame is None:
            return
        if self.last is not None and (self.counted or self.anchor_votes):
            time = self.last[0] + self.frame_duration
        elif self.last is not None and frame.pts is None:
            time = self.last[0] + self._duration_of(self.last[1])
        elif self.last is None and (self.counted or (self.at_start and self.anchor_votes)):
            time = 0.0  # the first frame of the file
        elif frame.pts is not None and not self.anchor_votes:
            time = float(frame.pts * frame.time_base) - self.start
        else:
            self._time_from_anchor(frame)
            return
        self.last = (time, frame)
        self.pending.append(self.last)

    def _time_from_anchor(self, first: av.VideoFrame) -> None:
        """Times the frames from `first` (the first after a seek) by the timed ones after it.

        Each timed frame votes for the time of `first`: its own time less the frames between.
        Where FFmpeg gave a frame the time of another, two frames hold the same time; neither
        votes. The median of the rest outvotes a mistimed frame whose twin was not reached.
        """
        frames, offsets_by_pts = [], {}
        offset, frame = 0.0, first
        while frame is not None:
            frames.append((offset, frame))
            if frame.pts is not None:
                offsets_by_pts.setdefault(frame.pts, []).append(offset)
                unique = sum(len(offsets) == 1 for offsets in offsets_by_pts.values())
                if unique >= max(1, self.anchor_votes):
                    break
            offset += self.frame_duration if self.anchor_votes else self._duration_of(frame)
            frame = self._pull()
        votes = sorted(
            float(pts * first.time_base) - self.start - offsets[0]
            for pts, offsets in offsets_by_pts.items()
            if len(offsets) == 1
        )
        if not votes:
            if not self.at_start:
                raise _Untimed
            votes = [0.0]  # untimed from the file's start: its first frame is time 0
        anchor = votes[(len(votes) - 1) // 2]
        for offset, frame in frames:
            self.last = (anchor + offset, frame)
            self.pending.append(self.last)

    def _pull(self) -> av.VideoFrame | None:
        try:
            return next(self.frames, None)
        except MediaError:
            raise
        except av.FFmpegError as error:
            raise MediaError(f"{self.path}: video does not decode ({error})") from error

    def _duration_of(self, frame: av.VideoFrame) -> float:
        if frame.duration and frame.time_base:
            return float(frame.duration * frame.time_base)
        return self.frame_duration


class _Untimed(Exception):
    """No frame after a seek carries a time: the seek has to land earlier."""


def to_square_rgb(
    frame: av.VideoFrame, size: int, pixel_aspect: Fraction = Fraction(1)
) -> np.ndarray:
    """Short side scaled to `size`, long side centre-cropped, then turned upright.

    Non-square pixels (`pixel_aspect`, the stream's sample aspect ratio) are widened first, so
    the picture keeps the proportions the editor sees: HDV's 1440x1080 is 16:9, not 4:3. HDR
    and Rec. 2020 pictures are tone-mapped to Rec. 709 as an editor's viewer shows them (`hdr`).
    """
    shown_width = frame.width * pixel_aspect
    scale = size / min(shown_width, frame.height)
    width, height = max(size, round(shown_width * scale)), max(size, round(frame.height * scale))
    if hdr.needs_conversion(frame):
        image = hdr.to_rec709_rgb(frame, width, height)
    else:
        image = frame.reformat(width, height, format="rgb24", interpolation="AREA").to_ndarray()
    top, left = (height - size) // 2, (width - size) // 2
    return upright(image[top : top + size, left : left + size], frame)


def upright(image: np.ndarray, frame: av.VideoFrame) -> np.ndarray:
    """`image` (rows, columns, ...) of `frame` as its display matrix shows it: turned by
    quarter turns, and mirrored where the matrix mirrors (a front camera, a mirrored EXIF
    orientation). FFmpeg's rotation angle reads a mirror as a half turn, which showed such a
    picture upside down as well. The matrix's top-left entries (a b / c d) place a stored
    pixel (x, y) at (a x + c y, b x + d y), y down; a skewed one is taken at its nearest
    quarter turn."""
    try:
        matrix = frame.side_data.get("DISPLAYMATRIX")
    except ValueError:
        # Side data of a kind newer than PyAV (FFmpeg 8's EXIF, with a JPEG's orientation)
        # makes the list unreadable: FFmpeg's angle still turns it, a mirror is missed.
        quarter_turns = round(frame.rotation / 90) % 4  # counterclockwise
        return np.ascontiguousarray(np.rot90(image, k=quarter_turns)) if quarter_turns else image
    if matrix is None:
        return image
    a, b, _, c, d = np.frombuffer(bytes(matrix), dtype=np.int32)[:5]
    if abs(b) > abs(a):  # a quarter turn: x and y swap
        image, a, d = np.swapaxes(image, 0, 1), c, b
    if a < 0:
        image = image[:, ::-1]
    if d < 0:
        image = image[::-1]
    return np.ascontiguousarray(image)


def read_image_sequence_at(sequence: ImageSequence, file_times: Sequence[float], size: int):
    """Frames of an image sequence at each time (seconds from its first image)."""
    times = np.asarray(file_times, dtype=np.float64)
    out = np.empty((len(times), size, size, 3), np.uint8)
    pictures: dict[int, np.ndarray] = {}
    for index, t in enumerate(times):
        position = math.floor((t + TOLERANCE) * sequence.rate)
        number = sequence.start_frame + position * sequence.frame_step
        if number not in pictures:
            pictures[number] = _read_still(sequence, number, t, size)
        out[index] = pictures[number]
    return out


def _read_still(sequence: ImageSequence, number: int, t: float, size: int) -> np.ndarray:
    path = sequence.frame_path(number)
    if t < -TOLERANCE or not os.path.exists(path):
        raise MediaError(
            f"{path}: image {number} of sequence {sequence.name_prefix}*{sequence.name_suffix} "
            f"in {sequence.directory} is missing (time {t:.3f} s)"
        )
    with open_input(path) as container:
        return _first_picture(container, path, size)


def _first_picture(container, path: str, size: int) -> np.ndarray:
    stream = picture_stream(container, path)
    try:
        frame = next(container.decode(stream))
    except (av.FFmpegError, StopIteration) as error:
        raise MediaError(f"{path}: image does not decode ({error or 'no picture'})") from error
    return to_square_rgb(frame, size, pixel_aspect_of(stream))
