"""``python -m pierhead serve|bench ...``: the ``pierhead`` command line, from Python.

Not a copy of it: the arguments go to the very Rust code of the ``pierhead``
binary (the cli crate's ``run``, through the extension, with the GIL released),
so flags, defaults, output, error messages and exit codes are the binary's.
Python keeps its signals: SIGINT (Ctrl-C) and SIGTERM raise in the handlers set
here, the command sees them within 50 ms and stops gracefully, with the stop
report.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Optional, Sequence

from . import _pierhead


def _terminated(signum: int, frame: object) -> None:
    # What the extension reads as SIGTERM.
    raise KeyboardInterrupt("SIGTERM")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs ``pierhead`` with ``argv`` (default: this process's arguments) and
    returns its exit code."""
    args = ["pierhead", *(sys.argv[1:] if argv is None else argv)]
    # The command writes to the process's own stdout and stderr.
    sys.stdout.flush()
    sys.stderr.flush()
    if threading.current_thread() is not threading.main_thread():
        return _pierhead.cli(args)
    # Before the server starts: whoever reads its address may signal at once.
    # SIGINT also when started in the background by a shell, which ignores it.
    term = signal.signal(signal.SIGTERM, _terminated)
    intr = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _pierhead.cli(args)
    finally:
        signal.signal(signal.SIGTERM, term)
        signal.signal(signal.SIGINT, intr)


if __name__ == "__main__":
    sys.exit(main())
