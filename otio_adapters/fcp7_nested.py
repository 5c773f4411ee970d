"""Nested sequences in the FCP7 XML reader (otio-fcp-adapter 1.0.0).

A clip item that plays a sequence (Premiere's nested sequence, FCP7's nest) holds a `<sequence>`
whose tracks are under its `<media>`, as a top-level sequence's are. The reader looks for them
directly under the `<sequence>` and so read every nested sequence as an empty stack: its clips
got no sound from v2a, and a timeline with nested stacks written to FCP7 XML (by the adapter,
which writes them correctly) read back without them. `install()` hands it the `<media>`.
"""

from __future__ import annotations

import opentimelineio as otio

_installed = False


def install() -> None:
    """Make the FCP7 XML reader read what nested sequences hold (idempotent)."""
    global _installed
    if _installed:
        return
    # The module OTIO's plugin manifest loads (its own copy, not `otio_fcp_adapter`'s).
    parser = otio.adapters.from_name("fcp_xml").module().FCP7XMLParser
    original = parser.stack_for_element

    def stack_for_element(reader, element, context):
        media = reader._derefed_element(element.find("./media"))
        if element.tag != "sequence" or media is None:
            return original(reader, element, context)
        stack = original(reader, media, context.context_pushing_element(element))
        stack.name = element.findtext("./name") or stack.name
        return stack

    parser.stack_for_element = stack_for_element
    _installed = True
