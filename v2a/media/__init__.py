"""Media I/O: probe files, decode the frames a segment needs, write 48 kHz BWF audio."""

from v2a.media.audio import fit_to_length, read_bext, read_wav, resample, write_wav
from v2a.media.errors import MediaError
from v2a.media.frames import decode_frames_at, read_segment_frames, segment_file_times
from v2a.media.probe import MediaInfo, probe_media

__all__ = [
    "MediaError",
    "MediaInfo",
    "decode_frames_at",
    "fit_to_length",
    "probe_media",
    "read_bext",
    "read_segment_frames",
    "read_wav",
    "resample",
    "segment_file_times",
    "write_wav",
]
