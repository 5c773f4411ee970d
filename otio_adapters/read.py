"""Read an editor's timeline file with OpenTimelineIO's adapter plugins.

One entry point, `read_timeline`, that picks the adapter from the file extension (or an explicit
format), and turns every failure into a `TimelineReadError` whose message names the file, the
format and the problem in plain words, so the CLI and the server can show it as is.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

from otio_adapters import (
    aaf_file,
    edl_events,
    edl_list,
    edl_time,
    fcp7_document,
    fcp7_nested,
    fcp7_speed,
    fcp7_transitions,
    fcpx_clips,
    fcpx_document,
    fcpx_speed,
    fcpx_time,
    fcpx_transitions,
    kdenlive,
    source_files,
)
from otio_adapters.timing import exact_rate
from v2a.contracts import Segment

log = logging.getLogger(__name__)
fcpx_time.install()  # the FCPXML reader's own time arithmetic truncates and misreads NTSC
fcpx_transitions.install()  # the FCPXML reader reads no transitions
fcpx_speed.install()  # nor speed changes
fcpx_document.install()  # which project of the document a timeline is, to write into it
fcpx_clips.install()  # nor multicam and synchronized clips
edl_time.install()  # the CMX 3600 reader ignores FCM: DROP FRAME
fcp7_transitions.install()  # the FCP7 XML reader moves clips after a transition beside a gap
aaf_file.install()  # the AAF reader names v2a's tracks "Sequence"
fcp7_document.read_every_channel()  # it reads one channel of a stereo pair
fcp7_document.keep_parsed_document()  # and parses for itself alone
fcp7_nested.install()  # and reads every nested sequence as empty
fcp7_speed.install()  # and Premiere's Time Remap as a generic effect, <in> as a media frame

#: File extension (lower case, with the dot) -> OTIO adapter name.
FORMAT_BY_EXTENSION = {
    ".otio": "otio_json",
    ".otioz": "otioz",
    ".otiod": "otiod",
    ".xml": "fcp_xml",
    ".fcpxml": "fcpx_xml",
    ".fcpxmld": "fcpx_xml",
    ".aaf": "AAF",
    ".edl": "cmx_3600",
    ".kdenlive": "kdenlive",
}

#: OpenTimelineIO's own formats: what v2a writes beside a result, never an editor's file.
OTIO_FORMATS = ("otio_json", "otioz", "otiod")

#: Adapter name -> how a person calls the format, for messages.
FORMAT_NAMES = {
    "otio_json": "OTIO JSON",
    "otioz": "OTIOZ bundle",
    "otiod": "OTIOD bundle",
    "fcp_xml": "Final Cut Pro 7 XML",
    "fcpx_xml": "Final Cut Pro X XML",
    "AAF": "AAF",
    "cmx_3600": "CMX 3600 EDL",
    "kdenlive": "Kdenlive project",
}

class TimelineReadError(ValueError):
    """A timeline file could not be read; the message says which file, which format and why."""


def format_for_path(path: str | os.PathLike) -> str:
    """The OTIO adapter name for a timeline file, from its extension.

    Raises TimelineReadError for an extension no adapter reads.
    """
    suffix = Path(path).suffix.lower()
    try:
        return FORMAT_BY_EXTENSION[suffix]
    except KeyError:
        known = ", ".join(sorted(FORMAT_BY_EXTENSION))
        raise TimelineReadError(
            f"{path}: unknown timeline format {suffix or '(no extension)'!r}; "
            f"known extensions: {known} (or name its format with --format F)"
        ) from None


def format_label(adapter_name: str) -> str:
    return FORMAT_NAMES.get(adapter_name, adapter_name)


def read_timeline(
    path: str | os.PathLike, format: str = "", options: dict | None = None
) -> otio.schema.Timeline:
    """Read a timeline file into an OTIO Timeline.

    `format` is an OTIO adapter name (e.g. "fcp_xml", "cmx_3600"); empty: from the extension.
    `options` go to the adapter (e.g. {"rate": 25} for CMX 3600), except "timeline": the name
    or index of the timeline to take from a file that holds several (FCPXML projects, FCP7 XML
    or AAF sequences, an .otio collection); the first one by default.
    """
    path = Path(path)
    adapter = _check_format(path, format)
    label = format_label(adapter)
    options = dict(options or {})
    which = options.pop("timeline", None)
    if adapter == "cmx_3600" and "rate" in options:
        options["rate"] = _edl_rate(path, options["rate"])
    _check_file(path, adapter, label)

    source = path
    if adapter == "fcpx_xml" and path.is_dir():
        # An .fcpxmld bundle keeps its document in Info.fcpxml.
        source = path / "Info.fcpxml"
        if not source.is_file():
            raise TimelineReadError(f"{path}: {label} bundle has no Info.fcpxml inside")
    try:
        result = _read_quietly(source, adapter, options)
    except TypeError as error:
        if "unexpected keyword" in str(error):
            raise TimelineReadError(
                f"{path}: the {label} reader does not take the option(s) "
                f"{', '.join(sorted(options))}"
            ) from None
        raise TimelineReadError(_describe(path, label, adapter, options, error)) from None
    except Exception as error:  # adapters raise anything from XML errors to KeyError
        raise TimelineReadError(_describe(path, label, adapter, options, error)) from None
    timeline = _pick_timeline(path, label, result, which)
    if adapter == "cmx_3600" and "rate" not in options:
        # A list names no rate: read at the adapter's, said where its media disagree.
        timeline.metadata.setdefault("v2a_read", {})[RATE_ASSUMED] = EDL_DEFAULT_RATE
    if adapter not in OTIO_FORMATS:  # an .otio keeps what the editor's file it came from held
        source_files.remember_editor_tracks(timeline)
    return timeline


def _read_quietly(source: Path, adapter: str, options: dict):
    """Read with the adapter; a format v2a writes back into (`_EDITORS_FORMATS`) is read its
    way, and each timeline read notes which file it was and what it held."""
    way = _EDITORS_FORMATS.get(adapter)
    if way is None:
        return otio.adapters.read_from_file(str(source), adapter_name=adapter, **options)
    held = way.held(source)  # once, before the read: the read and its record share it
    result = way.read(source, held, options)
    way.remember(_timelines(result), str(source), held)
    return result


def _timelines(result) -> list[otio.schema.Timeline]:
    """The timelines an adapter read, in its order: the one, or those of the collection."""
    if isinstance(result, otio.schema.Timeline):
        return [result]
    return [item for item in result or () if isinstance(item, otio.schema.Timeline)]


@dataclass(frozen=True)
class _EditorsFormat:
    """How the file of a format v2a writes its tracks back into is read (`write._EDITORS_FILE`
    finds it again by the record `remember` leaves on each timeline read from it)."""

    #: (file path, what `held` took of it, adapter options) -> what the adapter read.
    read: Callable[[Path, Any, dict], Any]
    #: (the timelines read, file path, what `held` took) -> None.
    remember: Callable[[list[otio.schema.Timeline], str, Any], None]
    #: What the record keeps of the file: its bytes, by default.
    held: Callable[[Path], Any] = Path.read_bytes


def _text_read(adapter: str, text: Callable[[bytes], str]):
    """A `read` giving the adapter the file's bytes as `text` prepares them."""
    return lambda source, data, options: otio.adapters.read_from_string(
        text(data), adapter_name=adapter, **options
    )


def _utf8(data: bytes) -> str:
    return data.decode("utf-8")


def _read_kdenlive_file(source: Path, data: bytes, options: dict) -> otio.schema.Timeline:
    text = kdenlive.as_mlt_reads(data.decode("utf-8"))  # the write-back keeps the editor's
    return _read_kdenlive(text, str(source.parent), options)


def _aaf_sha256(source: Path) -> str:
    return aaf_file.file_sha256(str(source))  # binary: the record keeps its hash


def _read_aaf(source: Path, _sha256: str, options: dict):
    return otio.adapters.read_from_file(str(source), adapter_name="AAF", **options)


def _remember_fcp7(timelines: list[otio.schema.Timeline], path: str, data: bytes) -> None:
    parsed = fcp7_document.take_parsed_document()  # the read's own parse of `data`
    for index, timeline in enumerate(timelines):  # which of the document's sequences
        fcp7_document.remember_document(timeline, path, data, index, parsed)
    fcp7_document.mark_tracks_written_before(timelines)  # of the whole document
    fcp7_document.read_switches(timelines)  # on v2a's tracks, known now


def _each(remember: Callable[[otio.schema.Timeline, str, Any], None]):
    """`remember` of a format whose record is the same for each timeline of the file."""

    def each(timelines: list[otio.schema.Timeline], path: str, held) -> None:
        for timeline in timelines:
            remember(timeline, path, held)

    return each


_EDITORS_FORMATS = {
    "fcp_xml": _EditorsFormat(_text_read("fcp_xml", _utf8), _remember_fcp7),
    "cmx_3600": _EditorsFormat(
        _text_read("cmx_3600", edl_list.as_read), _each(edl_list.remember_list)
    ),
    "fcpx_xml": _EditorsFormat(
        _text_read("fcpx_xml", _utf8), _each(fcpx_document.remember_document)
    ),
    "kdenlive": _EditorsFormat(_read_kdenlive_file, _each(kdenlive.remember_project)),
    "AAF": _EditorsFormat(_read_aaf, aaf_file.remember_source, held=_aaf_sha256),
}


def _read_kdenlive(text: str, folder: str, options: dict) -> otio.schema.Timeline:
    """A Kdenlive project's timeline as the adapter reads it, what the adapter loses put back,
    and each sequence used as a clip in it read the same way (`kdenlive.restore`)."""
    with prints_to_log("kdenlive"):
        result = otio.adapters.read_from_string(
            kdenlive.for_reader(text), adapter_name="kdenlive", **options
        )
    kdenlive.restore(result, text, folder, lambda nested: _read_kdenlive(nested, folder, options))
    return result


@contextlib.contextmanager
def prints_to_log(adapter: str):
    """What an adapter prints on stdout goes to the debug log: the Kdenlive adapter prints a
    deprecation banner, and a line per transition when writing, which landed in the middle of
    `v2a inspect` and `v2a generate` output (and of `v2a serve`'s, whose stdout a harness reads
    for its ready line)."""
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            yield
    finally:
        if printed.getvalue().strip():
            log.debug("%s adapter said: %s", adapter, " ".join(printed.getvalue().split()))


def _check_format(path: Path, format: str) -> str:
    if not format:
        if path.suffix.lower() not in FORMAT_BY_EXTENSION:
            # Said as what it is: "unknown timeline format '(no extension)'" sent a person who
            # had mistyped a name, or given the project's folder, looking for a format.
            if not path.exists():
                raise TimelineReadError(f"{path}: file not found")
            if path.is_dir():
                raise TimelineReadError(f"{path}: a folder, not a timeline file")
        return format_for_path(path)
    known = {a.name for a in otio.plugins.ActiveManifest().adapters}
    if adapter_name(format) not in known:
        raise TimelineReadError(
            f"{path}: unknown timeline format {format!r}; known: {', '.join(sorted(known))}"
        )
    return adapter_name(format)


def adapter_name(format: str) -> str:
    """The OTIO adapter a format's name means: the adapter's own name, or an extension-like one
    ("edl", "xml", "otio", "fcpxml"), since people type those; another name is returned as it
    is, for the reader or the writer to refuse. A request must carry the adapter's name: given
    `--format otio`, v2a read the file, generated every clip and then asked for an adapter
    'otio' to write it (an .otio "instead", with the adapter's error as the reason)."""
    if not format or format in {a.name for a in otio.plugins.ActiveManifest().adapters}:
        return format
    return FORMAT_BY_EXTENSION.get("." + format.lower().lstrip("."), format)


def _edl_rate(path: Path, rate) -> float:
    """The rate option as the CMX 3600 reader needs it. OTIO's timecode parser takes only the
    exact NTSC rates (29.97002997...) and refuses 29.97, 23.976 or 59.94 as people type them
    ("SMPTE timecode does not support this rate"), so those are mapped to their exact value."""
    try:
        value = float(rate)
    except (TypeError, ValueError):
        value = 0.0
    if not value > 0 or math.isinf(value):
        raise TimelineReadError(
            f"{path}: the EDL rate option must be a positive number, not {rate!r}"
        )
    return float(exact_rate(value))


def _check_file(path: Path, adapter: str, label: str) -> None:
    if not path.exists():
        raise TimelineReadError(f"{path}: cannot read {label}: file not found")
    if path.is_dir():
        if adapter in ("otiod", "fcpx_xml"):
            return
        raise TimelineReadError(f"{path}: cannot read {label}: it is a folder, not a file")
    if not os.access(path, os.R_OK):
        raise TimelineReadError(f"{path}: cannot read {label}: permission denied")
    if path.stat().st_size == 0:
        raise TimelineReadError(f"{path}: cannot read {label}: the file is empty")


_NAMES_ITS_LINE = re.compile(r"^line \d+, event \d+: ")


def _describe(path: Path, label: str, adapter: str, options: dict, error: Exception) -> str:
    """A one-line, plain-words account of an adapter failure."""
    detail = " ".join(str(error).split()) or type(error).__name__
    if len(detail) > 300:
        detail = detail[:297] + "..."
    kind = type(error).__name__
    if adapter == "AAF" and "magic signature" in detail:
        # The AAF reader quotes the file's first 8 bytes: a panel on another machine (--host)
        # would read them out of any file it named. The hint below says what it means.
        detail = "no AAF (compound file) signature"
    hint = ""
    if isinstance(error, kdenlive.UnreadableProject):
        return f"{path}: cannot read as {label}: {detail}"  # it names what and where
    if adapter == "cmx_3600" and _NAMES_ITS_LINE.match(detail):
        pass  # v2a's own account of an event it cannot read (`edl_events`) says it all
    elif kind == "UnicodeDecodeError":
        hint = " (the file is not text: garbled, binary or in the wrong format)"
    elif adapter == "cmx_3600" and detail.startswith("Overlapping record in value"):
        # An event starting before the one before it on its track ends: a list out of record
        # order on a channel, not a garbled file.
        hint = (" (an event of that clip's track starts before the event before it on that "
                "track ends: the reader takes each track's events in record order)")
    elif adapter == "cmx_3600" and any(
        w in detail.lower() for w in ("rate", "timecode", "duration")
    ):
        rate = options.get("rate", 24)
        hint = (
            f" (read at {rate:g} fps: {edl_events.RATE_HINT}; "
            "a list whose source and record timecodes disagree cannot be read)"
        )
    elif kind in ("ParseError", "ExpatError", "XMLSyntaxError", "JSONDecodeError", "EDLParseError"):
        hint = " (the file is garbled or truncated)"
    elif adapter == "AAF":
        hint = " (not a readable AAF file: garbled, truncated or not AAF)"
    elif kind in ("AttributeError", "KeyError", "IndexError", "TypeError"):
        # Well-formed, but not laid out as the adapter expects (a Kdenlive project without its
        # main tractor read as 'NoneType' object has no attribute 'get').
        hint = f" (the file parses, but not as a {label}: another kind of file, or another version)"
    return f"{path}: cannot read as {label}: {kind}: {detail}{hint}"


#: Metadata key (under "v2a_read") naming the timelines of the source file v2a did not take.
OTHER_TIMELINES = "other_timelines"
#: Metadata key (under "v2a_read"): the timeline was picked by name or index (`timeline`).
TIMELINE_ASKED = "timeline_asked"
#: Metadata key (under "v2a_read"): a CMX 3600 list read at the reader's default rate, as no
#: rate option was given (a list does not say its rate).
RATE_ASSUMED = "rate_assumed"
#: The CMX 3600 reader's rate when given none.
EDL_DEFAULT_RATE = 24


def _pick_timeline(path: Path, label: str, result, which) -> otio.schema.Timeline:
    if isinstance(result, otio.schema.Timeline):
        timelines = [result]
    elif result is None:  # the FCPXML adapter's answer for a file without a project
        timelines = []
    elif isinstance(result, otio.schema.SerializableCollection):
        timelines = [t for t in result.find_children(descended_from_type=otio.schema.Timeline)]
        timelines = timelines or [t for t in result if isinstance(t, otio.schema.Timeline)]
    else:
        raise TimelineReadError(f"{path}: {label} holds a {type(result).__name__}, not a timeline")
    if not timelines:
        raise TimelineReadError(f"{path}: {label} holds no timeline")
    for timeline in timelines:  # an .otio v2a wrote keeps the record of the file it came from
        timeline.metadata.get("v2a_read", {}).pop(OTHER_TIMELINES, None)
        timeline.metadata.get("v2a_read", {}).pop(TIMELINE_ASKED, None)
        timeline.metadata.get("v2a_read", {}).pop(RATE_ASSUMED, None)
    if which is None:
        if len(timelines) > 1:
            log.warning(
                "%s holds %d timelines (%s); using the first, %r",
                path,
                len(timelines),
                ", ".join(repr(t.name) for t in timelines),
                timelines[0].name,
            )
            # The result holds this one alone: the note of what is written says so (write.py).
            timelines[0].metadata.setdefault("v2a_read", {})[OTHER_TIMELINES] = [
                t.name for t in timelines[1:]
            ]
        return timelines[0]
    for index, timeline in enumerate(timelines):
        if str(which) in (timeline.name, str(index)):
            if len(timelines) > 1:  # a file of another format written from it holds it alone
                timeline.metadata.setdefault("v2a_read", {})[OTHER_TIMELINES] = [
                    t.name for t in timelines if t is not timeline
                ]
                timeline.metadata["v2a_read"][TIMELINE_ASKED] = True
            return timeline
    names = ", ".join(f"{t.name!r} (index {i})" for i, t in enumerate(timelines))
    count = f"{len(timelines)} timeline" + ("s" if len(timelines) != 1 else "")
    raise TimelineReadError(f"{path}: no timeline {which!r} in the file; it holds {count}: {names}")


def assumed_rate_note(timeline: otio.schema.Timeline, segments: list[Segment]) -> str:
    """Where a CMX 3600 list was read at the default rate (it names none, and none was given)
    and none of its clips' media runs at that rate: which rate to give. Read at the wrong
    rate, every timecode means another second (a 25 fps list read at 24 puts 01:00:00:20 at
    0.83 s past the hour, not 0.8), and each clip's sound is made for other frames and laid
    off its picture, more so the longer the list; nothing else in the list says so."""
    assumed = timeline.metadata.get("v2a_read", {}).get(RATE_ASSUMED)
    if assumed is None:
        return ""
    rates = Counter(exact_rate(segment.media.rate) for segment in segments
                    if segment.media.rate and segment.media.image_sequence is None)
    if not rates or exact_rate(assumed) in rates:
        return ""
    usual = _rate_text(rates.most_common(1)[0][0])
    runs = ", ".join(f"{_rate_text(rate)} fps" for rate in sorted(rates))
    return (f"the EDL names no frame rate and was read at {assumed:g} fps, the CMX 3600 "
            f"default, but none of its clips' media runs at {assumed:g} fps (they run at "
            f"{runs}): if the list is at {usual} fps, give --rate {usual} (the adapter option "
            "'rate'), or the sound is made for other frames than the list names and laid off "
            "its picture")


def _rate_text(rate: Fraction) -> str:
    """25 as "25", 30000/1001 as "29.97": as an editor types a rate."""
    return f"{float(rate):.3f}".rstrip("0").rstrip(".")
