"""v2a: give an editor's timeline a generated soundtrack, aligned to the picture.

This package is the shared kernel the other layers meet in: the plain data passed between them
(`v2a.contracts`), media I/O (`v2a.media`), the generation pipeline and the CLI. It imports
nothing from `otio_adapters`, `model` or `plugin_server` at module import time.
"""

__version__ = "0.1.0"
