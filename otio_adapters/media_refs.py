"""Find the media a clip names: file URLs, plain paths, image sequences, relinking by file name;
then probe it to learn which source seconds exist (or why it cannot be used).

A timeline usually comes from another machine ("D:/media/shot.mov", "file:///Volumes/..."), so a
path that does not exist here is looked up by its file name under the relink roots the caller
gives (searched recursively, first match in sorted order, so the choice is stable).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from urllib.parse import unquote, urlparse

import opentimelineio as otio

from otio_adapters.timing import exact_rate, seconds
from v2a.contracts import ImageSequence, MediaSource
from v2a.media.errors import MediaError
from v2a.media.probe import MediaInfo

#: Extensions of single still images: one picture held for the whole clip. The decoder holds
#: every single-image format it reads (v2a.media.probe.STILL_FORMATS); one missing here was
#: probed as a movie and reported as zero length. A file the probe reads is held when the probe
#: says it is one picture (an animated GIF plays); the extension decides for one it cannot read.
STILL_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".exr", ".dpx", ".tga", ".psd", ".gif"}
    | {".webp", ".qoi", ".ppm", ".pam"}
)
#: Extensions tried when a clip names media without one (EDL clip names, missing references).
MEDIA_EXTENSIONS = frozenset(
    {".mov", ".mp4", ".m4v", ".mxf", ".avi", ".mkv", ".webm", ".mpg", ".mts", ".dv"}
    | STILL_EXTENSIONS
)

#: Files and folders a relink root may hold before its search stops: a media drive's worth
#: (an image sequence is a file a frame: 2 h of DPX at 24 fps is 172,800), not a whole disk's.
RELINK_MAX_ENTRIES = 1_000_000

#: How much more than its own size an .otioz may unpack to: its deflated timeline JSON.
OTIOZ_MAX_INFLATION = 256 * 2**20

_WINDOWS_DRIVE = re.compile(r"^/?[A-Za-z]:[/\\]")
log = logging.getLogger(__name__)


def media_base_dir(timeline_path: str) -> str:
    """The folder that relative media paths in a timeline are relative to.

    A plain file: its folder. An .otiod bundle: the bundle itself (it holds media/...). An .otioz
    bundle: its media lives inside the zip, so it is extracted once to the user's cache folder
    (keyed by the file's path, size and time; `otioz_cache_dir`) and that folder is returned.
    """
    path = os.path.abspath(timeline_path)
    if os.path.isdir(path):
        return path
    if path.lower().endswith(".otioz") and os.path.isfile(path):
        return _extract_otioz(path)
    return os.path.dirname(path)


def otioz_cache_dir() -> str:
    """Where .otioz bundles are extracted: `$XDG_CACHE_HOME/v2a/otioz` (~/.cache/v2a/otioz).

    The user's own folder, not the shared /tmp: there a folder name derived from a bundle's path
    could be made first by another user, with other media in it. Extractions stay (a timeline
    written from a bundle into another format refers to its media there)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "v2a", "otioz")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return folder


def _extraction_key(path: str) -> str:
    """The cache folder's name for this bundle as it is now (a rewritten bundle gets another)."""
    stat = os.stat(path)
    return hashlib.sha1(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]


def remove_otioz_extraction(path: str) -> None:
    """Delete the media `media_base_dir` extracted from the bundle at `path`, for a bundle
    whose timelines no longer need them (a timeline written from it in another format refers
    to them: keep them then). Nothing happens for a bundle that was never extracted."""
    try:
        target = otioz_extraction(path)
    except OSError:
        return
    shutil.rmtree(target, ignore_errors=True)


def otioz_extraction(path: str) -> str:
    """The cache folder `media_base_dir` unpacks the bundle at `path`, as it is now, to (whether
    or not it has been unpacked)."""
    return os.path.join(otioz_cache_dir(), _extraction_key(os.path.abspath(path)))


def _extract_otioz(path: str) -> str:
    key = _extraction_key(path)
    try:
        cache = otioz_cache_dir()
    except OSError:
        return os.path.dirname(path)  # media then shows as offline, with the path looked for
    target = os.path.join(cache, key)
    if os.path.isdir(target):
        return target
    _check_otioz_size(path, os.path.getsize(path))
    staging = tempfile.mkdtemp(prefix=".extracting-", dir=cache)
    try:
        with zipfile.ZipFile(path) as bundle:
            for member in bundle.namelist():
                # Never write outside the folder, whatever names the zip holds.
                resolved = os.path.realpath(os.path.join(staging, member))
                if not resolved.startswith(os.path.realpath(staging) + os.sep):
                    continue
                bundle.extract(member, staging)
        os.replace(staging, target)
    except (OSError, zipfile.BadZipFile):
        if os.path.isdir(target):
            return target  # another process extracted the same bundle first
        return os.path.dirname(path)  # media then shows as offline, with the path looked for
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # a failed or lost race's copy; gone if renamed
    return target


def _check_otioz_size(path: str, size: int) -> None:
    """MediaError for a bundle that would unpack to far more than its own size (a zip bomb: a
    300 kB .otioz of zeros filled 300 MB of the cache, once per job it was sent inline with).

    OTIO stores a bundle's media uncompressed; only its text (the timeline, version.txt) is
    deflated, so a real bundle unpacks to about its own size. zipfile never writes more than a
    member's declared size, so the declared sizes bound what extraction writes."""
    try:
        with zipfile.ZipFile(path) as bundle:
            unpacked = sum(member.file_size for member in bundle.infolist())
    except (OSError, zipfile.BadZipFile):
        return  # the extraction that follows says the media is offline, with where it looked
    if unpacked > size + OTIOZ_MAX_INFLATION:
        raise MediaError(
            f"{path}: the OTIOZ bundle would unpack to {unpacked / 2**20:,.0f} MiB from "
            f"{size / 2**20:,.1f} MiB; a bundle stores its media uncompressed, so this is not "
            "one (not extracted)")


def url_to_path(url: str) -> str:
    """A media reference's target URL as a local path string (percent-decoded).

    file:///a/b%20c.mov -> /a/b c.mov; file://localhost/D%3a/x.mov -> D:/x.mov;
    file://server/share/x.mov -> //server/share/x.mov; a plain path stays as it is.
    """
    if not url.lower().startswith("file:"):
        return url
    parsed = urlparse(url)
    path = unquote(parsed.path)
    host = parsed.netloc
    if _WINDOWS_DRIVE.match(path):
        return path.lstrip("/")
    if host and host.lower() != "localhost":
        return f"//{host}{path}"
    return path


def file_name(path: str) -> str:
    """The last component of a path written on any system (handles Windows backslashes)."""
    if "\\" in path or _WINDOWS_DRIVE.match(path):
        return PureWindowsPath(path).name
    return PurePosixPath(path).name


@dataclass
class RelinkIndex:
    """File names under the relink roots, from one walk per root, made the first time a name is
    looked up: a timeline whose media are all where it says walks nothing (a `--relink` pointed
    at a home folder once cost every plan a walk of it)."""

    roots: tuple[str, ...] = ()
    max_entries: int = field(default_factory=lambda: RELINK_MAX_ENTRIES)  # per root
    _by_name: dict[str, str] = field(default_factory=dict)
    _by_lower_name: dict[str, str] = field(default_factory=dict)
    _by_stem: dict[str, str] = field(default_factory=dict)
    _too_big: list[str] = field(default_factory=list)  # roots whose walk stopped at max_entries
    _built: bool = False

    def _index(self) -> None:
        if self._built:
            return
        self._built = True
        for root in self.roots:
            try:
                for path in _walk_sorted(root, self.max_entries):
                    name = _nfc(os.path.basename(path))
                    self._by_name.setdefault(name, path)
                    self._by_lower_name.setdefault(name.lower(), path)
                    stem, suffix = os.path.splitext(name)
                    if suffix.lower() in MEDIA_EXTENSIONS:
                        self._by_stem.setdefault(stem.lower(), path)
            except _TooManyEntries:
                # What was found before the stop stays: in walk order it comes first anyway.
                self._too_big.append(root)
                log.warning("relink folder %s holds more than %d files and folders: searched "
                            "only that many", root, self.max_entries)

    def find(self, name: str) -> str | None:
        """The first file called `name` (exact, then ignoring case) under the roots."""
        if not name:
            return None
        self._index()
        name = _nfc(name)
        return self._by_name.get(name) or self._by_lower_name.get(name.lower())

    def find_media_named(self, name: str) -> str | None:
        """A media file called `name`, with or without an extension (for clip names)."""
        return self.find(name) or self._by_stem.get(_nfc(name).lower())

    def describe(self) -> str:
        """Where a name was looked for, for an offline clip's message."""
        if not self.roots:
            return "(no relink folders given)"
        return "under " + ", ".join(
            f"{root} (only its first {self.max_entries:,} files and folders: too many to search; "
            "name the folder that holds the media)" if root in self._too_big else root
            for root in self.roots)


class _TooManyEntries(Exception):
    pass


def _walk_sorted(root: str, max_entries: int) -> Iterator[str]:
    """Files under root, depth first in sorted order: a stable 'first match'.

    Links are followed (media folders are often linked into a project), but no folder is entered
    twice: a link back up (/usr/bin/X11 -> .) made the walk endless, exponential with two.
    Raises _TooManyEntries past `max_entries` files and folders, a walk of an editor's whole
    disk rather than of their media."""
    seen: set[tuple[int, int]] = set()
    counted = 0
    pending = [iter([str(Path(root))])]  # per level: the folders still to walk, in order
    while pending:
        folder = next(pending[-1], None)
        if folder is None:
            pending.pop()
            continue
        try:
            status = os.stat(folder)
            if (status.st_dev, status.st_ino) in seen:
                continue
            seen.add((status.st_dev, status.st_ino))
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            continue
        counted += len(entries)
        if counted > max_entries:
            raise _TooManyEntries(root)
        folders = []
        for entry in entries:
            try:
                if entry.is_file():
                    yield entry.path
                elif entry.is_dir():
                    folders.append(entry.path)
            except OSError:
                continue
        pending.append(iter(folders))


def _nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def existing_spelling(path: str) -> str | None:
    """`path` as this file system spells it, where a file is there; else None.

    Accented letters have two spellings in Unicode: macOS writes a file's name decomposed
    ("e" + combining accent, NFD) into the paths its editors export, while Linux and Windows
    tools name files composed (NFC), and Linux compares the bytes: "Café.mov" from a Final Cut
    timeline was offline next to the very file. Both spellings of the whole path are tried.
    """
    for spelling in dict.fromkeys([path, _nfc(path), unicodedata.normalize("NFD", path)]):
        if os.path.isfile(spelling):
            return spelling
    return None


@dataclass(frozen=True)
class Located:
    """Where a reference's media was found, or what was looked for."""

    path: str | None  # local path of the file (or, for an image sequence, its folder)
    looked_for: str  # for the offline message: the path(s) and names tried


def locate_file(referenced: str, base_dir: str, relink: RelinkIndex) -> Located:
    """Resolve a media path or file URL: as written (relative to the timeline), then relinked."""
    local = url_to_path(referenced)
    candidates = []
    if local:
        if os.path.isabs(local) or _WINDOWS_DRIVE.match(local) or local.startswith("//"):
            candidates.append(local)
        else:
            candidates.append(os.path.normpath(os.path.join(base_dir, local)))
    for candidate in candidates:
        found = existing_spelling(candidate)
        if found:
            return Located(os.path.abspath(found), candidate)
    name = file_name(local)
    found = relink.find(name)
    if not found and os.path.splitext(name)[1].lower() not in MEDIA_EXTENSIONS:
        # A file named without a media extension: a clip's name, which is what a clip without
        # media becomes in a project v2a converted it to (Kdenlive), found as that clip was.
        found = relink.find_media_named(name)
    if found:
        return Located(found, candidates[0] if candidates else name)
    return Located(None, _looked_for(candidates, name, relink))


def locate_by_name(names: list[str], relink: RelinkIndex) -> Located:
    """Media for a clip that names no file (a missing reference): search its names."""
    names = [n for n in dict.fromkeys(n.strip() for n in names) if n]
    for name in names:
        found = relink.find_media_named(name)
        if found:
            return Located(found, name)
    tried = " or ".join(repr(n) for n in names) or "(no name)"
    where = relink.describe()
    return Located(
        None,
        f"the timeline names no media file; looked for a file named {tried} "
        f"(any media extension) {where}",
    )


def locate_image_sequence(
    ref: otio.schema.ImageSequenceReference, base_dir: str, relink: RelinkIndex
) -> Located:
    """The folder of an image sequence: as written, or where its first frame is found."""
    folder = url_to_path(ref.target_url_base or "")
    if folder and not (os.path.isabs(folder) or _WINDOWS_DRIVE.match(folder)):
        folder = os.path.normpath(os.path.join(base_dir, folder))
    first = _frame_name(ref, ref.start_frame)
    found = existing_spelling(os.path.join(folder, first)) if folder else None
    if found:
        return Located(os.path.abspath(os.path.dirname(found)), os.path.join(folder, first))
    found = relink.find(first)
    if found:
        return Located(os.path.dirname(found), os.path.join(folder, first))
    return Located(None, _looked_for([os.path.join(folder, first)], first, relink))


def _frame_name(ref: otio.schema.ImageSequenceReference, frame: int) -> str:
    number = str(frame).zfill(ref.frame_zero_padding)
    return f"{ref.name_prefix}{number}{ref.name_suffix}"


def _looked_for(candidates: list[str], name: str, relink: RelinkIndex) -> str:
    at = " and ".join(candidates) if candidates else "(no path)"
    return f"looked for {at}, and for {name!r} {relink.describe()}"


def is_still(path: str) -> bool:
    return Path(path).suffix.lower() in STILL_EXTENSIONS


# --- resolving a clip's media: found, probed, how much of it exists --------------------------


@dataclass(frozen=True)
class ResolvedMedia:
    """A clip's media as found: where, which source seconds exist, and any problem."""

    source: MediaSource
    extent: tuple[Fraction, Fraction] | None  # source seconds that exist, when known
    still: bool = False
    problem: str = ""  # set when the media was found but cannot be used
    status: str = "ok"
    see_through: bool = False  # partly transparent (a logo, a lower third): hides nothing


def unplaced_reason(reference) -> str:
    """Why a reader left a clip without media though it knows the clip's file (metadata
    ["v2a"]["offline"] of a MissingReference), or ""."""
    if not isinstance(reference, otio.schema.MissingReference):
        return ""
    return str(reference.metadata.get("v2a", {}).get("offline", ""))


class MediaResolver:
    """Finds and probes each clip's media; every file is probed once per plan."""

    def __init__(self, base_dir: str, relink: RelinkIndex, probe: Callable) -> None:
        self.base_dir = base_dir
        self.relink = relink
        self.probe = probe
        self._probed: dict[str, object] = {}

    def resolve(self, clip: otio.schema.Clip) -> ResolvedMedia:
        ref = clip.media_reference
        available = available_extent(ref)
        if isinstance(ref, otio.schema.ImageSequenceReference):
            return self._image_sequence(ref, available)
        if isinstance(ref, otio.schema.ExternalReference) and ref.target_url:
            referenced = ref.target_url
            located = locate_file(referenced, self.base_dir, self.relink)
        elif reason := unplaced_reason(ref):
            # A reader that knows why it could not place the clip's file says so: a file found
            # by the clip's name would be played from the wrong place.
            return self._file("", Located(None, reason), available)
        else:  # MissingReference, an empty URL, unknown kinds: search by the clip's names
            referenced = ""
            names = [clip.name, getattr(ref, "name", "") or ""]
            located = locate_by_name(names, self.relink)
        return self._file(referenced, located, available)

    def _file(self, referenced: str, located: Located, available) -> ResolvedMedia:
        media_start = available[0] if available else Fraction(0)
        if located.path is None:
            source = MediaSource(referenced=referenced, path=None, media_start=float(media_start))
            return ResolvedMedia(source, available, status="offline", problem=located.looked_for)
        info = self._probe(located.path)
        if info.still if isinstance(info, MediaInfo) else is_still(located.path):
            # One picture held for the whole clip: only whether it decodes matters.
            source = MediaSource(referenced, located.path, float(media_start))
            if isinstance(info, str):
                return ResolvedMedia(source, None, True, info, "invalid")
            return ResolvedMedia(source, None, still=True, see_through=info.see_through)
        if isinstance(info, str):
            source = MediaSource(referenced, located.path, float(media_start))
            return ResolvedMedia(source, available, problem=info, status="invalid")
        if not available:
            media_start = Fraction(info.start_timecode).limit_denominator(1_000_000)
        # A probe handed in (tests' stand-ins) may give no timecode rate: the rate then.
        source = MediaSource(referenced, located.path, float(media_start),
                             rate=float(getattr(info, "timecode_rate", 0) or info.fps))
        duration = Fraction(info.duration).limit_denominator(1_000_000)
        if duration <= 0:
            return ResolvedMedia(
                source, None, problem=f"{located.path}: media has zero length", status="invalid"
            )
        extent = (media_start, media_start + duration)
        return ResolvedMedia(source, extent, see_through=getattr(info, "see_through", False))

    def _probe(self, path: str):
        if path not in self._probed:
            try:
                self._probed[path] = self.probe(path)
            except MediaError as error:
                self._probed[path] = str(error)
            except Exception as error:  # a broken file must not stop the plan
                self._probed[path] = (
                    f"{path}: cannot read the media ({type(error).__name__}: {error})"
                )
        return self._probed[path]

    def _image_sequence(self, ref, available) -> ResolvedMedia:
        located = locate_image_sequence(ref, self.base_dir, self.relink)
        media_start = available[0] if available else Fraction(0)
        sequence = None
        if located.path is not None:
            sequence = ImageSequence(
                directory=located.path,
                name_prefix=ref.name_prefix,
                name_suffix=ref.name_suffix,
                start_frame=ref.start_frame,
                frame_step=ref.frame_step,
                rate=ref.rate,
                frame_zero_padding=ref.frame_zero_padding,
            )
        source = MediaSource(
            referenced=ref.target_url_base or "",
            path=None,
            media_start=float(media_start),
            rate=ref.rate,
            image_sequence=sequence,
        )
        if sequence is None:
            return ResolvedMedia(source, available, status="offline", problem=located.looked_for)
        # Without an available range the frames on disk say which exist: handles before the
        # first file read frames that are not there, and the clip failed.
        extent = available or sequence_extent(sequence)
        # A render with alpha (titles, CG elements as PNG or EXR frames) is shown over the
        # picture beneath, as a see-through movie is: its first frame tells.
        first = self._probe(sequence.frame_path(sequence.start_frame))
        return ResolvedMedia(source, extent, see_through=getattr(first, "see_through", False))


def available_extent(ref) -> tuple[Fraction, Fraction] | None:
    rng = getattr(ref, "available_range", None)
    if rng is None:
        return None
    start = seconds(rng.start_time)
    return start, start + seconds(rng.duration)


def media_text(source: MediaSource) -> str:
    sequence = source.image_sequence
    if sequence is not None:
        pattern = f"{sequence.name_prefix}#{sequence.name_suffix}"
        return f"image sequence {os.path.join(sequence.directory, pattern)}"
    return source.path or source.referenced


def sequence_extent(sequence: ImageSequence) -> tuple[Fraction, Fraction] | None:
    """Source seconds an image sequence covers, from its first frame file to the last one in
    its folder (source time 0 is the first frame, as without an available range)."""
    numbers = []
    try:
        names = os.listdir(sequence.directory)
    except OSError:
        return None
    prefix, suffix = sequence.name_prefix, sequence.name_suffix
    for name in names:
        digits = name[len(prefix) : len(name) - len(suffix)]
        if name.startswith(prefix) and name.endswith(suffix) and digits.isdigit():
            numbers.append(int(digits))
    step, start = sequence.frame_step or 1, sequence.start_frame
    frames = [n for n in numbers if n >= start and (n - start) % step == 0]
    if not frames:
        return None
    count = (max(frames) - start) // step + 1
    return Fraction(0), count / exact_rate(sequence.rate)


def missing_frame(source: MediaSource, used: tuple[Fraction, Fraction]) -> str:
    """The first frame file of the used range that is not on disk ("" when all are)."""
    sequence = source.image_sequence
    rate = exact_rate(sequence.rate)
    offset = Fraction(source.media_start).limit_denominator(1_000_000)
    first = math.floor((used[0] - offset) * rate)
    last = max(first, math.ceil((used[1] - offset) * rate) - 1)
    for index in range(first, last + 1):  # one gap in the middle fails the clip as surely
        path = sequence.frame_path(sequence.start_frame + index * sequence.frame_step)
        if not os.path.isfile(path):
            return path
    return ""


def frames_on_disk(
    source: MediaSource, used: tuple[Fraction, Fraction], extent: tuple[Fraction, Fraction],
    reach: Fraction,
) -> tuple[Fraction, Fraction]:
    """`extent` cut short at the first frame file missing within `reach` source seconds of the
    used range, on either side: handles and context end there, as at the media's end (a gap in
    a sequence before or after a clip whose own frames are all there failed it at generation)."""
    sequence = source.image_sequence
    rate = exact_rate(sequence.rate)
    offset = Fraction(source.media_start).limit_denominator(1_000_000)

    def present(index: int) -> bool:
        return os.path.isfile(sequence.frame_path(sequence.start_frame + index * sequence.frame_step))

    first = math.floor((used[0] - offset) * rate)
    last = max(first, math.ceil((used[1] - offset) * rate) - 1)
    lowest = math.floor((max(extent[0], used[0] - reach) - offset) * rate)
    highest = math.ceil((min(extent[1], used[1] + reach) - offset) * rate) - 1
    low, high = first, last
    while low > lowest and present(low - 1):
        low -= 1
    while high < highest and present(high + 1):
        high += 1
    start = offset + Fraction(low) / rate if low > lowest else extent[0]
    end = offset + Fraction(high + 1) / rate if high < highest else extent[1]
    return max(start, extent[0]), min(end, extent[1])


# --- rebasing relative references for a timeline written into another folder ------------------

_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def relative_media_path(url: str) -> str | None:
    """The path of a reference written relative to its timeline's folder, else None (an absolute
    path, a Windows drive or UNC path, a remote URL: those mean the same from any folder)."""
    if not url:
        return None
    if _URL_SCHEME.match(url) and not _WINDOWS_DRIVE.match(url):
        if not url.lower().startswith("file:"):
            return None  # http:, s3:, ...
        url = url_to_path(url)
    if os.path.isabs(url) or _WINDOWS_DRIVE.match(url) or url.startswith(("//", "\\\\")):
        return None
    return url


def rebased_url(url: str, from_dir: str, to_dir: str | None) -> str:
    """`url`, relative to `from_dir`, rewritten to name the same file from `to_dir`: a relative
    path where one exists, else an absolute file URL (always one when `to_dir` is None)."""
    relative = relative_media_path(url)
    if relative is None:
        return url
    # Real paths at both ends: the relative path then holds whichever way the folders are reached.
    target = os.path.realpath(os.path.join(from_dir, relative))
    slash = "/" if url.endswith(("/", "\\")) else ""  # an image sequence's folder keeps its slash
    if to_dir is not None:
        to_dir = os.path.realpath(to_dir)
        if to_dir == os.path.realpath(from_dir):
            return url  # written beside its input: nothing moves, the editor's text stays
        if _share_a_folder(target, to_dir):
            return PurePath(os.path.relpath(target, to_dir)).as_posix() + slash
    return otio.url_utils.url_from_filepath(target) + slash


def _share_a_folder(a: str, b: str) -> bool:
    """Whether two paths meet below the root: a relative path that climbs to the root (or to
    another drive, which none can) would break as soon as the output moved, so it is not used."""
    try:
        shared = os.path.commonpath([a, b])
    except ValueError:  # another drive (Windows)
        return False
    return os.path.dirname(shared) != shared


def rebase_media_references(
    timeline: otio.schema.Timeline, from_dir: str, to_dir: str | None
) -> int:
    """Rewrite, in place, every clip's media references (every take, not only the active one)
    that are relative to `from_dir` so they resolve from `to_dir` (see `rebased_url`).
    Returns how many changed."""
    changed = 0
    for reference in _file_references(timeline):
        attribute = _url_attribute(reference)
        url = getattr(reference, attribute)
        new = rebased_url(url, from_dir, to_dir)
        if new != url:
            setattr(reference, attribute, new)
            changed += 1
    return changed


def has_relative_media(timeline: otio.schema.Timeline) -> bool:
    return any(
        relative_media_path(getattr(ref, _url_attribute(ref))) is not None
        for ref in _file_references(timeline)
    )


def _file_references(timeline: otio.schema.Timeline):
    for clip in timeline.find_clips():
        for reference in clip.media_references().values():
            if isinstance(
                reference, (otio.schema.ExternalReference, otio.schema.ImageSequenceReference)
            ):
                yield reference


def _url_attribute(reference) -> str:
    if isinstance(reference, otio.schema.ImageSequenceReference):
        return "target_url_base"
    return "target_url"
