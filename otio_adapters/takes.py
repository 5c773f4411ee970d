"""Finding v2a's own tracks and clips in a timeline, and naming takes.

A v2a clip is recognised by its metadata where the format kept it, otherwise by the file name of
its media (`<clip id>_take<N>.wav`), which every format carries. That is what makes a clip
addressable again after a round trip through FCP XML or AAF.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote, urlparse

import opentimelineio as otio

from otio_adapters import timing

V2A_KEY = "v2a"  # metadata namespace, as OTIO adapters use "fcp_xml", "AAF"
#: clip.metadata[EDITORS_COPY] = True: a clip of the editor's that plays one of v2a's take files
#: (a copy of v2a's clip they placed themselves): theirs, not v2a's to replace or take off.
EDITORS_COPY = "v2a_editors_copy"
TAKE_FILE_RE = re.compile(r"^(?P<stem>.+)_take(?P<take>\d+)\.wav$", re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def track_name(stem: str) -> str:
    return f"V2A {stem}"


def file_stem(clip_id: str) -> str:
    """A file-name-safe form of a clip id; ids and file names map one to one for our ids."""
    return _UNSAFE.sub("-", clip_id).strip("-") or "clip"


def take_file_name(clip_id: str, take: int) -> str:
    return f"{file_stem(clip_id)}_take{take}.wav"


def take_key(take: int) -> str:
    return f"take{take}"


def url_to_path(url: str) -> str:
    if url.startswith("file:"):
        return unquote(urlparse(url).path)
    return url


def path_to_url(path: str) -> str:
    return otio.url_utils.url_from_filepath(os.path.abspath(path))


def parse_take_file(url: str) -> tuple[str, int] | None:
    """(file stem of the clip id, take number) for a v2a take file, else None."""
    match = TAKE_FILE_RE.match(os.path.basename(url_to_path(url)))
    if not match:
        return None
    return match.group("stem"), int(match.group("take"))


def _reference_urls(clip: otio.schema.Clip) -> list[str]:
    return [
        ref.target_url
        for ref in clip.media_references().values()
        if isinstance(ref, otio.schema.ExternalReference)
    ]


def is_v2a_clip(clip: otio.core.Composable) -> bool:
    if not isinstance(clip, otio.schema.Clip) or clip.metadata.get(EDITORS_COPY):
        return False
    if V2A_KEY in clip.metadata:
        return True
    urls = _reference_urls(clip)
    return bool(urls) and all(parse_take_file(url) for url in urls)


def is_v2a_track(track: otio.schema.Track, stem: str) -> bool:
    if track.kind != otio.schema.TrackKind.Audio:
        return False
    meta = track.metadata.get(V2A_KEY)
    if meta is not None:
        return meta.get("track") == stem
    if track.name == track_name(stem):
        return True
    # Formats that drop track names and metadata (FCP7 XML): a track holding only our takes.
    clips = [item for item in track if isinstance(item, otio.schema.Clip)]
    return bool(clips) and all(is_v2a_clip(clip) for clip in clips)


def find_v2a_tracks(timeline: otio.schema.Timeline, stem: str) -> list[otio.schema.Track]:
    return [track for track in timeline.tracks if is_v2a_track(track, stem)]


def marked_v2a_tracks(timeline: otio.schema.Timeline) -> list[otio.schema.Track]:
    """v2a's tracks as v2a made them: those holding its metadata, of every stem
    (`find_v2a_tracks` also knows one by its name or its takes, for one stem)."""
    return [track for track in timeline.tracks if V2A_KEY in track.metadata]


def clip_file_stem(clip: otio.schema.Clip) -> str:
    """The id under which a v2a clip was generated, as a file stem."""
    meta = clip.metadata.get(V2A_KEY, {})
    if meta.get("clip_id"):
        return file_stem(str(meta["clip_id"]))
    for url in _reference_urls(clip):
        parsed = parse_take_file(url)
        if parsed:
            return parsed[0]
    return ""


def clip_takes(clip: otio.schema.Clip) -> dict[int, otio.schema.ExternalReference]:
    """Take number → media reference of a v2a clip (keys `takeN`, or parsed from file names)."""
    takes = {}
    for key, ref in clip.media_references().items():
        if not isinstance(ref, otio.schema.ExternalReference):
            continue
        number = None
        if re.fullmatch(r"take\d+", key):
            number = int(key[4:])
        else:
            parsed = parse_take_file(ref.target_url)
            number = parsed[1] if parsed else None
        if number is not None:
            takes[number] = ref
    return takes


def reference_takes_in(timeline: otio.schema.Timeline, audio_dir: str, stem: str = "SFX") -> None:
    """Point v2a's take references at the file of the same name in `audio_dir`, where there is
    one. A timeline read from a bundle names the bundle's copies of its takes; the originals in
    the output's audio folder outlive the bundle that a new write replaces."""
    names = set(os.listdir(audio_dir)) if os.path.isdir(audio_dir) else set()
    for track in find_v2a_tracks(timeline, stem):
        for clip in track.find_clips():
            for reference in clip_takes(clip).values():
                name = os.path.basename(url_to_path(reference.target_url))
                if name in names:
                    reference.target_url = path_to_url(os.path.join(audio_dir, name))


def highest_takes(
    timeline: otio.schema.Timeline | None, audio_dir: str, stem: str = "SFX"
) -> dict[str, int]:
    """File stem of a clip id -> its highest take number seen in the timeline or on disk.

    One pass over the folder and the v2a tracks, so a job asks for every clip's next take in
    linear time.
    """
    highest: dict[str, int] = {}

    def see(clip_stem: str, take: int) -> None:
        highest[clip_stem] = max(highest.get(clip_stem, 0), take)

    if os.path.isdir(audio_dir):
        for name in os.listdir(audio_dir):
            parsed = parse_take_file(name)
            if parsed:
                see(*parsed)
    if timeline is not None:
        for track in find_v2a_tracks(timeline, stem):
            for item in track:
                if isinstance(item, otio.schema.Clip):
                    for take in clip_takes(item):
                        see(clip_file_stem(item), take)
    return highest


def next_take_number(
    timeline: otio.schema.Timeline | None, clip_id: str, audio_dir: str, stem: str = "SFX"
) -> int:
    """One past every take of this clip seen in the timeline or on disk: never overwrite a take."""
    return highest_takes(timeline, audio_dir, stem).get(file_stem(clip_id), 0) + 1


def to_samples(time: otio.opentime.RationalTime) -> int:
    """A time on a track, in samples, from its exact rate (29.97 means 30000/1001), as planning
    rounds it: a clip's boundaries land on the same samples as its segment's."""
    return timing.to_samples(timing.seconds(time))


def take_origin(timeline_offset: int, start_sample: int, handle_before: int) -> int:
    """Timeline time (samples, start timecode included) of a take's first sample: the WAV's
    bext time reference and the start of its available range, so that an editor linking audio
    by timecode finds the clip's source range inside the file. Never before zero."""
    return max(0, timeline_offset + start_sample - handle_before)
