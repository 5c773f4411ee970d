"""Where the FCP7 XML reader (otio-fcp-adapter 1.0.0) puts the items beside a transition.

An FCP7 `<transitionitem>` spans frames `<start>` to `<end>` of its track and cuts from one side
to the other at its `<alignment>`: at its start, at its end, or at its centre. OTIO's transition
takes no time on its track: it overlaps the items on both sides of its cut. The reader lays a
track out item by item, a gap wherever an item starts after the last one ended, but it counted
a transition as an item from its start to its end. So a transition beside empty track space
moved the clip after that space earlier:
- a transition at a clip's tail followed by a gap ended the previous item at the transition's
  end, not at its cut: the gap came out short by the part after the cut (clip A, a 12/12-frame
  dissolve centred on A's end at 100, and clip B at `<start>150`: B was read at 138);
- a transition at a clip's head after a gap (a fade up from black, centred on the cut) put the
  gap's end at the transition's start: the clip came out early by the part before the cut.
transitions.aaf written as FCP7 XML by the adapter and read again had the shot "KOLL" 36 frames
early. `install()` places each transition at its cut, as OTIO means it, so every clip is read at
the frames the document gives it: its `<start>`/`<end>`, or for `-1`, the cut of the transition
beside it. The writer is left as it is: it places transitions from OTIO's ranges already.

Premiere also writes where the cut is, exactly: `<cutPointTicks>`, from the transition's start in
its ticks (254016000000 a second). The reader takes the cut from the alignment alone; in both of
`premiere_example.xml`'s transitions the two agree (an end-black dissolve of 19 frames cut at 19,
a centred one of 25 frames at 12, the alignment's centre rounded down as the reader rounds it),
but a cut Premiere placed off the centre, which the alignment's three places cannot say, moved
every clip beside it. The reader takes the cut from the ticks where they name a whole frame
within the transition (`ticks_cut`); other values (written by other tools: a half frame, ticks
counted from the sequence start) leave the alignment's cut.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from fractions import Fraction

import opentimelineio as otio

from otio_adapters.timing import exact_rate

log = logging.getLogger(__name__)
#: Premiere's unit of time, as `<cutPointTicks>` counts it.
TICKS_PER_SECOND = 254_016_000_000

_installed = False


def install() -> None:
    """Make the FCP7 XML reader lay out a track with each transition at its cut (idempotent)."""
    global _installed
    if _installed:
        return
    # The module OTIO's plugin manifest loads (its own copy, not `otio_fcp_adapter`'s).
    fcp_xml = otio.adapters.from_name("fcp_xml").module()
    parser = fcp_xml.FCP7XMLParser
    original = parser.item_and_timing_for_element

    def item_and_timing_for_element(reader, item_element, *args, **kwargs):
        item, item_range = original(reader, item_element, *args, **kwargs)
        if isinstance(item, otio.schema.Transition):
            item_range = at_cut(item, item_range)
        return item, item_range

    parser.item_and_timing_for_element = item_and_timing_for_element
    alignment_cut = fcp_xml._transition_cut_point

    def transition_cut_point(transition_item, context):
        # The reader's cut of a transition, for it and for the clips beside it (start/end -1).
        cut = alignment_cut(transition_item, context)
        ticked = ticks_cut(transition_item, cut.rate)
        if ticked is None or ticked == cut.value:
            return cut
        log.debug("transition at frame %s cuts at %d (its <cutPointTicks>), not %d (its "
                  "alignment)", transition_item.findtext("start"), ticked, int(cut.value))
        return otio.opentime.RationalTime(ticked, cut.rate)

    fcp_xml._transition_cut_point = transition_cut_point
    _installed = True


def ticks_cut(transition: ET.Element, rate: float) -> int | None:
    """The record frame (at `rate`) a transition item cuts at by Premiere's `<cutPointTicks>`,
    where they name a whole frame between its start and its end; None otherwise."""
    try:
        ticks = int(transition.findtext("cutPointTicks") or "")
        start, end = int(transition.findtext("start")), int(transition.findtext("end"))
    except (TypeError, ValueError):
        return None
    frames = Fraction(ticks) * exact_rate(rate) / TICKS_PER_SECOND
    if frames.denominator != 1 or not 0 <= frames <= end - start:
        return None
    return start + int(frames)


def at_cut(
    transition: otio.schema.Transition, spanned: otio.opentime.TimeRange
) -> otio.opentime.TimeRange:
    """The track time a transition that spans `spanned` takes in OTIO: none, at its cut (the
    reader's timing of a track's items decides where the gaps beside it end)."""
    cut = spanned.start_time + transition.in_offset
    return otio.opentime.TimeRange(cut, otio.opentime.RationalTime(0, cut.rate))
