"""The threads Python route handlers (and request conditions, WebSocket
handlers) run on.

The core's handler threads are Rust threads; a Rust thread must never be inside the
interpreter when it shuts down (CPython ends such a thread with a forced unwind,
which aborts the process when it crosses Rust frames). So a handler call is queued
in Rust, and these daemon threads, written in Python, take it and call the handler
from Python: they wait in ``os.read`` and run only Python code, and at interpreter
exit they end the way every daemon thread does. See ``python/src/executor.rs``.
"""

from __future__ import annotations

import os
import threading

from . import _pierhead

__all__ = ["start_thread"]


def start_thread() -> None:
    """Starts one more handler thread (already counted by the caller)."""
    thread = threading.Thread(
        target=_serve, args=(_pierhead._executor_fd(),), name="pierhead-py-handler", daemon=True
    )
    try:
        thread.start()
    except RuntimeError:
        _pierhead._executor_threads(-1)  # the queued calls wait for the others


def _serve(wake_fd: int) -> None:
    while True:
        if not os.read(wake_fd, 1):
            return
        job = _pierhead._take_job()
        if job is None:
            continue
        if job.spawn:  # no thread is idle any more: keep one waiting
            start_thread()
        try:
            result = job.handler(*job.args)
        except BaseException as e:  # noqa: BLE001 - every failure is the handler's answer
            job.fail(e)
        else:
            job.answer(result)
            del result
        del job
