"""The mode of finished files, for every layer that writes through a temporary file.

mkstemp and safetensors create private (0600) files; a finished WAV, timeline or checkpoint gets
the mode any new file would get here. The umask is read once, at import, because reading it means
setting it, which is not thread-safe.
"""

import os

_UMASK = os.umask(0o022)
os.umask(_UMASK)

USUAL_FILE_MODE = 0o666 & ~_UMASK
