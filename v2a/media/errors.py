"""The one error type of the media layer."""


class MediaError(ValueError):
    """A media file is missing, unreadable, or cannot give what was asked.

    The message always names the file and what is wrong, so callers can show it as is.
    """
