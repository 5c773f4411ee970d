"""Prompts an editor writes into the edit: markers whose name or comment starts `v2a:`.

An editor who wants gravel under one shot and rain under the next says so where they work: a
marker on the clip (Premiere's clip markers, Final Cut's, Resolve's, Avid's locators), or a
marker on the timeline over it, named or commented

    v2a: footsteps on gravel        the clip's prompt
    v2a not: music, voices          its negative prompt

Every format v2a reads brings markers through its OTIO adapter (FCP7 XML, FCPXML, AAF, CMX 3600
locators, Kdenlive guides, .otio). A marker on the clip itself counts where it marks a frame the
clip shows, and wins over one on the timeline; of the timeline's, the first marker within the
clip's visible range counts. A prompt given to the
run (`--prompt`, the server's request) wins over both: it is what was asked for now.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

import opentimelineio as otio

from otio_adapters.timing import seconds
from v2a.params import MAX_PROMPT_CHARS

_MARK = re.compile(r"^\s*v2a\s*(?P<negative>not)?\s*:\s*(?P<text>.*?)\s*$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class MarkedPrompt:
    prompt: str = ""
    negative_prompt: str = ""

    def __bool__(self) -> bool:
        return bool(self.prompt or self.negative_prompt)

    def over(self, other: MarkedPrompt) -> MarkedPrompt:
        """This one, its empty parts filled from `other`."""
        return MarkedPrompt(self.prompt or other.prompt,
                            self.negative_prompt or other.negative_prompt)


def prompt_of(markers) -> MarkedPrompt:
    """The prompt the `v2a:` markers among `markers` give (the first of each kind)."""
    found = MarkedPrompt()
    for marker in markers:
        for text in _texts(marker):
            match = _MARK.match(text or "")
            if match and match["text"]:
                text = match["text"][:MAX_PROMPT_CHARS]  # the bound a request's prompt has
                one = (MarkedPrompt(negative_prompt=text) if match["negative"]
                       else MarkedPrompt(prompt=text))
                found = found.over(one)
    return found


def shown_markers(
    clip: otio.schema.Clip, record: tuple[Fraction, Fraction] | None = None
) -> list[otio.schema.Marker]:
    """The clip's markers within the frames it shows: its trimmed range, in its source time as
    OTIO keeps clip markers; a CMX 3600 `* LOC:` within `record`, the clip's record range in
    seconds counted from the timeline's start timecode (the reader puts a locator at its record
    timecode). Premiere keeps clip markers on the master clip and exports them in every clip
    cut from it, and Final Cut keeps a marker the editor trimmed past: an NLE shows neither on
    that clip, and each gave every shot of its source the same prompt."""
    try:
        used = clip.trimmed_range()
    except otio.exceptions.OTIOError:  # no source range and no media range: nothing to compare
        return list(clip.markers)
    source = (Fraction(used.start_time.to_seconds()),
              Fraction(used.end_time_exclusive().to_seconds()))
    return [
        marker for marker in clip.markers
        if _overlaps(marker.marked_range,
                     *(record if record and "cmx_3600" in marker.metadata else source))
    ]


def _overlaps(marked: otio.opentime.TimeRange, first: Fraction, end: Fraction) -> bool:
    """Whether a marker (a point, or a range) marks any of [first, end)."""
    start = Fraction(marked.start_time.to_seconds())
    last = start + Fraction(marked.duration.to_seconds())
    return start < end and (start >= first or last > first)


def _texts(marker: otio.schema.Marker) -> list[str]:
    """A marker's name and comment: OTIO's own, or where an adapter keeps it (the FCP7 XML
    adapter puts Premiere's marker comment in `metadata["fcp_xml"]["comment"]`)."""
    texts = [marker.name, getattr(marker, "comment", "")]
    for namespace in marker.metadata.values():
        comment = namespace.get("comment") if hasattr(namespace, "get") else None
        if isinstance(comment, str):
            texts.append(comment)
    return texts


def timeline_marks(timeline: otio.schema.Timeline) -> list[tuple[Fraction, MarkedPrompt]]:
    """(record seconds from the timeline's start, prompt) of the `v2a:` markers on the
    timeline itself and on its video tracks, in record order."""
    stack = timeline.tracks
    window_start = seconds(stack.source_range.start_time) if stack.source_range else Fraction(0)
    marks = [(seconds(marker.marked_range.start_time) - window_start, marker)
             for marker in stack.markers]
    for track in timeline.video_tracks():
        marks += [(seconds(marker.marked_range.start_time), marker) for marker in track.markers]
    found = [(at, prompt_of([marker])) for at, marker in marks]
    return sorted(((at, prompt) for at, prompt in found if prompt), key=lambda mark: mark[0])
