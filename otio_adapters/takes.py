"""Finding v2a's own tracks and clips in a timeline, and naming takes.

A v2a track is recognised by what v2a named or marked it with (`track_stem`), never by what it
holds. On it, a v2a clip is recognised by its metadata where the format kept it, otherwise by the
file name of its media (`<clip id>_take<N>.wav`), which every format carries. That is what makes
a clip addressable again after a round trip through FCP XML or AAF.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote, urlparse

import opentimelineio as otio

from otio_adapters import timing

V2A_KEY = "v2a"  # metadata namespace, as OTIO adapters use "fcp_xml", "AAF"
#: metadata["fcp_xml"][PREMIERE_TRACK_NAME]: a track's name in FCP7 XML, an attribute of its
#: <track> as Premiere writes it (the FCP7 XML adapter reads no other track name).
PREMIERE_TRACK_NAME = "@MZ.TrackName"
#: clip.metadata[EDITORS_COPY] = True: a clip of the editor's that plays one of v2a's take files
#: (a copy of v2a's clip they placed themselves): theirs, not v2a's to replace or take off. Set
#: by the FCP7 XML reader (`fcp7_document.set_apart_editors_items`): a document v2a wrote before
#: it named its tracks knows v2a's track by the takes it holds alone (`holds_only_takes`), and
#: the editor's copies there do not count.
EDITORS_COPY = "v2a_editors_copy"
TAKE_FILE_RE = re.compile(r"^(?P<stem>.+)_take(?P<take>\d+)\.wav$", re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_TRACK_PREFIX = "V2A "
#: v2a names each of its clips for the shot it was made for ("V2A wake up", `clip_name`).
_CLIP_PREFIX = "V2A "


def track_name(stem: str) -> str:
    return f"{_TRACK_PREFIX}{stem}"


def clip_name(shot: str) -> str:
    """The name v2a gives its clip made for the shot named `shot`."""
    return f"{_CLIP_PREFIX}{shot}"


def name_stem(name: str | None) -> str | None:
    """The stem of a track of this name as v2a names its tracks (`track_name`), else None."""
    name = str(name or "")
    if not name.startswith(_TRACK_PREFIX):
        return None
    return name.removeprefix(_TRACK_PREFIX) or None


def v2a_shot_name(clip: otio.schema.Clip) -> str | None:
    """The shot a v2a clip was made for, as v2a names its clips ("V2A wake up"), where the clip
    keeps no metadata of v2a's; None for any other name (an EDL's take file name, a clip the
    editor renamed), which says nothing of the shot."""
    if clip.metadata.get(V2A_KEY, {}).get("source_clip") is not None:
        return None
    name = str(clip.name or "")
    return name.removeprefix(_CLIP_PREFIX) if name.startswith(_CLIP_PREFIX) else None


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


def track_stem(track: otio.core.Composable) -> str | None:
    """The stem of a v2a track, None for every other track (the editor's).

    A track is v2a's only where v2a named or marked it as its own: its metadata (.otio, and
    where a reader finds v2a's mark: FCPXML's role, AAF's slot name, a CMX 3600 note), or its
    name as v2a writes it ("V2A SFX": Kdenlive's track name, Premiere's `MZ.TrackName` in FCP7
    XML). Never by what it holds: an editor's track of copies of v2a's takes (a take they
    liked, dragged onto a track of their own) is theirs, and v2a must not refill or remove it.
    """
    if not isinstance(track, otio.schema.Track) or track.kind != otio.schema.TrackKind.Audio:
        return None
    meta = track.metadata.get(V2A_KEY)
    if meta is not None:
        stem = meta.get("track") if hasattr(meta, "get") else None
        return str(stem) if stem else None
    fcp7 = track.metadata.get("fcp_xml")
    premiere_name = fcp7.get(PREMIERE_TRACK_NAME) if hasattr(fcp7, "get") else None
    return name_stem(track.name) or name_stem(premiere_name)


def holds_only_takes(track: otio.core.Composable) -> bool:
    """Whether `track` is an audio track whose clips are all v2a's takes: how v2a knew its
    track in FCP7 XML and CMX 3600 before it marked it there, and still knows one in a document
    or list that carries no mark of v2a's at all (written before). Elsewhere such a track is
    the editor's (copies of takes they liked), never v2a's by this alone (`track_stem`)."""
    if not isinstance(track, otio.schema.Track) or track.kind != otio.schema.TrackKind.Audio:
        return False
    clips = track.find_clips()
    return bool(clips) and all(is_v2a_clip(clip) for clip in clips)


def is_v2a_track(track: otio.schema.Track, stem: str) -> bool:
    return track_stem(track) == stem


def find_v2a_tracks(timeline: otio.schema.Timeline, stem: str) -> list[otio.schema.Track]:
    return [track for track in timeline.tracks if is_v2a_track(track, stem)]


def marked_v2a_tracks(timeline: otio.schema.Timeline) -> list[otio.schema.Track]:
    """v2a's tracks as v2a made them: those holding its metadata, of every stem
    (`find_v2a_tracks` also knows one by its name, for one stem)."""
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


def find_moved_takes(
    timeline: otio.schema.Timeline, folders: tuple[str, ...], stem: str = "SFX"
) -> None:
    """Point each of v2a's take references whose file is not where it says at the file of the
    same name in the first of `folders` that holds one. v2a names its takes by absolute path:
    after the editor moved or renamed the folder of a result, every take named the old place,
    and a re-run wrote a timeline of offline sound though the files were beside it."""
    for track in find_v2a_tracks(timeline, stem):
        for clip in track.find_clips():
            for reference in clip_takes(clip).values():
                path = url_to_path(reference.target_url or "")
                if not path or os.path.isfile(path):
                    continue
                name = os.path.basename(path)
                found = next((os.path.join(folder, name) for folder in folders
                              if os.path.isfile(os.path.join(folder, name))), None)
                if found:
                    reference.target_url = path_to_url(found)


def offline_takes(timeline: otio.schema.Timeline, stem: str = "SFX") -> list[tuple[str, str, str]]:
    """(clip name, take file, clip id) of each of v2a's clips whose active take file is not
    there (the editor deleted or renamed it): offline on the timeline written."""
    offline = []
    for track in find_v2a_tracks(timeline, stem):
        for clip in track.find_clips():
            if not is_v2a_clip(clip) or not clip.enabled:
                continue
            path = url_to_path(getattr(clip.media_reference, "target_url", "") or "")
            if path and not os.path.isfile(path):
                clip_id = clip.metadata.get(V2A_KEY, {}).get("clip_id") or clip_file_stem(clip)
                offline.append((clip.name, path, clip_id))
    return offline


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


def claim_take_file(audio_dir: str, clip_id: str, take: int) -> tuple[int, str]:
    """The first take number from `take` up whose file this call creates, and its path. Created
    empty and exclusively (O_EXCL): take numbers count the files on disk, and two runs writing
    one folder at once counted the same, wrote the same take file over each other, and a stopped
    one removed the other's. The caller writes the take over the empty file, or removes it."""
    while True:
        path = os.path.join(audio_dir, take_file_name(clip_id, take))
        try:
            with open(path, "xb"):
                return take, path
        except FileExistsError:
            take += 1


def to_samples(time: otio.opentime.RationalTime) -> int:
    """A time on a track, in samples, from its exact rate (29.97 means 30000/1001), as planning
    rounds it: a clip's boundaries land on the same samples as its segment's."""
    return timing.to_samples(timing.seconds(time))


def take_origin(timeline_offset: int, start_sample: int, handle_before: int) -> int:
    """Timeline time (samples, start timecode included) of a take's first sample: the WAV's
    bext time reference and the start of its available range, so that an editor linking audio
    by timecode finds the clip's source range inside the file. Never before zero."""
    return max(0, timeline_offset + start_sample - handle_before)
