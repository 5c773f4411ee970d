"""`v2a inspect TIMELINE` and `v2a generate TIMELINE --out DIR`: thin layers over the pipeline."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
from collections import Counter
from contextlib import nullcontext

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from v2a.cli import user_error
from v2a.contracts import (
    ClipAddress,
    ClipEvent,
    GenerationCancelled,
    GenerationParams,
    GenerationRequest,
    GenerationResult,
    Selection,
)

# Errors a user can fix (a path, an option, a file): `v2a.cli.user_error`, one line, exit 2.
# `--no-wait` and another run writes into the folder: try again later (sysexits' EX_TEMPFAIL).
FOLDER_BUSY_EXIT = 75


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    inspect = subparsers.add_parser(
        "inspect", help="print the segments v2a would generate for a timeline",
        description="Read the timeline and print one row per visible video clip range v2a "
        "would generate sound for: its id (what generate --clips takes), track, name, record "
        "and source timecode, speed, handles and its media file, or OFFLINE: and where v2a "
        "looked for it (--relink DIR to look further), then the prompts the edit's 'v2a: ...' "
        "markers give. Nothing is generated or written.",
    )
    _add_timeline_options(inspect)
    inspect.set_defaults(func=_inspect)

    generate = subparsers.add_parser(
        "generate",
        help="generate sound for a timeline's clips and write it back as new audio tracks",
        description="Generate sound for each visible video clip and write the timeline, with "
        "a 'V2A SFX' audio track, into --out (same file name and format; where that format "
        "loses part of the result, such as an EDL's audio, the whole result also as an .otio "
        "beside it, and only as .otio where it cannot be written; the summary's note says "
        "why). WAV takes go to OUT/audio/.",
        epilog="Exit status: 0 done, 1 clips were planned but none could be generated (see the "
        "summary), 2 a problem with the input or output (one line on stderr), 130 cancelled "
        "(Ctrl-C), 143 or 129 stopped by SIGTERM or a closed terminal (SIGHUP); stopped, it "
        "leaves the output folder as it found it (stopped while writing, after the .otio beside "
        "an EDL is in place, that .otio and its takes stay, and it says so); 75 with --no-wait, "
        "another v2a run was writing into the output folder.",
    )
    _add_timeline_options(generate)
    generate.add_argument("--out", required=True, metavar="DIR",
                          help="output folder (the timeline keeps its file name in it)")
    generate.add_argument(
        "--no-wait", action="store_true",
        help="where another v2a run (a `v2a generate`, the server) is writing into DIR, exit "
        "at once with status 75 instead of waiting for it to end",
    )
    generate.add_argument(
        "--output-format", default="", metavar="F",
        help="format to write: an adapter's name or an extension (edl, xml, fcpxml, aaf, otio, "
        "otioz…; default: the input's)"
    )
    # One value per flag, repeatable: with nargs="+" the flag swallowed the TIMELINE after it.
    generate.add_argument(
        "--clips",
        "--clip",
        action="append",
        default=[],
        metavar="ID",
        help="only this clip: a clip id (see inspect) or TRACK@SECONDS (repeatable)",
    )
    generate.add_argument(
        "--prompt", default="",
        help="what the sound should be, for every clip (default: each clip's own, from a "
             "marker on it or over it named 'v2a: ...')")
    generate.add_argument(
        "--negative-prompt", default="",
        help="what it should not be (default: each clip's 'v2a not: ...' marker)")
    generate.add_argument(
        "--seed",
        type=int,
        default=None,
        help="noise seed of every clip's sound; default: take n of a clip uses seed n - 1, so "
        "running again on the written timeline adds a new take, not a copy of the last",
    )
    generate.add_argument("--steps", type=int, default=0,
                          help="sampling steps (default: 0, the generator's own)")
    generate.add_argument(
        "--cfg", type=float, default=0.0,
        help="classifier-free guidance (default: 0, the generator's own; 1: none, the conditional "
        "prediction alone)",
    )
    generate.add_argument(
        "--loudness", type=float, default=None, metavar="LUFS",
        help="bring each take to this integrated loudness by one gain, its true peak kept at or "
        "under -1 dBTP (e.g. -23, EBU R 128; -24, ATSC A/85; -14, a web mix); default: each take "
        "as the model made it, a quiet scene quieter than a loud one",
    )
    generate.add_argument(
        "--picture", default="", metavar="FILE.png",
        help="also draw the shots, the sound generated under them and its spectrogram, on the "
        "timeline's timecode, into this PNG (written once the timeline is)",
    )
    generate.add_argument(
        "--stem", default="", metavar="FILE.wav",
        help="also write v2a's sound as the written timeline plays it (each clip's active take, "
        "the crossfades) into one 48 kHz WAV from the timeline's start timecode to the end of "
        "its picture, for a DAW or a format that keeps no audio (written once the timeline is)",
    )
    generate.add_argument(
        "--generator",
        default="default",
        metavar="SPEC",
        help=f"one of: {', '.join(_generator_names())} (default: 'default', the shipped model; "
        "v2a:PATH another checkpoint; silence checks a round trip in seconds; random-sample and "
        "onset-transfer need a corpus, data/corpus or NAME:CORPUS, and ceiling, which needs "
        "reference audio, is for v2a eval only)",
    )
    generate.set_defaults(func=_generate)


def _generator_names() -> list[str]:
    try:
        from model.generators import available_generators

        return available_generators()
    except Exception:  # noqa: BLE001 - help text must not stop the command from starting
        return ["default"]


def _add_timeline_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("timeline", metavar="TIMELINE", help="timeline file (.otio .xml .aaf ...)")
    parser.add_argument("--format", default="", metavar="F",
                        help="the timeline's format: an adapter's name or an extension (default: "
                        "from the file's extension)")
    parser.add_argument("--rate", type=float, default=None, metavar="R",
                        help="a CMX 3600 EDL's frame rate (default: 24; a list does not say "
                        "its own, and the run warns where its media run at another)")
    parser.add_argument(
        "--timeline",
        dest="which_timeline",
        default=None,
        metavar="NAME",
        help="of a file holding several timelines (FCPXML projects, FCP7 XML or AAF sequences, "
        "an .otio collection): this one, by name or index (default: the first)",
    )
    parser.add_argument(
        "--relink",
        action="append",
        type=_folder,
        default=[],
        metavar="DIR",
        help="folder to find media in by file name (repeatable)",
    )
    parser.add_argument(
        "--tracks",
        "--track",
        action="append",
        default=[],
        metavar="T",
        help="only this video track: name or index (repeatable)",
    )
    parser.add_argument(
        "--cut-handle",
        type=_cut_handle_seconds,
        default=GenerationRequest.cut_handle_seconds,
        metavar="S",
        help="seconds of sound generated past each hard cut, crossfaded on the audio track, "
        "rounded to whole frames, at least one (default: %(default)s; 0 for hard audio cuts; "
        f"at most {MAX_CUT_HANDLE_SECONDS:g})",
    )


#: A crossfade at a cut is a few frames; seconds of it would smear one shot's sound into the next.
MAX_CUT_HANDLE_SECONDS = 2.0


def _folder(text: str) -> str:
    """--relink: a folder that exists. A mistyped one was searched in silence, and every clip
    came out offline "under" it."""
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder")
    return text


def _cut_handle_seconds(text: str) -> float:
    """--cut-handle: a number of seconds 0..MAX_CUT_HANDLE_SECONDS (nan, inf and -1 were taken)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= MAX_CUT_HANDLE_SECONDS:  # also false for nan
        raise argparse.ArgumentTypeError(f"{text!r}: seconds from 0 to {MAX_CUT_HANDLE_SECONDS:g}")
    return value


def _request(args: argparse.Namespace, out_dir: str = "") -> GenerationRequest:
    from otio_adapters.read import adapter_name

    options = {"rate": args.rate} if args.rate is not None else {}
    if args.which_timeline is not None:
        options["timeline"] = args.which_timeline
    clips = tuple(ClipAddress.from_text(text) for text in getattr(args, "clips", []))
    return GenerationRequest(
        timeline_path=args.timeline,
        out_dir=out_dir,
        input_format=adapter_name(args.format),
        output_format=adapter_name(getattr(args, "output_format", "")),
        adapter_options=options,
        relink_roots=tuple(args.relink),
        selection=Selection(tracks=tuple(args.tracks), clips=clips),
        cut_handle_seconds=args.cut_handle,
        seed_per_take=getattr(args, "seed", None) is None,
        loudness_target_lufs=getattr(args, "loudness", None),
        params=GenerationParams(
            prompt=getattr(args, "prompt", ""),
            negative_prompt=getattr(args, "negative_prompt", ""),
            seed=0 if getattr(args, "seed", None) is None else args.seed,
            steps=getattr(args, "steps", 0),
            cfg_strength=getattr(args, "cfg", 0.0),
        ),
    )


def _user_errors() -> tuple[type[Exception], ...]:
    from otio_adapters.plan import PlanError
    from otio_adapters.read import TimelineReadError
    from otio_adapters.write import TimelineWriteError
    from v2a.media.errors import MediaError
    from v2a.pipeline import PipelineError

    # OSError: a disk that fills up or a folder that vanishes mid-job.
    return TimelineReadError, PlanError, TimelineWriteError, PipelineError, MediaError, OSError


def _inspect(args: argparse.Namespace) -> int:
    from otio_adapters.inspect import format_plan_table
    from v2a.pipeline import plan_request

    try:
        timeline, segments = plan_request(_request(args))
    except _user_errors() as error:
        return user_error("inspect", error)
    print(format_plan_table(segments, timeline))
    return 0


# The flag that sets each generation parameter, for errors about it.
_PARAM_FLAGS = {"steps": "--steps", "guidance": "--cfg", "seed": "--seed", "prompt": "--prompt",
                "negative_prompt": "--negative-prompt", "takes": "takes",
                "loudness_target_lufs": "--loudness"}


def _generate(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from v2a.files import output_file_problem
    from v2a.folder_lock import FolderBusy, FolderLock
    from v2a.params import loudness_target_violations, violations
    from v2a.pipeline import prepare_generation

    request = _request(args, args.out)
    # Said before any work: a picture or stem that cannot be written once the run ends.
    problems = [output_file_problem(args.picture, "--picture", ".png") if args.picture else "",
                output_file_problem(args.stem, "--stem", ".wav") if args.stem else ""]
    if any(problems):
        return user_error("generate", "; ".join(problem for problem in problems if problem))
    # The bounds the server holds to, checked before any work (a bad value failed every clip).
    problems = violations(asdict(request.params), takes=1)
    problems += loudness_target_violations(request.loudness_target_lufs)
    if problems:
        return user_error("generate", "; ".join(f"{_PARAM_FLAGS[name]} {why}" for name, why in problems))
    try:
        plan = prepare_generation(request)  # what is wrong with the request, said before the load
    except _user_errors() as error:
        return user_error("generate", error)
    if problem := _out_named_as_a_file(request):
        return user_error("generate", problem)
    cancel = threading.Event()
    stopped_by: list[int] = []

    def stop(signum: int, frame) -> None:
        # A closed terminal (SIGHUP) or a supervisor (SIGTERM) killed the run on the spot and
        # left the takes finished so far, named by nothing. As a cancel, they are removed, and a
        # timeline being written is written whole.
        stopped_by.append(signum)
        cancel.set()

    previous = _handle_stop_signals(stop)
    try:
        # Taken before the model loads: a run that must wait says so at once, and one that
        # waited plans again what the other run wrote meanwhile.
        folder = FolderLock(request.out_dir, f"v2a generate {request.timeline_path}")
        try:
            waited = folder.acquire(wait=not args.no_wait, cancel=cancel,
                                    on_wait=_say_waiting(request))
        except FolderBusy as busy:
            print(f"v2a generate: {busy}; run again once it has ended, or without --no-wait to "
                  "wait for it", file=sys.stderr)
            return FOLDER_BUSY_EXIT
        except GenerationCancelled:
            print(f"v2a generate: stopped by {signal.Signals(stopped_by[0]).name} while waiting;"
                  " nothing written", file=sys.stderr)
            return 128 + stopped_by[0]
        except KeyboardInterrupt:  # Ctrl-C is no stop signal here: Python raises it instead
            print("\nv2a generate: cancelled while waiting for the output folder; nothing written",
                  file=sys.stderr)
            return 128 + signal.SIGINT
        except _user_errors() as error:  # the folder could not be made to hold its lock
            return user_error("generate", error)
        try:
            return _generate_holding_the_folder(args, request, None if waited else plan, cancel,
                                                stopped_by)
        finally:
            folder.release()
    finally:
        for signum, handler in previous.items():
            # None: a handler set outside Python, which cannot be set again from here.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def _out_named_as_a_file(request: GenerationRequest) -> str:
    """Why --out, named as a timeline file ("--out cut_sfx.otio"), is taken for the file to
    write and not the folder: "" if it is not, or is a folder already there. Such a folder held
    the timeline and audio/, and an editor's application then failed to open it as a file."""
    from otio_adapters.read import FORMAT_BY_EXTENSION
    from v2a.pipeline import output_paths

    out = request.out_dir
    stem, extension = os.path.splitext(os.path.normpath(out))
    if extension.lower() not in FORMAT_BY_EXTENSION or os.path.isdir(out):
        return ""
    return (f"--out {out}: the folder to write into, not a timeline file (v2a would write "
            f"{output_paths(request)[1]}); name a folder, such as {stem}")


def _say_waiting(request: GenerationRequest):
    """What a run waiting for its output folder prints, once per run it waits for."""
    def say(holder) -> None:
        who = holder or "it has not said which"
        print(f"v2a generate: waiting: another v2a run ({who}) is writing into {request.out_dir}; "
              "this one starts when it ends (Ctrl-C to give up, --no-wait not to wait)",
              file=sys.stderr, flush=True)
    return say


def _generate_holding_the_folder(args: argparse.Namespace, request: GenerationRequest, plan,
                                 cancel: threading.Event, stopped_by: list[int]) -> int:
    from model.generators import load_generator
    from v2a.pipeline import files_kept, prepare_generation, run_generation

    # Importing torch and loading the checkpoint take seconds with nothing on screen otherwise.
    print(f"v2a generate: loading generator {args.generator!r}", file=sys.stderr, flush=True)
    try:
        generator = load_generator(args.generator)
    except Exception as error:  # noqa: BLE001 - unknown name, missing or broken checkpoint
        return user_error("generate", f"cannot load generator {args.generator!r}: {error}")
    progress = _Progress()
    # Log lines while the bars are shown (the model's "drawing them again") go above them
    # through tqdm: printed as they were, they landed on the bars' line.
    shown_above_bars = logging_redirect_tqdm() if progress.interactive else nullcontext()
    try:
        with shown_above_bars:
            if plan is None:  # it waited for the folder: planned again on what it holds now
                plan = prepare_generation(request)
            result = run_generation(request, generator, progress.on_event, cancel, plan)
    except _user_errors() as error:
        progress.close()
        return user_error("generate", error)
    except (KeyboardInterrupt, GenerationCancelled) as error:
        cancel.set()
        progress.close()
        why = f"stopped by {signal.Signals(stopped_by[0]).name}" if stopped_by else "cancelled"
        print(f"v2a generate: {why}; {_left_on_disk(request, files_kept(error))}", file=sys.stderr)
        return 128 + (stopped_by[0] if stopped_by else signal.SIGINT)
    progress.close()
    _print_summary(result, generator.name)
    if args.picture and result.generated:
        _draw_picture(args.picture, plan, result, generator.name)
    elif args.picture:
        print("v2a generate: no picture drawn: no take was generated", file=sys.stderr)
    if args.stem and result.timeline_path:
        _write_stem(args.stem, result)
    elif args.stem:
        print("v2a generate: no stem written: no timeline was written", file=sys.stderr)
    generated = len(result.generated)
    return 0 if generated or not result.clips else 1


def _draw_picture(path: str, plan, result: GenerationResult, generator: str) -> None:
    """--picture: drawn after the timeline is written; one that cannot be drawn is said, and
    leaves the run's result as it is."""
    from otio_adapters.plan import timeline_start
    from v2a.result_picture import draw_result_picture

    names = {event.clip_id: event.clip_name for event in result.clips}
    title = (f"{os.path.basename(result.timeline_path)}: {len(result.generated)} take(s) "
             f"generated with {generator}")
    print("v2a generate: drawing the picture", file=sys.stderr, flush=True)
    try:
        draw_result_picture(path, plan.segments, result.generated, names,
                            timeline_start(plan.timeline), title)
    except Exception as error:  # noqa: BLE001 - the timeline is written whatever happens here
        print(f"v2a generate: the picture was not drawn ({type(error).__name__}: {error})",
              file=sys.stderr)
        return
    print(f"picture: {path}")


def _write_stem(path: str, result: GenerationResult) -> None:
    """--stem: rendered from the timeline as written (the .otio beside it where the format
    loses part of the result), so it plays what the editor's timeline plays; one that cannot be
    written is said, and leaves the run's result as it is."""
    from otio_adapters.stem import write_stem_of_file

    print("v2a generate: writing the stem", file=sys.stderr, flush=True)
    try:
        loudness = write_stem_of_file(result.fallback_otio_path or result.timeline_path, path)
    except Exception as error:  # noqa: BLE001 - the timeline is written whatever happens here
        print(f"v2a generate: the stem was not written ({type(error).__name__}: {error})",
              file=sys.stderr)
        return
    print(f"stem: {path} ({loudness.text()})")


def _left_on_disk(request: GenerationRequest, kept: tuple[str, ...]) -> str:
    """What a stopped run left in its output folder, said as it is: a stop while the timeline
    was written can come after the .otio beside an EDL is in place, which keeps this run's takes
    (it names them), and "no timeline written" sent people to run again for nothing; a stop
    before leaves an earlier run's result there as it was (it names it)."""
    from v2a.pipeline import AUDIO_FOLDER, output_paths, timeline_files

    if not kept:
        # An earlier run's timeline there is untouched: said, since "no timeline written" left
        # an editor wondering whether that one was gone too.
        earlier = [path for path in timeline_files(output_paths(request)[1]) if os.path.exists(path)]
        return "no timeline written and no take kept" + (
            f"; the earlier result, {' and '.join(earlier)}, is as it was" if earlier else "")

    missing = [path for path in timeline_files(output_paths(request)[1]) if path not in kept]
    audio = os.path.join(request.out_dir, AUDIO_FOLDER)
    names = "it names" if len(kept) == 1 else "they name"
    return (f"{' and '.join(kept)} written, with the takes {names} in {audio}"
            + (f"; {', '.join(missing)} not written" if missing else ""))


#: The signals `v2a generate` stops on as on a cancel: a supervisor's, a closed terminal's
#: (Windows has no SIGHUP).
_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _handle_stop_signals(stop) -> dict:
    """Set `stop` as the handler of `_STOP_SIGNALS`; returns the handlers it replaced. Only the
    main thread may set one: from another (`main()` called in a program's worker thread) the
    signals stay the program's, and the run stops as the program stops it. Setting them there
    raised ValueError once the model had loaded, and the run never started."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, stop) for signum in _STOP_SIGNALS}


class _Progress:
    """On a terminal, two tqdm bars: clips done, and steps within the clip being generated. In a
    log (stderr not a terminal) each refresh would be a line of its own, so one line per clip."""

    def __init__(self) -> None:
        self.interactive = sys.stderr.isatty()
        self.clips: tqdm | None = None  # made on the first event: no bar before an early error
        self.steps: tqdm | None = None
        self.planned = self.ended = 0  # the log lines' count

    def on_event(self, event: ClipEvent) -> None:
        if not self.interactive:
            self._log_line(event)
            return
        if self.clips is None:
            self.clips = tqdm(total=0, unit="clip", desc="clips", position=0, leave=True)
        if event.state == "queued":
            self.clips.total += 1
            self.clips.refresh()
        elif event.state == "running":
            if self.steps is None:
                self.steps = tqdm(total=0, unit="step", desc="", position=1, leave=False)
            # One refresh per event: in a log (not a terminal) each refresh is a printed line.
            self.steps.set_description_str(event.clip_name[:30], refresh=False)
            if event.total_steps:
                self.steps.total = event.total_steps
                self.steps.n = event.step
            self.steps.refresh()
        else:
            if self.steps is not None:
                self.steps.close()
                self.steps = None
            self.clips.update(1)

    def _log_line(self, event: ClipEvent) -> None:
        if event.state == "queued":
            self.planned += 1
        elif event.state != "running":
            self.ended += 1
            percent = 100 * self.ended // max(1, self.planned)
            said = f", {event.message}" if event.state == "done" and event.message else ""
            print(f"clips: {percent:3d}% {self.ended}/{self.planned} {event.clip_name}: "
                  f"{event.state}{said}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.steps is not None:
            self.steps.close()
        if self.clips is not None:
            self.clips.close()


def _print_summary(result: GenerationResult, generator: str) -> None:
    by_state: dict[str, list[ClipEvent]] = {}
    for event in result.clips:
        by_state.setdefault(event.state, []).append(event)
    done = by_state.get("done", [])
    print(f"generated {len(done)} clip(s) with {generator}")
    if levels := _levels(result):
        print(levels)
    for state in ("skipped", "failed"):
        events = by_state.get(state, [])
        print(f"{state} {len(events)} clip(s)" + (":" if events else ""))
        for event in events:
            print(f"  {event.clip_name} [{event.clip_id}]: {event.message}")
    print(f"timeline: {result.timeline_path or 'not written'}")
    if result.format_note:
        print(f"note: {result.format_note}")


def _levels(result: GenerationResult) -> str:
    """The takes' loudness as an audio post engineer scans it: the span of integrated
    loudness, the quietest and loudest take, the highest true peak ('' without takes)."""
    takes = [(audio.provenance.get("loudness_lufs"), audio.provenance.get("source_clip", ""),
              audio.provenance.get("true_peak_dbtp")) for audio in result.generated]
    measured = sorted((lufs, name) for lufs, name, _ in takes if lufs is not None)
    peaks = [peak for _, _, peak in takes if peak is not None]
    if not peaks:
        return ""
    parts = []
    if measured:
        (low, quiet), (high, loud) = measured[0], measured[-1]
        if low != high:
            parts.append(f"{low:.1f} ({quiet}) to {high:.1f} LUFS ({loud})")
        else:  # one take, or every take alike (brought to a target): naming one misled
            parts.append(f"{low:.1f} LUFS ({quiet})" if len(measured) == 1
                         else f"{low:.1f} LUFS (all {len(measured)} takes)")
    parts.append(f"true peak at most {max(peaks):.1f} dBTP")
    return "levels: " + ", ".join(parts) + _normalization_summary(result)


def _normalization_summary(result: GenerationResult) -> str:
    """`; brought to -23 LUFS, 1 take held under it by its true peak` ('' without a loudness
    target): which takes did not reach the target an engineer asked for, and why."""
    from v2a.media.loudness import TRUE_PEAK_CEILING

    targets = sorted({audio.provenance["loudness_target_lufs"] for audio in result.generated
                      if "loudness_target_lufs" in audio.provenance})
    if not targets:
        return ""
    missed = Counter(audio.provenance.get("loudness_target_missed_by") for audio in result.generated)
    missed.pop(None, None)
    text = f"; brought to {', '.join(f'{target:g}' for target in targets)} LUFS"
    for reason, count in sorted(missed.items()):
        text += (f", {count} take(s) held under it by the {TRUE_PEAK_CEILING:g} dBTP true peak ceiling"
                 if reason == "true peak" else f", {count} take(s) left as made ({reason})")
    return text

