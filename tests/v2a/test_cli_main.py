"""The `v2a` command's own behaviour, whatever the subcommand."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "sample.otio"


def _generate_script(out: Path, generator: str) -> str:
    """Python source running `v2a generate SAMPLE --out OUT` with `generator`, lines that define
    `load(spec)`, in place of the model's loader (the tests' generator doubles importable)."""
    return (
        "import sys, time\n"
        f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        f"{generator}"
        "import model.generators\n"
        "model.generators.load_generator = load\n"
        "from v2a.cli import main\n"
        f"sys.exit(main(['generate', {str(SAMPLE)!r}, '--out', {str(out)!r}]))\n"
    )


def _v2a(*args: str):
    """`v2a ARGS` run in a Python of its own: the finished process, its output as text."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-c", "import sys; from v2a.cli import main; sys.exit(main())", *args],
        capture_output=True, text=True, timeout=120)


def test_a_reader_that_closes_the_pipe_early_is_not_a_traceback():
    """`v2a client get ID | head` ended in a BrokenPipeError traceback."""
    import subprocess
    import sys

    script = (
        "import otio_adapters.cli as c, sys\n"
        "def flood(args):\n"
        "    for i in range(200000):\n"
        "        print('line', i)\n"
        "c._inspect = flood\n"
        "from v2a.cli import main\n"
        "sys.exit(main(['inspect', 'x.otio']))\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    writer.stdout.readline()
    writer.stdout.close()  # the reader goes away after one line, as `head -1` does
    stderr = writer.stderr.read().decode()
    assert writer.wait(30) == 141 and "Traceback" not in stderr, stderr


def test_generate_refuses_out_of_range_parameters_before_any_work(tmp_path, capsys):
    """--cfg nan sampled near-silence and --steps past 1,000 ran out of memory; the server refuses
    them at CreateJob, and generate now says which flag before it reads the timeline."""
    from v2a.cli import main

    out = tmp_path / "out"
    assert main(["generate", str(SAMPLE), "--out", str(out), "--steps", "5000", "--cfg", "nan"]) == 2
    error = capsys.readouterr().err
    assert "--steps 5000: 0..1000" in error and "--cfg nan" in error
    assert not out.exists()
    # A loudness target of +3 LUFS (a sign dropped) or nan: said before the model loads.
    for bad in ("3", "nan"):
        assert main(["generate", str(SAMPLE), "--out", str(out), "--loudness", bad]) == 2
        assert f"--loudness {float(bad)}: LUFS from -60 to -5" in capsys.readouterr().err
        assert not out.exists()


def test_cut_handle_must_be_seconds_in_range(capsys):
    """--cut-handle nan and inf ended in a traceback; -1 was taken silently as 0."""
    import pytest

    from v2a.cli import main

    for bad in ("nan", "inf", "-1", "3", "x"):
        with pytest.raises(SystemExit) as exit_:
            main(["inspect", "any.otio", "--cut-handle", bad])
        assert exit_.value.code == 2
        assert f"--cut-handle: '{bad}': seconds from 0 to 2" in capsys.readouterr().err


def _interrupt(script: str, signum: int | None = None) -> tuple[int, str]:
    """Run `script` in a Python of its own, send it `signum` (Ctrl-C's SIGINT by default) once
    it prints a line, and return its exit status and stderr."""
    import signal
    import subprocess
    import sys

    # SIGINT handled as in a Python a shell starts, whatever pytest's own is (a CI runner in the
    # background ignores it). Set in the script, not by a preexec_fn: that makes Popen fork rather
    # than vfork, and the fork runs gRPC's fork handlers (the server tests leave gRPC running in
    # this process), whose poller thread in the child aborted on the descriptors closed before
    # exec about once in 100 starts ("Epoll1Poller ... epoll_wait error: Bad file descriptor").
    script = f"import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n{script}"
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline(), process.stderr.read()
        process.send_signal(signal.SIGINT if signum is None else signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    return process.returncode, stderr


def test_ctrl_c_while_the_model_loads_is_no_traceback(tmp_path):
    """Ctrl-C before the first clip (torch importing, the checkpoint loading: seconds on a
    laptop) ended in a KeyboardInterrupt traceback and a status of -2."""
    slow_load = (
        "def load(spec):\n"
        "    print('loading', flush=True)\n"
        "    time.sleep(60)\n"
    )
    status, stderr = _interrupt(_generate_script(tmp_path / "out", slow_load))
    assert status == 130 and "Traceback" not in stderr, stderr
    assert "v2a generate: interrupted" in stderr
    assert not (tmp_path / "out").exists()


def test_ctrl_c_while_waiting_for_the_folder_says_nothing_was_written(tmp_path):
    """Ctrl-C while another run held the output folder said only "v2a generate: interrupted",
    where SIGTERM there said the run gave up waiting and wrote nothing."""
    out = tmp_path / "out"
    held_by_another_run = (
        "import threading\n"
        "from v2a.folder_lock import FolderLock\n"
        "holding = threading.Event()\n"
        f"lock = FolderLock({str(out)!r}, 'the other run')\n"
        "def hold():\n"
        "    lock.acquire()\n"
        "    holding.set()\n"
        "    time.sleep(120)\n"
        "threading.Thread(target=hold, daemon=True).start()\n"
        "holding.wait()\n"
        "import otio_adapters.cli\n"
        "otio_adapters.cli._say_waiting = lambda request: lambda holder: print('waiting',"
        " flush=True)\n"
        "def load(spec):\n"
        "    raise AssertionError('the model loads only once the folder is free')\n"
    )
    status, stderr = _interrupt(_generate_script(out, held_by_another_run))
    assert status == 130 and "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == (
        "v2a generate: cancelled while waiting for the output folder; nothing written")


# A generator module for `_generate_script`: it says "second clip" and waits there, for a
# signal to arrive mid-run.
STOPS_AT_THE_SECOND_CLIP = (
    "from generator_doubles import SineGenerator\n"
    "class StopsAtTheSecondClip(SineGenerator):\n"
    "    def generate(self, *args, **kwargs):\n"
    "        if self.calls == 1:\n"
    "            print('second clip', flush=True)\n"
    "            time.sleep(60)\n"
    "        return super().generate(*args, **kwargs)\n"
    "def load(spec):\n"
    "    return StopsAtTheSecondClip()\n"
)


def test_ctrl_c_midway_leaves_nothing_and_a_run_again_starts_at_take_1(tmp_path):
    """Ctrl-C after the first of the sample's four clips: its take stayed in OUT/audio, named by
    no timeline, and the next run gave that clip take 2 (seed 1), not the sound an uninterrupted
    run gives."""
    import os

    out = tmp_path / "out"
    status, stderr = _interrupt(_generate_script(out, STOPS_AT_THE_SECOND_CLIP))
    assert status == 130 and "Traceback" not in stderr, stderr
    assert "v2a generate: cancelled" in stderr
    assert not out.exists()

    from v2a.cli import main  # the run again, in this process: what it numbers is checked

    assert main(["generate", str(SAMPLE), "--out", str(out), "--generator", "silence"]) == 0
    assert sorted(name.rsplit("_", 1)[1] for name in os.listdir(out / "audio")) == ["take1.wav"] * 4


def test_generate_says_what_the_format_loses_once(tmp_path):
    """The note on what an EDL cannot carry came as a log warning and again in the summary."""
    run = _v2a("generate", str(SAMPLE), "--out", str(tmp_path / "out"),
               "--output-format", "cmx_3600", "--generator", "silence")
    assert run.returncode == 0, run.stderr
    said = run.stdout + run.stderr
    assert said.count("the full result is in") == 1, said
    assert "note: the CMX 3600 EDL carries" in run.stdout


def test_generate_says_it_is_loading_the_model_before_the_silent_seconds(tmp_path):
    """Loading the default model took 4 to 6 s on the 2-core machine with nothing on screen."""
    import subprocess
    import sys

    script = _generate_script(tmp_path / "out", "def load(spec):\n    time.sleep(10)\n")
    process = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    try:
        first = process.stderr.readline()  # while the load still runs
    finally:
        process.kill()
        process.wait()
    assert first.strip() == "v2a generate: loading generator 'default'"


def test_a_misspelt_timeline_is_said_before_the_model_loads(tmp_path, capsys, monkeypatch):
    """A wrong path, a timeline with no picture, an unknown --output-format waited for the model
    to load (4 to 6 s on the 2-core machine) before their one line."""
    import model.generators
    from v2a.cli import main

    loaded = []
    monkeypatch.setattr(model.generators, "load_generator", lambda spec: loaded.append(spec))
    for argv in ([str(tmp_path / "cut.otio")],
                 [str(SAMPLE), "--output-format", "fcpx"],
                 [str(SAMPLE), "--clips", "nosuchclip"]):
        assert main(["generate", *argv, "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("v2a generate: error: ") and err.count("\n") == 1, err
    assert loaded == [] and not (tmp_path / "out").exists()


def test_an_out_named_as_a_timeline_file_is_refused_unless_the_folder_is_there(tmp_path, capsys):
    """`--out cut_sfx.otio`, read as the file to write, made a folder of that name holding
    sample.otio and audio/: a folder an editor's application then fails to open as a timeline."""
    from v2a.cli import main

    named_as_a_file = tmp_path / "cut_sfx.otio"
    assert main(["generate", str(SAMPLE), "--out", str(named_as_a_file),
                 "--generator", "silence"]) == 2
    err = capsys.readouterr().err
    assert err == (f"v2a generate: error: --out {named_as_a_file}: the folder to write into, not "
                   f"a timeline file (v2a would write {named_as_a_file / 'sample.otio'}); name a "
                   f"folder, such as {tmp_path / 'cut_sfx'}\n")
    assert not named_as_a_file.exists()

    already = tmp_path / "exports.xml"  # a folder of that name that is there: the user's choice
    already.mkdir()
    assert main(["generate", str(SAMPLE), "--out", str(already), "--generator", "silence"]) == 0
    assert (already / "sample.otio").is_file()


def test_help_says_what_v2a_does_and_explains_every_option():
    """`v2a --help` opened on a note about the code's modules, and `eval --corpus`, `--split`,
    `--out`, `data build --out`, `--seed`, `--workers`… had no line in their help at all, nor
    `v2a client submit`'s TIMELINE or the JOB_ID of `watch`, `get`, `result`…"""
    import argparse

    from v2a.cli import build_parser

    parser = build_parser()
    assert "timeline" in parser.description and "module" not in parser.description
    unexplained = []

    def walk(parser: argparse.ArgumentParser, command: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{command} {name}")
            elif not isinstance(action, argparse._HelpAction) and not action.help:
                unexplained.append(f"{command} {'/'.join(action.option_strings) or action.dest}")

    walk(parser, "v2a")
    assert unexplained == []


def test_inspect_help_says_what_its_table_is_for():
    """`v2a inspect --help` had no description: nothing said its first column is the id that
    `generate --clips` takes, or that it reads the timeline and finds media without generating."""
    from v2a.cli import build_parser

    [inspect] = [action.choices["inspect"] for action in build_parser()._actions
                 if getattr(action, "choices", None) and "inspect" in action.choices]
    said = " ".join(inspect.format_help().split())
    assert "--clips" in said and "OFFLINE" in said and "Nothing is generated" in said, said


def test_a_relink_folder_that_is_not_there_is_refused(tmp_path, capsys):
    """A mistyped --relink was searched in silence: every clip offline 'under' it, after the
    model had loaded, and nothing said the folder did not exist."""
    import pytest

    from v2a.cli import main

    (tmp_path / "shot.mov").write_bytes(b"")
    for given in (tmp_path / "Medai", tmp_path / "shot.mov"):
        with pytest.raises(SystemExit) as exit_:
            main(["inspect", "cut.otio", "--relink", str(given)])
        assert exit_.value.code == 2
        assert f"--relink: '{given}' is not a folder" in capsys.readouterr().err


def test_formats_named_as_people_type_them_are_read_and_written_in_that_format(tmp_path, capsys):
    """`--format otio` (taken by the reader, as `edl` or `xml` are) generated every clip, then
    asked for an adapter 'otio' to write with and wrote an .otio 'instead', the adapter's error
    as the reason; `--output-format edl` was refused after the timeline was read."""
    import shutil

    from v2a.cli import main

    samples = SAMPLE.parent
    renamed = tmp_path / "cut.json"  # an .otio under another extension, named by --format
    shutil.copy(samples / "sample.otio", renamed)
    shutil.copytree(samples / "media", tmp_path / "media")
    base = ["generate", str(renamed), "--format", "otio", "--generator", "silence"]

    assert main([*base, "--out", str(tmp_path / "same")]) == 0
    out = capsys.readouterr().out
    assert f"timeline: {tmp_path / 'same' / 'cut.json'}" in out and "note:" not in out

    assert main([*base, "--out", str(tmp_path / "edl"), "--output-format", "edl"]) == 0
    assert f"timeline: {tmp_path / 'edl' / 'cut.edl'}" in capsys.readouterr().out


def test_a_run_stopped_by_sigterm_or_a_closed_terminal_leaves_nothing(tmp_path):
    """SIGTERM (a supervisor, `timeout`) and SIGHUP (the terminal closed) killed `v2a generate`
    on the spot: the takes finished so far stayed in OUT/audio, named by no timeline."""
    import signal

    slow_from_the_second_clip = (
        "from generator_doubles import SineGenerator\n"
        "def on_step(call, step):\n"
        "    if call == 2:\n"
        "        print('second clip', flush=True) if step == 0 else None\n"
        "        time.sleep(0.05)\n"
        "def load(spec):\n"
        "    return SineGenerator(steps=1000, on_step=on_step)\n"
    )
    for signum in (signal.SIGTERM, signal.SIGHUP):
        out = tmp_path / signum.name
        status, stderr = _interrupt(_generate_script(out, slow_from_the_second_clip), signum)
        assert status == 128 + signum, stderr
        assert f"stopped by {signum.name}; no timeline written" in stderr
        assert not out.exists()


def test_generate_runs_from_a_worker_thread_and_leaves_the_signal_handlers_as_found(tmp_path):
    """`main()` from a thread other than the main one (v2a inside another program) raised
    ValueError setting its SIGTERM handler, once the model had loaded: nothing was generated."""
    import signal
    import threading

    from v2a.cli import main

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)
    statuses, failures = [], []

    def run(out: Path) -> None:
        try:
            statuses.append(
                main(["generate", str(SAMPLE), "--out", str(out), "--generator", "silence"]))
        except Exception as error:  # noqa: BLE001 - what the thread raised, for the assert
            failures.append(error)

    worker = threading.Thread(target=run, args=(tmp_path / "from_thread",))
    worker.start()
    worker.join(120)
    assert not failures and statuses == [0], failures
    assert (tmp_path / "from_thread" / "sample.otio").is_file()

    run(tmp_path / "from_main")  # the main thread's run sets its own handlers, then puts these back
    assert statuses == [0, 0], failures
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)) == before


def test_a_stop_after_the_otio_beside_an_edl_is_written_says_what_is_on_disk(
        tmp_path, capsys, stop_at_the_edls_rename):
    """Ctrl-C between the .otio beside an EDL and the EDL: the .otio and the takes it names stay,
    but `v2a generate` said "no timeline written and no take kept"."""
    import opentimelineio as otio

    from v2a.cli import main

    out = tmp_path / "out"
    status = main(["generate", str(SAMPLE), "--out", str(out), "--output-format", "edl",
                   "--generator", "silence"])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 130
    assert not (out / "sample.edl").exists()
    takes = sorted(path.name for path in (out / "audio").iterdir())
    named = {clip.media_reference.target_url.rsplit("/", 1)[-1]
             for clip in otio.adapters.read_from_file(str(out / "sample.otio")).find_clips()
             if clip.media_reference.target_url.startswith("file:")
             and clip.media_reference.target_url.endswith(".wav")}
    assert takes and set(takes) == named
    assert error == (f"v2a generate: cancelled; {out / 'sample.otio'} written, with the takes it "
                     f"names in {out / 'audio'}; {out / 'sample.edl'} not written")


def test_a_run_on_the_otio_left_by_a_stop_before_the_lists_rename_writes_into_the_list(
        tmp_path, capsys, monkeypatch, stop_before_the_edls_rename):
    """A re-run on the editor's list in v2a's folder, stopped (Ctrl-C) after the .otio beside it
    was renamed into place and before the list was: the .otio (what a restarted server keeps as
    the job's result) recorded the list as staged, which never landed, and a regeneration on it
    found the list "changed since v2a read it" and wrote the .otio alone."""
    import shutil
    from pathlib import Path

    import opentimelineio as otio

    from otio_adapters.takes import find_v2a_tracks
    from v2a.cli import main

    samples = Path(__file__).resolve().parents[2] / "samples"
    project, out = tmp_path / "project", tmp_path / "out"
    shutil.copytree(samples / "media", project / "media")
    otio.adapters.write_to_file(otio.adapters.read_from_file(str(samples / "sample.otio")),
                                str(project / "cut.edl"), adapter_name="cmx_3600")
    listed, beside = out / "cut.edl", out / "cut.otio"
    common = ["--out", str(out), "--generator", "silence"]
    assert main(["generate", str(project / "cut.edl"), "--rate", "24", *common]) == 0
    before = listed.read_bytes()

    stop_before_the_edls_rename()
    assert main(["generate", str(listed), "--rate", "24", *common]) == 130
    monkeypatch.undo()
    assert listed.read_bytes() == before and "_take2.wav" in beside.read_text()

    [track] = find_v2a_tracks(otio.adapters.read_from_file(str(beside)), "SFX")
    clip_id = track.find_clips()[0].metadata["v2a"]["clip_id"]
    capsys.readouterr()
    assert main(["generate", str(beside), "--output-format", "edl", "--clips", clip_id,
                 *common]) == 0
    said = capsys.readouterr()
    assert "changed since" not in said.out + said.err
    text = listed.read_text()
    assert f"{clip_id}_take3.wav" in text and text.count("_take2.wav") >= 3, text


def test_a_clip_named_instead_of_its_id_is_told_the_id(tmp_path, capsys):
    """`--clips burrow` (the name the summary and the editor show) said only "no visible clip
    matches clip id 'burrow'"; a misspelt id left the user to find `v2a inspect` on their own."""
    from v2a.cli import main

    out = tmp_path / "out"
    assert main(["generate", str(SAMPLE), "--out", str(out), "--clips", "burrow"]) == 2
    err = capsys.readouterr().err
    assert "no visible clip matches clip id 'burrow'" in err
    assert "'burrow' is the name of clip 2b5a3d0616" in err and err.count("\n") == 1, err

    assert main(["generate", str(SAMPLE), "--out", str(out), "--clips", "2b5a3d"]) == 2
    err = capsys.readouterr().err
    assert ("its clips: 2b5a3d0616 (burrow), 24d1f74f2b (wake up), 270001927a (stretch (150%)), "
            "46b8354f49 (peek again)") in err, err
    assert not out.exists()


def test_a_clip_on_a_track_the_timeline_lacks_names_the_tracks_it_has(tmp_path, capsys):
    """`--clips V9@1` said "no visible clip matches track 'V9' at 1.0 s", as if V9 had a gap
    there, where the timeline has no track V9; `--tracks V9` says so and names the tracks."""
    from v2a.cli import main

    out = tmp_path / "out"
    assert main(["generate", str(SAMPLE), "--out", str(out), "--clips", "V9@1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("v2a generate: error: ") and err.count("\n") == 1, err
    assert "no video track 'V9' for the clip at 1.0 s; its video tracks: 0 (" in err, err
    assert not out.exists()


def test_an_unknown_extension_names_the_option_that_gives_the_format(tmp_path, capsys):
    """It ended "(or name the format explicitly)", leaving the user to find how."""
    from v2a.cli import main

    cut = tmp_path / "cut.tl"
    cut.write_text("{}")
    assert main(["inspect", str(cut)]) == 2
    err = capsys.readouterr().err
    assert "unknown timeline format '.tl'" in err and "name its format with --format" in err


def test_log_lines_while_the_bars_are_shown_start_lines_of_their_own(tmp_path, capsys, caplog,
                                                                     monkeypatch):
    """On a terminal, "INFO model.v2a_model: … drawing them again" was printed onto the
    progress bars' line; now it goes above them, as `v2a eval` and `train` do."""
    import logging
    import sys

    from generator_doubles import SineGenerator

    import model.generators
    from v2a.cli import main

    class Says(SineGenerator):
        def generate(self, *args, **kwargs):
            logging.getLogger("model.v2a_model").info("2 near-silent draw(s): drawing them again")
            return super().generate(*args, **kwargs)

    monkeypatch.setattr(model.generators, "load_generator", lambda spec: Says())
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    caplog.set_level(logging.INFO)  # as v2a.cli sets it
    console = logging.StreamHandler(sys.stderr)  # v2a.cli's handler, as on a terminal
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.root.addHandler(console)
    try:
        assert main(["generate", str(SAMPLE), "--out", str(tmp_path / "out")]) == 0
    finally:
        logging.root.removeHandler(console)
    # Each line as a terminal leaves it: what follows its last carriage return, less the
    # cursor-up with which the second bar steps back to the first (it prints nothing).
    shown = [line.split("\r")[-1].replace("\x1b[A", "")
             for line in capsys.readouterr().err.split("\n")]
    said = [line for line in shown if "drawing them again" in line]
    assert len(said) == 4 and all(line.startswith("INFO model.v2a_model: ") for line in said), shown


def test_every_command_says_what_it_does_in_its_help():
    """`v2a serve --help` and `v2a client --help` (and data, eval, train's) listed options
    under no paragraph saying what the command is for."""
    import argparse

    from v2a.cli import build_parser

    [commands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    undescribed = [name for name, sub in commands.choices.items()
                   if len((sub.description or "").split()) < 12]
    assert undescribed == []
    serve = " ".join(commands.choices["serve"].format_help().split())
    assert "127.0.0.1:50051" in serve and "token" in serve and "Exit status" in serve, serve
    client = " ".join(commands.choices["client"].format_help().split())
    assert "v2a serve" in client and "Exit status" in client, client


def test_ctrl_c_on_a_run_into_an_earlier_result_says_that_result_is_as_it_was(tmp_path):
    """"no timeline written and no take kept" was true, and left an editor to wonder whether
    the timeline the earlier run wrote there was gone too."""
    from v2a.cli import main

    out = tmp_path / "out"
    assert main(["generate", str(SAMPLE), "--out", str(out), "--generator", "silence"]) == 0
    earlier = (out / "sample.otio").read_bytes()
    status, stderr = _interrupt(_generate_script(out, STOPS_AT_THE_SECOND_CLIP))
    assert status == 130 and "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == (
        "v2a generate: cancelled; no timeline written and no take kept; the earlier result, "
        f"{out / 'sample.otio'}, is as it was")
    assert (out / "sample.otio").read_bytes() == earlier
