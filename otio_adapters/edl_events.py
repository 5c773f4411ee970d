"""CMX 3600 events the reader (otio-cmx3600-adapter 1.0.0) cannot read, made readable.

Measured with lists laid out as NLEs and online suites write them, the reader:
- refused every key event: `K B` (the background) then `K`, `K nnn` or `K O` (the key's fill,
  over the background) under one event number, with or without a cut before them, failed
  with "Transition type 'K' not supported", "incorrect number of fields" or an AttributeError
  of its own, so the editor got no sound at all;
- refused a split edit laid out as two cuts under one number (`V` then `AA` a few frames
  later, or audio leading video): it takes a second line of the same number for a transition;
- read an event on channel `NONE` (it records nothing) as a video track over the picture, and
  a `BLK` reel (black, as some lists spell it) as a shot to give sound to;
- refused a note before the first event (a comment, a GPI, a SPLIT line for it);
- refused a list whose first event on a track dissolves or wipes into it (a fade in from
  black, as lists often start): "Transitions can't be at the very beginning of a track";
- kept a `SPLIT:` line further down, where CMX 3600 puts it (directly above its event), as a
  comment of the event before, and cut picture and sound of a split event of one line (`AA/V`,
  `B`) in together, the delayed side too;
- placed every video track from its own first event, so a second layer moved to the start;
- read a reversed event (an M2 line at a negative speed) from the frames after the M2 line's
  entry point, which is the first frame shown, and at -100 % (source as long as record) not
  reversed at all;
- linked the clip it makes of a dissolve's event, the incoming shot, to the `FROM CLIP` file,
  the outgoing shot's, where a `TO CLIP` note names the incoming one's.
`for_reader` gives the reader a list it reads as the editor sees it: a key's background on
the picture track and its fill on a track above (`KEY_TRACK`, which hides the background, as
the keyed picture does; a key fading in or out, `K nnn` or `K O nnn`, as its background
dissolving into its fill over the fade, or back), each line of a split edit as an event of its
own (a split of one line as a picture and a sound line, the delayed one starting the SPLIT
line's delay later), a transition into a track's first shot as that shot cut in, no `NONE`
events, `BLK` as `BL`. Names follow the lists' notes: `FROM CLIP
NAME` the event's first source, `TO CLIP NAME` the background after a cut, `KEY CLIP NAME` the
fill. An event line it still cannot read is refused with its line and event number.
`restore` lines the video tracks up by record timecode, runs reversed events back from their
entry point, starts a faded key's dissolve where its fade starts, and runs each part split off
an event at a speed (a faded key's side after its cut, a split's delayed side) at that speed
from the source frame it reaches, between two frames where it lies there. The editor's list itself is
never changed (`edl_list` writes it back).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction

import opentimelineio as otio

from otio_adapters import edl_audio
from otio_adapters.timing import exact_rate

KEY_TRACK = "KEY"  # the track a key's fill is read onto, above the picture
_EVENT = re.compile(r"^\s*(\d+)\s")
_TIME = re.compile(r"^(\d{2}[:;]\d{2}[:;]\d{2}[:;]\d{2}|\d+)$")
_NAME = re.compile(r"^\*?\s*(FROM|TO|KEY) CLIP NAME:?\s*(?P<name>.*?)\s*$", re.IGNORECASE)
_MOTION = re.compile(r"^\s*M2\s+(?P<reel>\S+)\s.*?(?P<entry>\d{2}[:;]\d{2}[:;]\d{2}[:;]\d{2})\s*$")
_REVERSE = re.compile(
    r"^\s*M2\s.*?\s(?P<fps>-\d+(?:\.\d+)?)\s+(?P<entry>\d{2}[:;]\d{2}[:;]\d{2}[:;]\d{2})\s*$")
_SPEED = re.compile(
    r"^\s*M2\s.*?\s(?P<fps>-?\d+(?:\.\d+)?)\s+(?P<entry>\d{2}[:;]\d{2}[:;]\d{2}[:;]\d{2})\s*$")
# A note the reader keeps as a comment of the clip it reads, for `restore` to take back.
_REVERSE_NOTE = "V2A REVERSE"
_KEY_FADE_NOTE = "V2A KEY FADE"  # frames of a key's fade before its dissolve's cut
# The speed (frames a second) and exact first source frame of a part v2a split off a
# speed-changed event (a faded key's side, a split edit's delayed side): mid-event, the frame
# shown may lie between two frames, and the reader drops an M2 whose source and record happen
# to be as long.
_SPEED_NOTE = "V2A SPEED"
_BLK = re.compile(r"^(\s*\d+\s+)BLK\b", re.IGNORECASE)
# CMX 3600 writes a split edit's line directly above its event: the delayed channels start
# that long after the event's in point.
_SPLIT = re.compile(r"^\s*SPLIT:\s*(?P<delayed>AUDIO|VIDEO)\s+DELAY\s*=\s*"
                    r"(?P<delay>\d{2}[:;]\d{2}[:;]\d{2}[:;]\d{2})\s*$", re.IGNORECASE)
_SYNTHETIC = 10_000_000  # event numbers the reader sees for lines split off an event
# A note naming an event's file: the reader links the FROM one alone, to any event.
_LINKED = re.compile(r"^\*?\s*(?P<side>FROM|TO) (?:CLIP|FILE):\s*(?P<path>.*?)\s*$",
                     re.IGNORECASE)
#: What to do about a list read at the wrong rate, as the CLI and a panel each spell the option
#: ("pass the rate option" left a newcomer to find `--rate` in the help).
RATE_HINT = "if the list is at another rate, give it: `--rate R` (the adapter option 'rate')"


def _parse_error(message: str) -> Exception:
    """The reader's own error type, so a read fails as any unreadable list does."""
    return otio.adapters.from_name("cmx_3600").module().EDLParseError(message)


@dataclass
class _Line:
    """One event line: where it is, as written, and its fields."""

    at: int  # 1-based line number in the list
    raw: str
    number: str
    reel: str
    channel: str
    edit: tuple[str, ...]  # C / D 030 / W001 030 / K B / K 000 / K O...
    times: tuple[str, ...]
    # Of a part split off a speed-changed event: its first source frame, exactly (its source
    # in timecode is that frame's whole part).
    exact_in: Fraction | None = None

    @property
    def kind(self) -> str:
        """cut, transition, background (K B) or fill (K, K nnn, K O)."""
        words = [word.upper() for word in self.edit]
        if words[0] == "KB" or words[:2] == ["K", "B"]:
            return "background"
        if words[0].startswith("K"):
            return "fill"
        return "cut" if words[0] == "C" else "transition"

    def text(self, number: str, channel: str | None = None) -> str:
        """The line as the reader is to read it: a cut, with this number."""
        return " ".join((number, self.reel, channel or self.channel, "C", *self.times))


@dataclass
class _Event:
    lines: list[_Line] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # every other line under the event
    split: re.Match | None = None  # the SPLIT line directly above the event
    split_at: int = 0  # its line number


def _edit_is_known(edit: tuple[str, ...]) -> bool:
    words = [word.upper() for word in edit]
    timed = len(words) > 1 and words[-1].isdigit()
    head, rest = words[0], words[1:-1] if timed else words[1:]
    if head == "C":
        return not rest and not timed
    if head == "D" or re.fullmatch(r"W\d{3}", head):
        return not rest and timed
    if head in ("KB", "KO"):
        return not rest
    return head == "K" and rest in ([], ["B"], ["O"])


def _parse_line(line: str, at: int) -> _Line:
    fields = line.split()
    where = f"line {at}, event {fields[0]}"
    if len(fields) < 8 or not all(_TIME.match(time) for time in fields[-4:]):
        raise _parse_error(
            f"{where}: an event line is number, reel, channel, edit and four timecodes "
            f"(source in and out, record in and out), not {' '.join(fields)!r}")
    parsed = _Line(at, line, fields[0], fields[1], fields[2], tuple(fields[3:-4]),
                   tuple(fields[-4:]))
    if not _edit_is_known(parsed.edit):
        raise _parse_error(
            f"{where}: edit {' '.join(parsed.edit)!r} is none CMX 3600 has (C, D nnn, "
            "Wnnn nnn, K B with K, K nnn or K O)")
    return parsed


def _parts(lines: list[str]) -> list[str | _Event]:
    """The list's lines in order: text before the first event, then events (their lines of
    one number and the notes under them), grouped as the reader groups them."""
    parts: list[str | _Event] = []
    current: _Event | None = None
    above = ""  # the line above this one
    for at, line in enumerate(lines, start=1):
        match = _EVENT.match(line)
        if match is None:
            if current is None:
                parts.append(line)
            elif line.strip():
                current.notes.append(line.strip())
            above = line
            continue
        if current is None or int(match[1]) != int(current.lines[0].number):
            split = _SPLIT.match(above)
            if split and current is not None:
                current.notes.pop()  # the next event's, not a note of this one
            current = _Event(split=split, split_at=at - 1)
            parts.append(current)
        current.lines.append(_parse_line(line, at))
        above = line
    return parts


def for_reader(text: str, rate: float, same_lengths: bool = True) -> str:
    """The list as the CMX 3600 reader reads the picture the editor sees (module docstring).
    Its timecodes are checked at `rate`, and with `same_lengths` (the reader's default) each
    line's source and record lengths, where the event has no speed: the reader's own errors
    name neither the line nor the event."""
    parts = _parts(text.splitlines())
    if not any(isinstance(part, _Event) for part in parts):
        return text  # no event at all: the reader says whether it is a list (an empty one)
    for part in parts:
        if isinstance(part, _Event):
            _check_times(part, rate, same_lengths)
    out: list[str] = []
    synthetic = iter(range(_SYNTHETIC, _SYNTHETIC * 10))
    started: set[str] = set()  # the reader's tracks that hold an event already
    for part in parts:
        if isinstance(part, str):
            # Before the first event the reader takes the title and FCM lines alone: a note
            # there (a comment, a GPI) was "Unknown event type", and a SPLIT line made it take
            # the next two lines for the split's events, notes and all. The SPLIT's delay is in
            # its event's timecodes.
            if not part.strip() or part.lstrip().startswith(("TITLE:", "FCM")):
                out.append(part)
            continue
        lines = [line for line in part.lines if line.channel.upper() != "NONE"]
        for line in lines:
            if line.reel.upper() == "BLK":  # black, which the reader knows as BL or BLACK
                line.reel, line.raw = "BL", _BLK.sub(r"\1BL", line.raw)
        written = len(out)
        if any(line.kind in ("background", "fill") for line in lines):
            out += _key_event(lines, part.notes, synthetic, rate)
        elif len(lines) > 1 and lines[1].kind == "cut":
            out += _split_event(lines, part.notes, synthetic, rate)
        elif len(lines) == 1 and _delays_one_line(part):
            out += _split_event(_delayed(part, rate), part.notes, synthetic, rate)
        elif _starts_a_track(lines, started, rate):
            out += _cut_in(lines[1], part.notes)
        elif len(lines) == 2 and lines[1].kind == "transition":
            # The reader makes the event's clip of its incoming line and links it to the FROM
            # file, the outgoing shot's where a TO note names the incoming one's.
            out += [line.raw for line in lines] + _incoming_linked(part.notes)
            out += _reverse_notes(part.notes)
            out += _speed_of_equal_lengths(lines[-1], part.notes, rate)
        elif lines:
            out += [line.raw for line in lines] + part.notes + _reverse_notes(part.notes)
            out += _speed_of_equal_lengths(lines[-1], part.notes, rate)
        started.update(_reader_tracks(out[written:]))
    return "\n".join(out) + "\n"


def _reader_tracks(lines: list[str]) -> set[str]:
    """The reader's tracks the event lines among `lines` go on (A is its A1, AA/V its V, A1
    and A2...)."""
    channels = otio.adapters.from_name("cmx_3600").module().channel_map
    return {track for line in lines if _EVENT.match(line)
            for track in channels.get(line.split()[2], [line.split()[2]])}


def _starts_a_track(lines: list[_Line], started: set[str], rate: float) -> bool:
    """Whether an event is a transition (its cut of no length from the outgoing source, then
    the dissolve or wipe) into the first shot of one of its tracks: from black, mostly. The
    reader has no clip there to make it from, and refused the whole list. An outgoing line
    that records frames of its own is refused by line and event (the reader's refusal named
    neither): read as a cut, the shot it records would be lost without a word."""
    if not (len(lines) == 2 and lines[0].kind == "cut" and lines[1].kind == "transition"):
        return False
    if _reader_tracks([lines[1].raw]) <= started:
        return False
    outgoing = lines[0]
    record_in, record_out = (_frames(time, outgoing, rate) for time in outgoing.times[2:])
    if record_in != record_out:
        raise _parse_error(
            f"line {outgoing.at}, event {outgoing.number}: a transition into the first shot of "
            f"channel {lines[1].channel} from a shot recorded before it ({outgoing.times[2]} to "
            f"{outgoing.times[3]}), which the CMX 3600 reader cannot place: give that shot an "
            "event of its own before this one")
    return True


def _cut_in(incoming: _Line, notes: list[str]) -> list[str]:
    """A transition into a track's first shot as what it shows, that shot cut in where the
    transition starts, over its whole record range (the fade from nothing is not kept: no
    other picture lies under it to make sound for). Named and linked to its file as the reader
    names a cut (FROM CLIP NAME, FROM CLIP): by the transition's TO lines, where it has them."""
    names, motions, others = _split_notes(notes)
    name = names.get("TO", names.get("FROM"))
    named = [f"* FROM CLIP NAME: {name}"] if name is not None else []
    return [incoming.text(incoming.number), *named, *motions, *_incoming_linked(others),
            *_reverse_notes(notes)]


def _incoming_linked(notes: list[str]) -> list[str]:
    """A transition's notes with its incoming shot's file (its `TO CLIP` or `TO FILE` note) as
    the one the reader links, a `FROM CLIP`: the reader links the FROM file alone, to the
    event's clip, which is the incoming shot, and the FROM file is the outgoing source's (a
    dissolve's outgoing shot, black). Without a TO file the notes stay as written."""
    linked = [_LINKED.match(note) for note in notes]
    incoming_file = [match["path"] for match in linked if match and match["side"].upper() == "TO"]
    if not incoming_file:
        return notes
    kept = [note for note, match in zip(notes, linked, strict=True) if not match]
    return [*kept, f"* FROM CLIP: {incoming_file[0]}"]


def _sides(channel: str) -> tuple[str, str] | None:
    """(picture, sound) channels of an event line that records both (AA/V, A2/V, B), else
    None."""
    parts = channel.upper().split("/")
    if parts == ["B"]:
        return "V", "A"  # B is picture and channel 1
    if "V" in parts and len(parts) > 1:
        return "V", "/".join(part for part in parts if part != "V")
    return None


def _delays_one_line(event: _Event) -> bool:
    """Whether the SPLIT line above an event of one line delays part of it: the line records
    picture and sound, and runs forwards (at its M2 line's speed, if any). Laid out on two
    lines, each line's timecodes already say where it starts."""
    still = any("FREEZE FRAME" in note.upper() for note in event.notes)
    return (event.split is not None and _sides(event.lines[0].channel) is not None
            and not still and _runs_forwards(event.notes))


def _runs_forwards(notes: list[str]) -> bool:
    """Whether every M2 line among `notes` (if any) plays its source forwards: a part of a
    reversed or frozen event is not split off (`_reverse` places a reversed event whole)."""
    found = [_SPEED.match(note) for note in notes]
    return all(float(match["fps"]) > 0 for match in found if match)


def _fps(motions: list[str]) -> str | None:
    """The speed an event part's (last) M2 line gives, in frames a second as it spells it."""
    found = [match["fps"] for match in map(_SPEED.match, motions) if match]
    return found[-1] if found else None


def _source_at(line: _Line, frames: int, fps: str | None, rate: float) -> Fraction:
    """The source frame `line` shows `frames` record frames after its record in, at its M2
    speed (`fps`, frames a second; None: normal speed): CMX 3600 counts a speed-changed source
    from its in point at fps / rate frames a record frame."""
    speed = Fraction(fps) / exact_rate(rate) if fps is not None else 1
    return (line.exact_in if line.exact_in is not None else _frames(line.times[0], line, rate)
            ) + frames * speed


def _timecode_of(frames: Fraction, line: _Line, rate: float) -> str:
    """Source frame `frames` (its whole part) as `line` spells its times."""
    whole = math.floor(frames)
    if line.times[0].isdigit():
        return str(whole)
    return otio.opentime.to_timecode(otio.opentime.RationalTime(whole, rate), rate,
                                     ";" in line.times[0])


def _speed_notes(line: _Line, fps: str | None, rate: float) -> list[str]:
    """The M2 line and `_SPEED_NOTE` of a part split off a speed-changed event (none at
    normal speed): the M2 line lets the reader take a source as long as the part's speed
    makes it, the note gives `restore` its exact first frame. The M2 line's entry is spelt
    with colons, which the reader's pattern for it needs (it reads the speed alone)."""
    if fps is None:
        return []
    start = _source_at(line, 0, fps, rate)
    entry = otio.opentime.to_timecode(otio.opentime.RationalTime(math.floor(start), rate),
                                      rate, False)
    return [f"M2   {line.reel:8}       {fps}                {entry}",
            f"* {_SPEED_NOTE} {fps} {start}"]


def _delayed(event: _Event, rate: float) -> list[_Line]:
    """The event's line as the split edit it is: picture and sound lines, the delayed one
    starting the SPLIT line's delay after the event's in point, in source and record alike."""
    (line,) = event.lines
    picture, sound = _sides(line.channel)
    hours, minutes, seconds, frames = map(int, re.split(r"[:;]", event.split["delay"]))
    delay = ((hours * 60 + minutes) * 60 + seconds) * round(rate) + frames
    length = _frames(line.times[3], line, rate) - _frames(line.times[2], line, rate)
    if not 0 <= delay < length:
        raise _parse_error(
            f"line {event.split_at}, event {line.number}: the split's {event.split['delayed']} "
            f"DELAY of {delay} frames is not within the event's {length} frames")
    source_in, source_out, record_in, record_out = line.times
    # At a speed (M2) the delayed side's source starts delay x speed frames later.
    fps = _fps([note for note in event.notes if _SPEED.match(note)])
    start = _source_at(line, delay, fps, rate)
    later = (_timecode_of(start, line, rate), source_out,
             _later(record_in, delay, line, rate), record_out)
    delayed = replace(line, times=later, exact_in=start if fps is not None else None)
    video_later = event.split["delayed"].upper() == "VIDEO"
    return [replace(delayed if video_later else line, channel=picture),
            replace(line if video_later else delayed, channel=sound)]


def _later(time: str, frames: int, line: _Line, rate: float) -> str:
    """`time` (a timecode or a frame count, as the line spells it) `frames` later."""
    if time.isdigit():
        return str(int(time) + frames)
    moved = otio.opentime.RationalTime(_frames(time, line, rate) + frames, rate)
    return otio.opentime.to_timecode(moved, rate, ";" in time)


def _speed_of_equal_lengths(line: _Line, notes: list[str], rate: float) -> list[str]:
    """The `_SPEED_NOTE` of an event at a forward M2 speed whose source is as long as its record:
    DaVinci Resolve writes the source range as if at normal speed, and a short event near 100 %
    counts as many frames either way; the reader ignores an M2 line there, and the event played
    at normal speed (OpenTimelineIO issue 948)."""
    fps = _fps([note for note in notes if _SPEED.match(note)])
    if fps is None or float(fps) <= 0 or float(fps) == rate:  # a freeze, or 100 %
        return []
    source_in, source_out, record_in, record_out = (_frames(t, line, rate) for t in line.times)
    if source_out - source_in != record_out - record_in:
        return []
    return [f"* {_SPEED_NOTE} {fps} {source_in}"]


def _reverse_notes(notes: list[str]) -> list[str]:
    """Notes telling `restore` an event runs backwards from its M2 line's entry point (the
    reader reads the entry as the first frame of the media used, and ignores the M2 line where
    source and record are as long, as they are at -100 %)."""
    found = [_REVERSE.match(note) for note in notes]
    return [f"* {_REVERSE_NOTE} {match['fps']} {match['entry']}" for match in found if match]


def _frames(time: str, line: _Line, rate: float) -> int:
    if time.isdigit():
        return int(time)  # a frame count, which the reader takes too
    try:
        return round(otio.opentime.from_timecode(time, rate).value)
    except ValueError as error:
        raise _parse_error(
            f"line {line.at}, event {line.number}: timecode {time} cannot be read at "
            f"{rate:g} fps ({error}); {RATE_HINT}"
        ) from None


def _check_times(event: _Event, rate: float, same_lengths: bool) -> None:
    """Each line's timecodes readable at `rate`, and its source as long as its record where
    the event has no speed (M2) or freeze, as the reader requires."""
    speed = any(note.lstrip("* ").upper().startswith("M2") or "FREEZE FRAME" in note.upper()
                for note in event.notes)
    for line in event.lines:
        source_in, source_out, record_in, record_out = (
            _frames(time, line, rate) for time in line.times)
        source, record = source_out - source_in, record_out - record_in
        if same_lengths and not speed and source != record:
            raise _parse_error(
                f"line {line.at}, event {line.number}: the source runs {source} frames and "
                f"the record {record} at {rate:g} fps, and no M2 line gives a speed; {RATE_HINT}")


def _split_notes(notes: list[str]) -> tuple[dict[str, str], list[str], list[str]]:
    """(clip names by FROM/TO/KEY, M2 lines, the other notes)."""
    names: dict[str, str] = {}
    motions, others = [], []
    for note in notes:
        name = _NAME.match(note)
        if name:
            names.setdefault(name[1].upper(), name["name"])
        elif _MOTION.match(note):
            motions.append(note)
        else:
            others.append(note)
    return names, motions, others


def _motions(lines: list[_Line], motions: list[str], main: _Line) -> dict[int, list[str]]:
    """Each line's M2 lines: CMX ties a speed to a source by its reel and entry point (the
    source in); one naming no line's reel and entry, or reel alone, goes to `main`."""
    found: dict[int, list[str]] = {id(line): [] for line in lines}
    for note in motions:
        motion = _MOTION.match(note)
        entry = motion["entry"].replace(";", ":")
        same_reel = [line for line in lines if line.reel == motion["reel"]]
        exact = [line for line in same_reel if line.times[0].replace(";", ":") == entry]
        owner = (exact or same_reel or [main])[0]
        found[id(owner)].append(note)
    return found


def _key_event(lines: list[_Line], notes: list[str], synthetic, rate: float) -> list[str]:
    """A key: an optional cut, the background (K B), then the fill (K, K nnn, K O); one that
    fades its key in or out as a dissolve (`_faded_key`)."""
    kinds = [line.kind for line in lines]
    if kinds not in (["background", "fill"], ["cut", "background", "fill"]):
        raise _parse_error(
            f"line {lines[0].at}, event {lines[0].number}: a key event is an optional cut, a "
            f"K B line (the background) and a K, K nnn or K O line (the key), in that order; "
            f"here: {', '.join(kinds)}")
    for line in lines[-2:]:
        if line.channel.upper() != "V":
            raise _parse_error(
                f"line {line.at}, event {line.number}: a key is a picture edit (channel V), "
                f"not {line.channel}")
    names, motions, others = _split_notes(notes)
    number = lines[0].number
    cut = lines[0] if kinds[0] == "cut" else None
    background, fill = lines[-2:]
    speeds = _motions(lines, motions, background)
    out: list[str] = []
    if cut is not None:
        out += [cut.text(number), f"* FROM CLIP NAME: {names.get('FROM', number)}",
                *speeds[id(cut)]]
    # Lines of one number are one event with a transition to the reader: the lines split off
    # get numbers of their own, and names (the reader would name a clip by that number).
    background_name = names.get("TO" if cut else "FROM", number)
    first = str(next(synthetic)) if cut else number
    fade, fades_out = _key_fade(fill, rate)
    if fade and _runs_forwards(motions):  # a reversed side is placed whole by `restore`
        return out + _faded_key(
            (background, background_name, _fps(speeds[id(background)])),
            (fill, names.get("KEY", number), _fps(speeds[id(fill)])), fade, fades_out,
            [first, str(next(synthetic))], others, rate)
    out += [background.text(first),
            f"* FROM CLIP NAME: {background_name}", *speeds[id(background)], *others]
    out += [fill.text(str(next(synthetic)), channel=KEY_TRACK),
            f"* FROM CLIP NAME: {names.get('KEY', number)}", *speeds[id(fill)]]
    return out


def _key_fade(fill: _Line, rate: float) -> tuple[int, bool]:
    """(frames the key fades over, whether it fades out): `K nnn` fades the key in over its
    first nnn frames, `K O nnn` out over its last; 0 where it cuts in and out (a fade of one
    frame, or none, is a cut), at most the key's length."""
    words = [word.upper() for word in fill.edit]
    fades_out = words[0] == "KO" or words[1:2] == ["O"]
    length = _frames(fill.times[3], fill, rate) - _frames(fill.times[2], fill, rate)
    frames = min(int(words[-1]), length) if words[-1].isdigit() else 0
    return (frames if frames > 1 else 0), fades_out


def _faded_key(background: tuple[_Line, str, str | None], fill: tuple[_Line, str, str | None],
               fade: int, fades_out: bool, numbers: list[str], notes: list[str],
               rate: float) -> list[str]:
    """A key fading in (out) as what the editor sees: its background dissolving into its fill
    over the fade (the fill into the background), on the picture track. The reader starts a
    dissolve at its cut (`D nnn`: the outgoing side plays on for nnn frames); the cut goes
    mid-fade so that each side shows, and `restore` moves the dissolve's start back to the
    fade's (`_KEY_FADE_NOTE`): the sound made for it crossfades over the fade. Each side is
    (line, name, speed of its M2 line or None): a side at a speed runs on at it, its source at
    the cut as far in as that speed takes it (`_speed_notes`)."""
    (outgoing, out_name, out_fps), (incoming, in_name, in_fps) = (
        (fill, background) if fades_out else (background, fill))
    before = fade // 2  # of the fade, before the cut
    after = fade - before
    key = fill[0]  # whose record times the key's lines share
    record_in, record_out = key.times[2:]
    length = _frames(record_out, key, rate) - _frames(record_in, key, rate)
    shown = length - after if fades_out else before  # of the outgoing side, to the cut
    source_in = outgoing.times[0]
    at_cut = _source_at(outgoing, shown, out_fps, rate)
    cut_source = _timecode_of(at_cut, outgoing, rate)
    if out_fps is not None:  # where CMX 3600 ends a part at a speed: its last frame shown
        source_out = _timecode_of(
            _frames(source_in, outgoing, rate) + edl_audio.source_frames_played(
                shown, float(Fraction(out_fps) / exact_rate(rate))), outgoing, rate)
    else:
        source_out = cut_source
    cut = _later(record_in, shown, outgoing, rate)
    incoming_at_cut = _source_at(incoming, shown, in_fps, rate)
    later_in = replace(incoming, times=(_timecode_of(incoming_at_cut, incoming, rate),
                                        *incoming.times[1:]),
                       exact_in=incoming_at_cut if in_fps is not None else None)
    first, dissolve = numbers
    return [
        " ".join((first, outgoing.reel, "V", "C", source_in, source_out, record_in, cut)),
        *_speed_notes(outgoing, out_fps, rate),
        f"* FROM CLIP NAME: {out_name}", *notes,
        " ".join((dissolve, outgoing.reel, "V", "C", cut_source, cut_source, cut, cut)),
        " ".join((dissolve, incoming.reel, "V", "D", f"{after:03d}", later_in.times[0],
                  incoming.times[1], cut, record_out)),
        *_speed_notes(later_in, in_fps, rate),
        f"* FROM CLIP NAME: {out_name}", f"* TO CLIP NAME: {in_name}",
        f"* {_KEY_FADE_NOTE} {before}",
    ]


def _split_event(lines: list[_Line], notes: list[str], synthetic, rate: float) -> list[str]:
    """A split edit: cuts of one number on other channels (picture, then sound a few frames
    later, or the other way round), each an event to the reader, with the event's notes. Its
    lines are one source at one speed: an M2 line (CMX ties one to a reel and its entry point,
    often the first line's alone) gives each line of its reel that speed, from where that line
    starts (the reader refused the other line: its source ran longer than its record)."""
    for line in lines:
        if line.kind != "cut":
            raise _parse_error(
                f"line {line.at}, event {line.number}: a split edit's lines are cuts, "
                f"not {' '.join(line.edit)}")
    names, motions, others = _split_notes(notes)
    speeds = _motions(lines, motions, lines[0])
    one_source = len({line.reel for line in lines}) == 1
    out: list[str] = []
    for index, line in enumerate(lines):
        number = line.number if index == 0 else str(next(synthetic))
        speed = speeds[id(line)]
        if _runs_forwards(motions):  # a reversed event is placed whole by `restore`
            same_reel = [note for note in motions if _MOTION.match(note)["reel"] == line.reel]
            fps = _fps(speed or same_reel or (motions if one_source else []))
            speed = _speed_notes(line, fps, rate)
        out += [line.text(number), f"* FROM CLIP NAME: {names.get('FROM', line.number)}",
                *speed, *others]
    return out


def restore(timeline: otio.schema.Timeline) -> None:
    """Play reversed events from their entry point, and place every video track by record
    timecode (`_line_up`)."""
    for clip in timeline.find_clips():
        _speed(clip)
        _reverse(clip)
    for track in timeline.video_tracks():
        _key_fades(track)
    _line_up(timeline)


def _key_fades(track: otio.schema.Track) -> None:
    """Start each dissolve of a faded key where the fade starts: the reader started it at its
    cut, `_faded_key` put that cut mid-fade (the dissolve then covers the fade, the cut
    where it was)."""
    items = list(track)
    for previous, item in zip(items, items[1:], strict=False):
        meta = item.metadata.get("cmx_3600", {}) if isinstance(item, otio.schema.Clip) else {}
        comments = list(meta.get("comments", []))
        notes = [comment for comment in comments if comment.startswith(_KEY_FADE_NOTE)]
        if not notes or not isinstance(previous, otio.schema.Transition):
            continue
        meta["comments"] = [comment for comment in comments if comment not in notes]
        rate = previous.out_offset.rate
        previous.in_offset = otio.opentime.RationalTime(int(notes[-1].split()[-1]), rate)


def _speed(clip: otio.schema.Clip) -> None:
    """A part split off a speed-changed event (`_speed_notes`) at its speed, from its exact
    first source frame: the reader read that frame's whole part, and no speed at all where the
    part's source and record happened to be as long."""
    meta = clip.metadata.get("cmx_3600", {})
    comments = list(meta.get("comments", []))
    notes = [comment for comment in comments if comment.startswith(_SPEED_NOTE)]
    if not notes:
        return
    meta["comments"] = [comment for comment in comments if comment not in notes]
    fps, start = notes[-1].split()[-2:]
    rate = clip.source_range.duration.rate
    clip.source_range = otio.opentime.TimeRange(
        otio.opentime.RationalTime(float(Fraction(start)), rate), clip.source_range.duration)
    kept = [effect for effect in clip.effects
            if not isinstance(effect, otio.schema.LinearTimeWarp)]
    clip.effects[:] = [*kept, otio.schema.LinearTimeWarp(time_scalar=float(fps) / rate)]


def _reverse(clip: otio.schema.Clip) -> None:
    """A reversed event (M2 at a negative speed) as OTIO counts it: the speed as a time warp,
    its source range starting at the lowest frame it shows, so that the first frame shown is
    the M2 line's entry point, as CMX 3600 plays it (the reader started the range at the entry:
    the event played frames after it, which the editor never sees, at -100 % forwards)."""
    meta = clip.metadata.get("cmx_3600", {})
    comments = list(meta.get("comments", []))
    notes = [comment for comment in comments if comment.startswith(_REVERSE_NOTE)]
    if not notes:
        return
    meta["comments"] = [comment for comment in comments if comment not in notes]
    fps, entry = notes[-1].split()[-2:]
    rate = clip.source_range.duration.rate
    speed = float(fps) / rate
    length = round(clip.source_range.duration.value)
    first = otio.opentime.from_timecode(entry, rate).value
    lowest = first - edl_audio.source_frames_played(length, speed) + 1
    clip.source_range = otio.opentime.TimeRange(
        otio.opentime.RationalTime(lowest, rate), clip.source_range.duration)
    kept = [effect for effect in clip.effects
            if not isinstance(effect, otio.schema.LinearTimeWarp)]
    clip.effects[:] = [*kept, otio.schema.LinearTimeWarp(time_scalar=speed)]


def _line_up(timeline: otio.schema.Timeline) -> None:
    """Place every video track by record timecode: the reader starts each track at its own
    first event (its trim is minus that record timecode), and planning counts every track
    from the timeline's start, so a key's fill track moved to the first shot."""
    tracks = [track for track in timeline.video_tracks() if track.source_range is not None]
    if len(tracks) < 2 or any(track.source_range.start_time.value > 0 for track in tracks):
        return
    first = max(track.source_range.start_time for track in tracks)  # the earliest record in
    for track in tracks:
        lead = first - track.source_range.start_time
        if lead.value > 0:
            track.insert(0, otio.schema.Gap(source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, lead.rate), lead)))
        track.source_range = otio.opentime.TimeRange(first, track.source_range.duration + lead)
