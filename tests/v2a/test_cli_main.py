"""The `v2a` command's own behaviour, whatever the subcommand."""

from __future__ import annotations


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
