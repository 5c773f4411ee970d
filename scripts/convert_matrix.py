"""Every fixture timeline written in every format v2a writes: what comes back.

For each real editor export in ../shared/fixtures/timelines and each output format, run the
whole job (stand-in media, the tests' sine generator) with `--output-format`, read the written
file back with its own reader and print, as a Markdown table, the editor's video clips it holds
against the source's. A cell reads:
- `N` (`K off`): video clips read back (of them disabled), every nested one counted;
- `≠`: the picture v2a plans from the written file (where each visible stretch sits, which file,
  first frame and speed it shows) is not the source's;
- `~`: the same frames of the same files shown, through each transition too, but a cut inside a
  dissolve placed elsewhere (a CMX 3600 dissolve has no cut point: its reader cuts where the
  dissolve starts);
- `n`: the result carries a note (what the format could not hold, where the full .otio is);
- `.otio only`: the format could not be written, only the .otio (the note says why);
- `unreadable`: written, but its reader cannot read it back.

Run from the repository root: `python scripts/convert_matrix.py [-v] [FIXTURE-SUBSTRING...]`
(-v prints each cell's note too). About 150 s on the shared 2-core machine.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

sys.path[0:0] = [os.getcwd(), os.path.join(os.getcwd(), "tests")]

from generator_doubles import SineGenerator  # noqa: E402

from otio_adapters.plan import is_enabled, plan_segments  # noqa: E402
from otio_adapters.read import format_for_path, read_timeline  # noqa: E402
from otio_adapters.standin_media import synthesize_media  # noqa: E402
from otio_adapters.takes import find_v2a_tracks  # noqa: E402
from otio_adapters.write import edit_rate  # noqa: E402
from v2a.contracts import GenerationParams, GenerationRequest  # noqa: E402
from v2a.pipeline import run_generation  # noqa: E402

FIXTURES = Path(os.getcwd()).parent / "shared" / "fixtures" / "timelines"
OPTIONS = {"cmx3600_edl/25fps.edl": {"rate": 25}}
FORMATS = ["otio_json", "fcp_xml", "fcpx_xml", "cmx_3600", "AAF", "kdenlive"]


def video_clips(timeline) -> tuple[int, int]:
    """(the editor's video clips, of them disabled or on a disabled track); a nested one
    counts, not the sound of a compound clip on a video track."""
    ours = find_v2a_tracks(timeline, "SFX")
    total = off = 0
    for track in timeline.video_tracks():
        if any(track is mine for mine in ours):
            continue
        for clip in track.find_clips():
            if getattr(clip.parent(), "kind", track.kind) != track.kind:
                continue
            total += 1
            off += not (is_enabled(clip) and is_enabled(track))
    return total, off


def picture(timeline, path, media) -> tuple[list, list] | str:
    """(each planned stretch: where it sits, its file, first frame and speed; each with the
    frames it shows through transitions, its handles: where a cut inside a dissolve lies is a
    reader's choice, a CMX 3600 dissolve says none)."""
    try:
        segments = plan_segments(timeline, timeline_path=str(path), relink_roots=(str(media),))
    except Exception as error:  # noqa: BLE001 - reported in the cell
        return f"plan failed: {error}"
    name = [Path(s.media.path or s.media.referenced).name.split(".")[0] for s in segments]
    cut = sorted((s.start_sample, s.num_samples, n, round(s.source_start, 2), round(s.speed, 3))
                 for s, n in zip(segments, name, strict=True))
    shown = sorted((s.start_sample - s.handle_before_samples,
                    s.num_samples + s.handle_before_samples + s.handle_after_samples, n,
                    round(s.source_start - s.speed * s.handle_before_samples / 48000, 2),
                    round(s.speed, 3))
                   for s, n in zip(segments, name, strict=True))
    return cut, shown


def cell(name, fmt, source, media, out) -> tuple[str, str]:
    options = OPTIONS.get(name, {})
    request = GenerationRequest(
        timeline_path=str(FIXTURES / name), out_dir=str(out), adapter_options=options,
        relink_roots=(str(media),), params=GenerationParams(seed=7), output_format=fmt)
    try:
        result = run_generation(request, SineGenerator())
    except Exception as error:  # noqa: BLE001 - reported in the cell
        return "error", str(error)
    if not result.timeline_path:
        return "not written", result.format_note
    if format_for_path(result.timeline_path) != fmt:
        return ".otio only", result.format_note
    rate = options or {"rate": edit_rate(source)}
    try:
        back = read_timeline(result.timeline_path, fmt, rate if fmt == "cmx_3600" else {})
    except Exception as error:  # noqa: BLE001 - reported in the cell
        return "unreadable", str(error)
    total, off = video_clips(back)
    text = f"{total}" + (f" ({off} off)" if off else "")
    written = picture(back, result.timeline_path, media)
    read = picture(source, FIXTURES / name, media)
    if isinstance(written, str) or written[0] != read[0]:
        same_frames = not isinstance(written, str) and written[1] == read[1]
        text += " ~" if same_frames else " ≠"
    return text + (" n" if result.format_note else ""), result.format_note


def main() -> None:
    logging.disable(logging.WARNING)
    verbose = "-v" in sys.argv
    wanted = [arg for arg in sys.argv[1:] if arg != "-v"]
    names = sorted(
        str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("*/*")
        if p.suffix in (".otio", ".xml", ".fcpxml", ".aaf", ".edl") and "mismatch" not in p.name
    )
    root = Path(tempfile.mkdtemp(prefix="convert-matrix-"))
    print("| source | video clips | " + " | ".join(FORMATS) + " |")
    print("|" + " --- |" * (len(FORMATS) + 2))
    for name in names:
        if wanted and not any(part in name for part in wanted):
            continue
        source = read_timeline(FIXTURES / name, options=OPTIONS.get(name))
        media = root / "media" / name
        media.mkdir(parents=True)
        synthesize_media(source, str(media))
        total, off = video_clips(source)
        cells = [cell(name, fmt, source, media, root / name / fmt) for fmt in FORMATS]
        print(f"| {name} | {total}" + (f" ({off} off)" if off else "") + " | "
              + " | ".join(text for text, _ in cells) + " |", flush=True)
        if verbose:
            for fmt, (_, note) in zip(FORMATS, cells, strict=True):
                if note:
                    print(f"    {fmt}: {note}")


if __name__ == "__main__":
    main()
