"""Media I/O: probe files, decode the frames a segment needs, write 48 kHz BWF audio."""

from v2a.media.errors import MediaError

__all__ = ["MediaError"]
