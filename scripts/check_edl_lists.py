"""Every CMX 3600 list v2a writes, checked event by event against what the format allows.

Each EDL fixture in ../shared/fixtures/timelines (and the hand-made lists of
tests/otio_adapters/test_edl_editors_list.py, with `--hand-made`) goes through the whole job:
stand-in media, the tests' sine generator, written back into the editor's list; then the same
result written as for a timeline from another format (the adapter's list, v2a's audio events
appended). Every other fixture is converted to CMX 3600 the same way (`--no-convert` skips
them). Each written list is read again by OTIO's own CMX 3600 reader (without v2a's hooks) and by
v2a's, and every event line is checked:
- an event line is number, reel, channel, edit and four timecodes; numbers never go back (the
  lines of a dissolve share one);
- a reel of eight characters at most, as CMX 3600 has it (an editor's own line keeps theirs);
- timecodes in range (hours < 24, minutes and seconds < 60, frames < the rate), in <= out;
- a channel CMX 3600 or its readers know (V, A, A2, AA, B, AA/V, A2/V, NONE, A3...), never
  `A1`; v2a's events on a channel no event of the editor's uses;
- source as long as record, except under an M2 line or a freeze;
- no event of no length but a dissolve's outgoing cut; a dissolve no longer than 255 frames nor
  than its event;
- v2a's takes read back by v2a where they were laid (to the sample, from the .otio beside it),
  and as many of v2a's events read by OTIO's reader.

Run from the repository root: `python scripts/check_edl_lists.py [--hand-made] [--no-convert]
[NAME-SUBSTRING...]`. Prints each list and what is wrong with it; exits 1 if anything is.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path[0:0] = [os.getcwd(), os.path.join(os.getcwd(), "tests")]

import opentimelineio as otio  # noqa: E402
from generator_doubles import SineGenerator  # noqa: E402

from otio_adapters import edl_list  # noqa: E402
from otio_adapters.plan import plan_segments  # noqa: E402
from otio_adapters.read import read_timeline  # noqa: E402
from otio_adapters.standin_media import synthesize_media  # noqa: E402
from otio_adapters.takes import find_v2a_tracks, to_samples  # noqa: E402
from otio_adapters.timing import exact_rate  # noqa: E402
from otio_adapters.write import edit_rate, write_audio_tracks, write_timeline  # noqa: E402
from v2a.contracts import GeneratedAudio, GenerationParams, GenerationRequest  # noqa: E402
from v2a.pipeline import PipelineError, run_generation  # noqa: E402

FIXTURES = Path(os.getcwd()).parent / "shared" / "fixtures" / "timelines"
OPTIONS = {"cmx3600_edl/25fps.edl": {"rate": 25}}
_TC = r"(\d{2})[:;](\d{2})[:;](\d{2})[:;](\d{2})"
_EVENT = re.compile(rf"^(?P<number>\d+)\s+(?P<reel>\S+)\s+(?P<channel>\S+)\s+(?P<edit>.*?)\s+"
                    rf"(?P<times>{_TC}\s+{_TC}\s+{_TC}\s+{_TC})\s*$")
_CHANNEL = re.compile(r"^(V|A|A[2-9]|A\d{2}|AA|B|AA/V|A2/V|NONE)$")
_EDIT = re.compile(r"^(C|D\s+\d{3}|W\d{3}\s+\d{3}|K\s*B|KB|K(\s+O)?(\s+\d{3})?|KO(\s+\d{3})?)$")


def _frames(timecode: str, rate: float, drop_frame: bool) -> int:
    """A timecode's frame, counted drop frame where its list's FCM line or ";" says so."""
    if drop_frame or ";" in timecode:
        timecode = timecode[:8] + ";" + timecode[9:]
    return round(otio.opentime.from_timecode(timecode, rate).value)


def problems_of(text: str, rate: float, editors_lines: int, editors_channels: set[int]
                ) -> list[str]:
    """What is wrong with the list `text` at `rate`; its first `editors_lines` lines are the
    editor's, as they wrote them (their reels, channels and keys are theirs to spell)."""
    found = []
    lines = text.splitlines()
    events = []  # (line index, match)
    drop_frame, drop_at = False, {}
    for index, line in enumerate(lines):
        if line.upper().startswith("FCM:"):
            drop_frame = "NON" not in line.upper()
        drop_at[index] = drop_frame
        if not line[:1].isdigit():
            continue
        match = _EVENT.match(line)
        if match is None:
            found.append(f"line {index + 1}: not an event line: {line!r}")
            continue
        events.append((index, match))
    previous = 0
    v2a_channels = {True: set(), False: set()}  # audio channels of v2a's events, of others
    for position, (index, event) in enumerate(events):
        where = f"line {index + 1} (event {event['number']})"
        ours = index >= editors_lines
        number = int(event["number"])
        if number < previous:
            found.append(f"{where}: numbered after {previous:03d}")
        previous = number
        if ours and len(event["reel"]) > 8:
            found.append(f"{where}: reel {event['reel']!r} is longer than 8 characters")
        channel = event["channel"].upper()
        if ours and not _CHANNEL.match(channel):
            found.append(f"{where}: channel {event['channel']!r}")
        if not _EDIT.match(" ".join(event["edit"].upper().split())):
            found.append(f"{where}: edit {event['edit']!r}")
        times = event["times"].split()
        for timecode in times:
            hours, minutes, seconds, frames = map(int, re.split(r"[:;]", timecode))
            if hours > 23 or minutes > 59 or seconds > 59 or frames >= round(rate):
                found.append(f"{where}: timecode {timecode} out of range at {rate:g} fps")
        source_in, source_out, record_in, record_out = (
            _frames(t, rate, drop_at[index]) for t in times)
        notes = []
        for note in lines[index + 1:]:
            if note[:1].isdigit():
                break
            notes.append(note.strip().upper())
        speed = any(note.startswith("M2") or "FREEZE FRAME" in note for note in notes)
        for note in notes:
            if note.startswith("M2") and note.split()[1:2] != [event["reel"].upper()]:
                found.append(f"{where}: M2 line {note!r} names another reel than its event's")
        if not leads(events, position):
            v2a_channels[any("V2A TRACK:" in note for note in notes)] |= _channel_numbers(
                event["channel"])
        if record_out < record_in or (source_out < source_in and not speed):
            found.append(f"{where}: an out point before its in point")
        if not speed and source_out - source_in != record_out - record_in:
            found.append(f"{where}: source {source_out - source_in} frames, record "
                         f"{record_out - record_in}, and no M2 line")
        following = events[position + 1][1] if position + 1 < len(events) else None
        leads_a_dissolve = (following is not None and following["number"] == event["number"]
                            and following["edit"].upper()[:1] in ("D", "W"))
        if ours and record_in == record_out and not leads_a_dissolve:
            found.append(f"{where}: an event of no length")
        edit = event["edit"].split()
        if edit[0].upper().startswith(("D", "W")) and len(edit) > 1:
            length = int(edit[-1])
            if length > 255 or length > record_out - record_in:
                found.append(f"{where}: a dissolve of {length} frames in an event of "
                             f"{record_out - record_in}")
        if ours and editors_lines and _channel_numbers(channel) & editors_channels:
            found.append(f"{where}: v2a's event on a channel of the editor's, {channel}")
    shared = v2a_channels[True] & v2a_channels[False]
    if shared:
        found.append(f"v2a's events share channels {sorted(shared)} with the editor's")
    return found


def leads(events: list, position: int) -> bool:
    """Whether the event line at `position` is the first of two under one number (a
    dissolve's outgoing cut, a key's background): the notes after them are the second's."""
    following = events[position + 1][1] if position + 1 < len(events) else None
    return following is not None and following["number"] == events[position][1]["number"]


def _channel_numbers(field: str) -> set[int]:
    """The audio channels an event's channel field records (A and B: 1, AA: 1 and 2...)."""
    numbers = set()
    for part in field.upper().split("/"):
        if part in ("A", "B"):
            numbers.add(1)
        elif part == "AA":
            numbers |= {1, 2}
        elif re.fullmatch(r"A\d+", part):
            numbers.add(int(part[1:]))
    return numbers


def _channels(lines: list[str]) -> set[int]:
    """The audio channels of the editor's events, their AUD lines' too."""
    used = set()
    for line in lines:
        match = _EVENT.match(line)
        if match:
            used |= _channel_numbers(match["channel"])
        elif line.upper().startswith("AUD"):
            used |= {int(word) for word in line.split()[1:] if word.isdigit()}
    return used


def _plain_read(text: str, rate: float) -> otio.schema.Timeline:
    """The list as OTIO's CMX 3600 reader reads it, without v2a's hooks."""
    module = otio.adapters.from_name("cmx_3600").module()
    return module.EDLParser(text, rate=rate).timeline


class NoList(Exception):
    """The job wrote no list, and said why (several video tracks with transitions...)."""


#: What OTIO's reader refuses of a valid list (v2a's reader reads it: timeline_planning.md).
OTIO_READER_LIMITS = ("Transitions can't be at the very beginning of a track",)


def _by_the_job(source: Path, options: dict, media: Path, out: Path):
    """(the result as .otio, the list written) of the whole job on `source`: stand-in media,
    the tests' sine generator."""
    request = GenerationRequest(
        timeline_path=str(source), out_dir=str(out / "job"), adapter_options=options,
        relink_roots=(str(media),), params=GenerationParams(seed=7), output_format="cmx_3600")
    result = run_generation(request, SineGenerator())
    if not result.timeline_path.endswith(".edl"):
        raise NoList(result.format_note)
    return read_timeline(result.fallback_otio_path), Path(result.timeline_path)


def _with_named_takes(source: Path, options: dict, out: Path):
    """(the result, the list written) of a take under every planned shot, laid as the job lays
    them, the files named alone (as the tests do: a hand-made list's reels need no media)."""
    timeline = read_timeline(source, options=options)
    segments = plan_segments(timeline, timeline_path=str(source), cut_handle_seconds=0.08)
    write_audio_tracks(timeline, segments, [
        GeneratedAudio(s.clip_id, f"/takes/audio/{s.clip_id}_take1.wav", s.start_sample,
                       s.num_samples, s.handle_before_samples, s.handle_after_samples)
        for s in segments], visible=segments)
    (out / "job").mkdir(parents=True)
    written, _, _ = write_timeline(timeline, str(out / "job" / source.name), "cmx_3600")
    return timeline, Path(written)


def check(source: Path, options: dict, result_timeline, written_list: Path, out: Path
          ) -> list[str]:
    """Check the list the job wrote (into the editor's list, for an EDL) and the one the adapter
    writes of the same result (as for a list changed since it was read)."""
    rate = float(exact_rate(options.get("rate") or float(edit_rate(result_timeline))))
    laid = _laid(result_timeline)
    editors = source.read_text(errors="replace").splitlines() if source.suffix == ".edl" else []
    written = [("job", written_list, len(editors))]
    if editors:
        result_timeline.metadata.get("cmx_3600", {}).pop(edl_list.SOURCE, None)
        (out / "adapter").mkdir(parents=True)
        path, _, note = write_timeline(result_timeline, str(out / "adapter" / source.name),
                                       "cmx_3600")
        if path.endswith(".edl"):  # else the .otio alone, as the note says (a key's track)
            written.append(("adapter", Path(path), 0))
        else:
            print(f"    (adapter: no EDL: {note})")
    found = []
    for label, path, editors_lines in written:
        text = path.read_text(encoding=edl_list.encoding(path.read_bytes()))
        lines = text.splitlines()
        channels = _channels(lines[:editors_lines])
        found += [f"{label}: {problem}"
                  for problem in problems_of(text, rate, editors_lines, channels)]
        try:
            reread = _laid(read_timeline(path, "cmx_3600", options or {"rate": rate}))
            if reread != laid:
                found.append(f"{label}: v2a reads back takes heard at {reread}, laid to be "
                             f"heard at {laid}")
        except Exception as error:  # noqa: BLE001 - reported
            found.append(f"{label}: v2a cannot read it back: {error}")
        ours = "\n".join(lines[editors_lines:])
        try:  # the editor's own part may hold what OTIO's reader cannot read (keys...)
            plain = _plain_read(text if not editors_lines else "TITLE: V2A\n" + ours, rate)
        except Exception as error:  # noqa: BLE001 - reported
            if str(error) in OTIO_READER_LIMITS:
                print(f"    ({label}: OTIO's reader refuses it, as it refuses any such list: "
                      f"{error})")
            else:
                found.append(f"{label}: OTIO's reader refuses it: {error}")
            continue
        expected = _audio_clips(lines[editors_lines:] if editors_lines else lines)
        read_back = sum(len(track.find_clips()) for track in plain.audio_tracks())
        if read_back != expected:
            found.append(f"{label}: OTIO's reader reads {read_back} audio clips of {expected}")
    return found


def _audio_clips(lines: list[str]) -> int:
    """The audio clips OTIO's reader makes of these event lines: one a channel of each event,
    but a dissolve's outgoing cut (of no length: the clip it ends is the event before)."""
    events = [_EVENT.match(line) for line in lines]
    events = [event for event in events if event]
    count = 0
    for position, event in enumerate(events):
        following = events[position + 1] if position + 1 < len(events) else None
        if following is not None and following["number"] == event["number"]:
            continue
        count += len(_channel_numbers(event["channel"]))
    return count


def _laid(timeline: otio.schema.Timeline) -> list[tuple[int, int]]:
    """Where each of v2a's takes is heard, in samples: its clip and the crossfades' sides it
    plays into (a list says where a dissolve runs, not where the cut inside it is)."""
    heard = []
    for track in find_v2a_tracks(timeline, "SFX"):
        items = list(track)
        for index, item in enumerate(items):
            if not isinstance(item, otio.schema.Clip):
                continue
            placed = track.range_of_child(item)
            start, end = placed.start_time, placed.end_time_exclusive()
            if index and isinstance(items[index - 1], otio.schema.Transition):
                start -= items[index - 1].in_offset
            if index + 1 < len(items) and isinstance(items[index + 1], otio.schema.Transition):
                end += items[index + 1].out_offset
            heard.append((to_samples(start), to_samples(end)))
    return sorted(heard)


def _hand_made(root: Path) -> list[tuple[str, Path, dict]]:
    """The hand-made lists of the tests (keys, splits, B events, drop frame...)."""
    module = Path("tests/otio_adapters/test_edl_editors_list.py")
    spec = importlib.util.spec_from_file_location("edl_lists_of_the_tests", module)
    tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tests)
    lists = []
    HAND_MADE = tests.HAND_MADE  # noqa: N806
    for name, (text, options) in HAND_MADE.items():
        path = root / "hand-made" / name / "cut.edl"
        path.parent.mkdir(parents=True)
        path.write_text(text)
        lists.append((f"hand-made/{name}", path, options))
    return lists


def main() -> int:
    logging.disable(logging.WARNING)
    flags = {arg for arg in sys.argv[1:] if arg.startswith("--")}
    wanted = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    root = Path(tempfile.mkdtemp(prefix="check-edl-"))
    suffixes = (".edl",) if "--no-convert" in flags else (
        ".otio", ".xml", ".fcpxml", ".aaf", ".edl")
    lists = [(str(path.relative_to(FIXTURES)), path, OPTIONS.get(
                str(path.relative_to(FIXTURES)), {}))
             for path in sorted(FIXTURES.glob("*/*"))
             if path.suffix in suffixes and "mismatch" not in path.name]
    if "--hand-made" in flags:
        lists += _hand_made(root)
    failed = False
    for name, path, options in lists:
        if wanted and not any(part in name for part in wanted):
            continue
        media = root / "media" / name
        media.mkdir(parents=True)
        out = root / "out" / name
        try:
            if name.startswith("hand-made/"):
                result, written = _with_named_takes(path, options, out)
            else:
                synthesize_media(read_timeline(path, options=options), str(media))
                result, written = _by_the_job(path, options, media, out)
            found = check(path, options, result, written, out)
        except NoList as why:
            print(f"{name}: no list written: {why}")
            continue
        except PipelineError as why:
            print(f"{name}: nothing to generate: {why}")
            continue
        except Exception as error:  # noqa: BLE001 - reported
            found = [f"the job failed: {type(error).__name__}: {error}"]
        print(f"{name}: {'ok' if not found else f'{len(found)} problems'}", flush=True)
        for problem in found:
            print(f"    {problem}")
        failed |= bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
