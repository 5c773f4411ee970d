"""What a media file holds: duration, rate, size, rotation, start timecode."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from v2a.media.errors import MediaError
from v2a.media.timecode import is_drop_frame, timecode_to_frames

#: Seconds before the claimed end where measuring a file's true end starts (more than a GOP).
_TAIL = 20.0
#: Formats whose stated video length is FFmpeg's estimate, not the file's own: MPEG program
#: streams (.mpg, .vob, .mod), measured instead.
ESTIMATED_LENGTH_FORMATS = frozenset({"mpeg"})
#: Codecs that an MPEG program stream times only now and then (see `sparse_timestamps`).
_SPARSELY_TIMED_CODECS = frozenset({"h264", "hevc"})
#: Formats whose index, not their data, states the length: a copy cut short still lists every
#: frame (FFmpeg names: QuickTime/MP4 and relatives, MXF, AVI).
_QUICKTIME = "mov,mp4,m4a,3gp,3g2,mj2"
_INDEXED_FORMATS = frozenset({_QUICKTIME, "mxf", "avi"})
#: The rates a camera's timecode counts frames at.
_TIMECODE_RATES = tuple(
    Fraction(rate) for rate in ("24000/1001", 24, 25, "30000/1001", 30, 48, 50, "60000/1001", 60)
)
#: How a file that stopped part-way through its copy is named (two ways of finding it out).
CUT_SHORT = "the file is cut short (an unfinished copy?)"
#: A pixel aspect ratio outside this range is a broken tag, not a lens: ignored (square pixels),
#: as stretching by it would make a picture thousands of pixels wide.
_PIXEL_ASPECT_RANGE = (Fraction(1, 4), Fraction(4))
#: A picture is see-through (an overlay: a logo, a lower third) where at least this share of
#: its first frame is mostly transparent; an opaque picture saved with an alpha channel is not.
_SEE_THROUGH_SHARE = 0.01
#: Demuxers of single still images (FFmpeg names): a clip may hold one picture for any length.
#: A GIF is among them only when it holds one frame; an animated one plays like a movie.
STILL_FORMATS = frozenset(
    {
        "png_pipe",
        "jpeg_pipe",
        "bmp_pipe",
        "tiff_pipe",
        "webp_pipe",
        "exr_pipe",
        "dpx_pipe",
        "psd_pipe",
        "gif",
        "image2",
        "jpegxl_pipe",
        "qoi_pipe",
        "pam_pipe",
        "ppm_pipe",
    }
)


@dataclass(frozen=True)
class MediaInfo:
    path: str
    duration: float  # seconds of video, first frame to end of last frame
    fps: float
    rate: Fraction  # exact frame rate, e.g. 30000/1001 (the average rate for variable rate)
    frame_count: int
    width: int  # as stored; see display_size for the upright picture
    height: int
    rotation: int  # degrees counterclockwise to turn the stored picture upright (display matrix)
    start_timecode: float  # seconds: timecode frame number / rate; 0.0 without a timecode
    timecode: str  # the timecode string as tagged ("01:00:00;00"), "" without one
    has_video: bool
    has_audio: bool
    start_time: float = 0.0  # pts of the first video frame in seconds (container clock)
    pixel_aspect: Fraction = Fraction(1)  # width of a stored pixel on screen / its height (SAR)
    still: bool = False  # one picture, held for any time (a PNG, a GIF of one frame)
    see_through: bool = False  # its first frame is partly transparent: an overlay (see probe)
    timecode_rate: Fraction = Fraction(0)  # what its source timecodes count at (timecode_rate)

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as the viewer sees it: non-square pixels widened, then rotated."""
        width = round(self.width * self.pixel_aspect)
        if self.rotation % 180:
            return self.height, width
        return width, self.height


def open_input(path: str) -> av.container.InputContainer:
    """Opens a media file or raises MediaError naming it and the problem."""
    if not os.path.exists(path):
        raise MediaError(f"{path}: file not found")
    if os.path.isdir(path):
        raise MediaError(f"{path}: is a folder, not a media file")
    if os.path.getsize(path) == 0:
        raise MediaError(f"{path}: file is empty (0 bytes)")
    boxes = _top_level_boxes(path)
    try:
        return av.open(path, options=_edit_list_options(path, boxes))
    except PermissionError as error:
        raise MediaError(f"{path}: cannot read the file ({error.strerror})") from error
    except (av.FFmpegError, OSError) as error:
        if {b"ftyp", b"mdat"} <= boxes.keys() and b"moov" not in boxes:
            raise MediaError(
                f"{path}: {CUT_SHORT}: it has frames but no index (moov), which cameras write "
                "after the frames: copy it again from the card"
            ) from error
        raise MediaError(f"{path}: not a readable media file ({error})") from error


def _top_level_boxes(path: str) -> dict[bytes, tuple[int, int]]:
    """A QuickTime/MP4 file's top-level boxes up to its index: type -> (position, size); {} for
    other files. Reads only the boxes' 8-byte headers, hopping from one to the next. A copy
    that stopped before a camera file's end holds frames (`mdat`) but no index (`moov`), which
    cameras write after the frames."""
    boxes = {}
    try:
        with open(path, "rb") as handle:
            size_of_file = os.fstat(handle.fileno()).st_size
            position = 0
            while position + 8 <= size_of_file and len(boxes) < 64:
                handle.seek(position)
                header = handle.read(16)
                size, kind = int.from_bytes(header[:4], "big"), header[4:8]
                if size == 1 and len(header) == 16:  # a 64-bit size follows the type
                    size = int.from_bytes(header[8:16], "big")
                if not kind.isalnum():
                    return {}  # not a box: not such a file
                if size == 0:  # the last box runs to the end of the file
                    size = size_of_file - position
                if size < 8:
                    return {}
                boxes.setdefault(kind, (position, size))
                if kind == b"moov":  # all that is wanted; a fragmented file has thousands more
                    break
                position += size
    except OSError:
        return {}
    return boxes


def _edit_list_options(path: str, boxes: dict[bytes, tuple[int, int]]) -> dict[str, str]:
    """Demuxer options that make FFmpeg play a QuickTime/MP4 edit list as QuickTime does.

    A copy cut without re-encoding (`ffmpeg -ss 2.282 -c copy`, LosslessCut, a phone's trim)
    keeps the GOP before its cut and an edit list that starts showing it at the cut. Where the
    cut falls between two frames, the frame begun before it is on screen at the cut, in
    QuickTime and the editors that play the edit list; FFmpeg's own reading hides that frame
    and moves every later one earlier by the part of it that is shown, up to a frame (each
    frame came a frame late). Its plain reading applies the edit's start as an offset and
    hides nothing: the GOP before the cut comes out at negative times (see `first_frame_time`).
    That reading knows one edit only, so a track of several (a movie edited in QuickTime) keeps
    FFmpeg's own.
    """
    index = _movie_index(path, boxes)
    start = index.find(b"elst")
    while start >= 4:
        box_size = int.from_bytes(index[start - 4 : start], "big")
        version = index[start + 4] if start + 4 < len(index) else 0
        count = int.from_bytes(index[start + 8 : start + 12], "big")
        width = 8 if version == 1 else 4  # of an entry's duration and media time; then a rate
        entry = 2 * width + 4
        if box_size == 16 + count * entry:  # an edit list box, not these letters in a name
            media_times = [
                index[at + width : at + 2 * width]
                for at in range(start + 12, start + 12 + count * entry, entry)
            ]
            if sum(time != b"\xff" * width for time in media_times) > 1:  # -1: an empty edit
                return {}
        start = index.find(b"elst", start + 4)
    return {"advanced_editlist": "0"} if index else {}


def _movie_index(path: str, boxes: dict[bytes, tuple[int, int]]) -> bytes:
    """The bytes of a QuickTime/MP4 file's index (`moov`); b"" for other files."""
    if b"moov" not in boxes or boxes[b"moov"][1] > 256 << 20:  # no real index is this big
        return b""
    position, size = boxes[b"moov"]
    with open(path, "rb") as handle:
        handle.seek(position)
        return handle.read(size)


def _timecode_track_rate(index: bytes) -> Fraction:
    """The rate a QuickTime/MP4 timecode track (`tmcd`) counts at, from its description in the
    file's `index`; 0 where there is none or it is no timecode rate. FFmpeg's timecode string
    counts at it, and QuickTime and editors read the track so; the video's own rate may differ
    (see `timecode_rate`)."""
    # The sample entry: size, 'tmcd', six reserved zero bytes, data reference (2), reserved
    # (4), flags (4), timescale (4), frame duration (4). The track's other boxes named tmcd (a
    # track reference, the media information) hold no six zeros after their name.
    start = index.find(b"tmcd" + bytes(6))
    if start < 4 or int.from_bytes(index[start - 4 : start], "big") < 34:
        return Fraction(0)
    timescale = int.from_bytes(index[start + 20 : start + 24], "big")
    frame_duration = int.from_bytes(index[start + 24 : start + 28], "big")
    rate = Fraction(timescale, frame_duration) if timescale and frame_duration else Fraction(0)
    # FFmpeg writes a variable-rate video's average (26.87) there: no timecode rate.
    return rate if rate in _TIMECODE_RATES else Fraction(0)


def picture_stream(container: av.container.InputContainer, path: str):
    """The video stream that is the file's picture, or MediaError naming the file.

    Cover art (an attached picture: an MP3's or M4A's album art, a thumbnail) is a video stream
    to FFmpeg, but no editor plays it: an audio file with one probed as a 64x64 movie at
    90000 fps instead of 'no video'. Of several real video streams the first is taken.
    """
    pictures = [
        stream for stream in container.streams.video
        if not stream.disposition & av.stream.Disposition.attached_pic
    ]
    if not pictures:
        art = " (only cover art)" if container.streams.video else ""
        raise MediaError(f"{path}: has no video stream{art}")
    return pictures[0]


def is_still_picture(container: av.container.InputContainer, stream) -> bool:
    """Whether a file's picture `stream` is one picture to hold for any time (an animated GIF
    is not)."""
    return container.format.name in STILL_FORMATS and stream.frames <= 1


def has_no_clock(container: av.container.InputContainer) -> bool:
    """Whether the file is a raw elementary stream (.h264, .hevc, .m2v): no container, so no
    timestamps to place frames by or to seek to; its frames are counted from the first."""
    return bool(container.format.flags & av.format.Flags.no_timestamps.value)


def frame_rate_of(container: av.container.InputContainer, stream) -> Fraction:
    """The video's exact frame rate; 0 where none is known.

    A raw stream's average rate is the raw demuxer's default of 25 fps, not a measure: the rate
    the stream itself states (H.264/HEVC timing information, an MPEG-2 sequence header) is the
    one its frames play at (a 29.97 fps screen recording read as 25).
    """
    if has_no_clock(container):
        return Fraction(stream.guessed_rate or 0)
    return Fraction(stream.average_rate or stream.guessed_rate or 0)


def sparse_timestamps(container: av.container.InputContainer, stream) -> bool:
    """Whether the video's frames carry times only now and then, some of them wrong: H.264 or
    HEVC in an MPEG program stream (.mpg, .vob). The stream times only the first frame that
    starts in each 2 KB pack, so runs of small frames (a still shot, a title, a screen
    recording) go untimed, and FFmpeg gives an occasional frame the time of the next one in
    decoding order (3 of the 27 timed frames of a 600-frame test file). MPEG-1/2 video there
    is timed frame by frame by FFmpeg, from the stream itself."""
    return (
        container.format.name in ESTIMATED_LENGTH_FORMATS
        and stream.codec.name in _SPARSELY_TIMED_CODECS
    )


def pixel_aspect_of(stream: av.video.stream.VideoStream) -> Fraction:
    """The stream's sample aspect ratio (the container's, else the codec's): 4/3 for HDV
    1440x1080, 64/45 for 16:9 PAL DV; 1 where unknown or implausible."""
    ratio = Fraction(stream.sample_aspect_ratio or 1)
    low, high = _PIXEL_ASPECT_RANGE
    return ratio if low <= ratio <= high else Fraction(1)


def probe_media(path: str) -> MediaInfo:
    """Reads a file's video properties; decodes one frame to check it really decodes, and reads
    the packets of the last frames to check the file is not cut short."""
    with open_input(path) as container:
        stream = picture_stream(container, path)
        rate = frame_rate_of(container, stream)
        if rate <= 0:
            raise MediaError(f"{path}: video stream has no frame rate")
        first, reorder = _first_frame(container, stream, path)
        start_time = _shown_from(container, stream, first)
        still = is_still_picture(container, stream)
        if has_no_clock(container) and not still:
            start_time, duration = 0.0, _counted_length(path, rate)
        else:
            duration = _duration(container, stream, start_time, reorder, path)
        frame_count = stream.frames or round(duration * rate)
        timecode = _timecode_tag(container)
        start_tc = 0.0
        counted = timecode_rate(stream, rate, timecode)
        if timecode and container.format.name == _QUICKTIME:
            counted = _timecode_track_rate(_movie_index(path, _top_level_boxes(path))) or counted
        if timecode:
            try:
                start_tc = float(timecode_to_frames(timecode, counted) / counted)
            except ValueError as error:
                raise MediaError(f"{path}: {error}") from error
        return MediaInfo(
            path=path,
            duration=duration,
            fps=float(rate),
            rate=rate,
            frame_count=int(frame_count),
            width=stream.width,
            height=stream.height,
            rotation=int(first.rotation) % 360,
            start_timecode=start_tc,
            timecode=timecode,
            has_video=True,
            has_audio=bool(container.streams.audio),
            start_time=start_time,
            pixel_aspect=pixel_aspect_of(stream),
            still=still,
            see_through=is_see_through(first),
            timecode_rate=counted,
        )


def timecode_rate(stream, rate: Fraction, timecode: str = "") -> Fraction:
    """The rate the file's timecodes count frames at (its start `timecode`, the source timecodes
    an editor reads): the video's `rate` where it is constant. A variable-frame-rate file's
    average (26.87 fps for a phone's 30 that dropped frames) is no timecode rate: counted at it,
    01:00:00:00 read 3618 s instead of 3600. Its timecode counts at the stream's own rate
    (FFmpeg's r_frame_rate) where that is a timecode rate, else at the one nearest the average;
    drop-frame at 29.97 or 59.94."""
    base = Fraction(stream.base_rate or 0)
    if rate == base or rate in _TIMECODE_RATES:
        return rate
    counted = base if base in _TIMECODE_RATES else min(_TIMECODE_RATES, key=lambda r: abs(r - rate))
    if is_drop_frame(timecode) and round(counted) in (30, 60):
        counted = Fraction(round(counted) * 1000, 1001)
    return counted


def is_see_through(frame: av.VideoFrame) -> bool:
    """Whether a picture is partly transparent (alpha under half in 1% of it or more): a logo or
    a lower third (a PNG, ProRes 4444 with alpha) that the editor shows over the picture beneath.
    Only pictures with an alpha channel or a palette (GIF, PNG-8) are looked at."""
    pixel_format = frame.format
    if not (pixel_format.has_palette or any(part.is_alpha for part in pixel_format.components)):
        return False
    alpha = frame.to_ndarray(format="rgba")[..., 3]
    return bool(np.mean(alpha < 128) >= _SEE_THROUGH_SHARE)


def first_frame_time(container, stream, path: str) -> float:
    """File time 0 on the container clock (seconds): when the first frame the decoder gives is
    shown. It is the stream's start, except where a recording starts inside a GOP (a broadcast
    or stream capture, a TS split by bytes): the frames before its first keyframe cannot be
    decoded, and a player shows that keyframe first. Leaves `container` at the
    first frames' packets: seek before demuxing again."""
    first, _ = _first_frame(container, stream, path)
    return _shown_from(container, stream, first)


def _shown_from(container, stream, first: av.VideoFrame) -> float:
    """Where file time 0 is on the container clock (seconds), given `first`, the first frame
    decoded: its time, but in a QuickTime/MP4 file not before 0, the edit list's start; the GOP
    before a cut decodes at negative times there and is not shown (`_edit_list_options`)."""
    time = float(first.time) if first.time is not None else _stream_start(stream)
    return max(time, 0.0) if container.format.name == _QUICKTIME else time


def _stream_start(stream) -> float:
    """Where FFmpeg starts the stream (seconds, container clock): its first packet's pts (AVI:
    its first frame's place in decoding order); 0 where none is known."""
    return float(stream.start_time * stream.time_base) if stream.start_time else 0.0


def _first_frame(container, stream, path: str) -> tuple[av.VideoFrame, Fraction]:
    """The first frame, and how long after its packet's decoding it is shown: the stream's
    B-frame delay, which places the last frame of a stream whose last packets carry no time."""
    decoded = None  # the decoding time of the first packet
    try:
        for packet in container.demux(stream):
            if decoded is None and packet.dts is not None:
                decoded = packet.dts * stream.time_base
            for frame in packet.decode():
                shown = frame.pts * stream.time_base if frame.pts is not None else None
                delay = shown - decoded if shown is not None and decoded is not None else 0
                return frame, max(Fraction(delay), Fraction(0))
    except av.FFmpegError as error:
        raise MediaError(f"{path}: video does not decode ({error})") from error
    raise MediaError(f"{path}: video stream holds no decodable frame")


def _duration(container, stream, start_time: float, reorder: Fraction, path: str) -> float:
    stated = float(stream.duration * stream.time_base) if stream.duration else 0.0
    if stated and container.format.name not in ESTIMATED_LENGTH_FORMATS:
        if container.format.name in _INDEXED_FORMATS:
            _check_not_cut_short(container, stream, start_time, stated, path)
        if container.format.name == "avi":
            # A count of frames, timed in decoding order: FFmpeg starts the stream a B-frame
            # delay before the first frame it shows, and the count is all of them still.
            return stated
        # The stated length counts from the stream's first packet; a recording that starts
        # inside a GOP shows nothing before its first keyframe, and a cut's edit list nothing
        # before its start (see `first_frame_time`).
        return stated - (start_time - _stream_start(stream))
    # No length of its own (Matroska, WebM, NUT, FLV): the container's figure counts from a
    # different origin per format (Matroska's from 0, not from the first frame: a file starting
    # at 1.48 s read 1.48 s too long) and live recordings carry none, so measure the end.
    # MPEG-PS states FFmpeg's estimate, which runs 6 to 11 frames short: measured too, and the
    # larger kept (a timestamp reset in a VOB would make the measure read short).
    end = _video_end(container, stream, reorder)
    if end is not None:
        return max(end - start_time, stated, 0.0)
    if stated:
        return stated
    if container.duration:
        # The container's clock counts from its own start; the video may begin later.
        container_start = (container.start_time or 0) / av.time_base
        return container.duration / av.time_base - (start_time - container_start)
    return 0.0


def _counted_length(path: str, rate: Fraction) -> float:
    """Seconds of a raw stream: its packets' lengths added up (one frame, or one field, each),
    read but not decoded. FFmpeg states no length for such a file (it probed as zero length,
    so every clip on it was 'invalid'); counting costs one read of the file."""
    seconds = Fraction(0)
    with open_input(path) as container:  # a raw stream cannot seek back to its first frame
        stream = picture_stream(container, path)
        for packet in container.demux(stream):
            if not packet.size:  # the empty packet that ends the stream
                continue
            # A packet without a length of its own lasts a frame at the stream's rate.
            seconds += packet.duration * stream.time_base if packet.duration else 1 / rate
    return float(seconds)


def _check_not_cut_short(container, stream, start_time: float, stated: float, path: str) -> None:
    """Raises MediaError when the packets of the last frames the index lists are not in the file.

    A copy or download that stopped mid-file keeps an index at the front (fast-start MOV/MP4,
    MXF) that lists frames whose data is gone: it probed fine, then generation failed on a
    misleading 'past the end' or decoded a half-written last frame. Reading the packets from
    the last keyframe (no decoding) finds it at the cost of one GOP.
    """
    frame = 1 / float(frame_rate_of(container, stream))
    stated_end = _stream_start(stream) + stated  # container clock, as packet times
    try:
        container.seek(round((stated_end - frame) / stream.time_base), stream=stream, backward=True)
    except av.FFmpegError:
        return  # no seek there: decoding still names the file if the end is missing
    end = partial = None
    try:
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            time = float(packet.pts * stream.time_base)
            length = float(packet.duration * stream.time_base) if packet.duration else frame
            end = max(end or 0.0, time + length)
            partial = time if packet.is_corrupt else None  # a short read of the last bytes
    except av.FFmpegError as error:
        raise MediaError(f"{path}: its last frames do not read ({error})") from error
    if end is not None and end >= stated_end - frame / 2 and partial is None:
        return
    lists = f"its index lists {stated:.3f} s of video"
    if end is None:
        found = "the data of its last frames is missing"
    elif partial is not None:
        found = f"the frame at {partial - start_time:.3f} s is only partly there"
    else:
        found = f"the data ends at {end - start_time:.3f} s"
    raise MediaError(f"{path}: {CUT_SHORT}: {lists} but {found}")


def _video_end(container, stream, reorder: Fraction) -> float | None:
    """Where the last video packet ends (seconds, container clock), from the packets of the
    last stretch of the file (all of it when no seek lands there); None when none has a time."""
    claimed = container.duration / av.time_base if container.duration else 0.0
    targets = [claimed - _TAIL, None] if claimed > _TAIL else [None]
    for target in targets:  # the tail first, then the whole file
        try:
            if target is None:
                container.seek(0)
            else:
                container.seek(round(target / stream.time_base), stream=stream, backward=True)
            end = _last_packet_end(container, stream, reorder)
        except av.FFmpegError:
            continue
        if end is not None:
            return end
    return None


def _last_packet_end(container, stream, reorder: Fraction) -> float | None:
    """Where the last video packet read ends (seconds, container clock).

    An MPEG program stream times only the first frame that starts in each of its 2 KB packs, so
    runs of small H.264 frames (a still shot, a title, a screen recording) carry no time: 144 of
    a test file's 150 frames, which probed 5.04 s instead of 6.00 s. The end is then counted: each packet
    takes a frame's length to decode after the one before it, and the last is shown `reorder`
    after its decoding (the B-frame delay). FFmpeg gives an occasional packet the time of the
    next one, which only ever counts long: the count from the earliest-placed start is kept.
    """
    rate = frame_rate_of(container, stream)
    end = None
    read = Fraction(0)  # the lengths of the packets read so far
    first_decoded = None  # when the first packet read was decoded, as the timed ones place it
    untimed = False
    for packet in container.demux(stream):
        if not packet.size:  # the empty packet that ends the stream
            continue
        if packet.duration:
            length = packet.duration * stream.time_base
        else:  # a packet with no length of its own lasts a frame, where the rate is known
            length = 1 / rate if rate else Fraction(0)
        start = packet.pts if packet.pts is not None else packet.dts
        if start is None:
            untimed = True
        else:
            end = max(end or 0.0, float(start * stream.time_base + length))
        if packet.dts is not None:
            placed = packet.dts * stream.time_base - read
            first_decoded = placed if first_decoded is None else min(first_decoded, placed)
        # Counted at the exact rate: a 90 kHz clock rounds 23.976 fps frames to whole ticks.
        read += 1 / rate if rate else length
    if untimed and first_decoded is not None:
        end = max(end or 0.0, float(first_decoded + read + reorder))
    return end


def _timecode_tag(container) -> str:
    """The start timecode cameras write: a tmcd track (QuickTime/MP4), a stream `TIMECODE` tag
    (Matroska) or a file-level `timecode` (MXF). Tag names vary in case between formats."""
    for metadata in [*(stream.metadata for stream in container.streams), container.metadata]:
        for key, value in metadata.items():
            if key.lower() == "timecode" and value:
                return value
    return ""
