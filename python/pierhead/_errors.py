"""The exceptions pierhead raises: one hierarchy under :class:`PierheadError`.

Each class also derives from the built-in exception a caller would naturally catch,
so ``except OSError`` still sees a failed bind and ``except ValueError`` a bad option.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._pierhead import BenchResult


class PierheadError(Exception):
    """Base class of every error pierhead raises."""


class ConfigError(PierheadError, ValueError):
    """An option or value was rejected; :attr:`field` names it."""

    field: str

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class BindError(PierheadError, OSError):
    """The address could not be listened on (in use, not local, no permission).

    ``errno`` is the OS error; :attr:`address` the address asked for.
    """

    address: str


class StartError(PierheadError, RuntimeError):
    """The server could not start for a reason other than its address (threads,
    event loop)."""


class ServerStateError(PierheadError, RuntimeError):
    """The call does not fit the server's state: not started yet, or already running."""


class ExpectationError(PierheadError, AssertionError):
    """A request expectation was not met: raised by ``check_assertions()`` and
    ``assert_request_made()``. An ``AssertionError``, so pytest reports it as a
    test failure."""


class FrameError(PierheadError, ConnectionError):
    """The frame protocol went wrong: the server answered ``ERROR`` (its text is in
    :attr:`text`), sent something that is not a frame, or closed the connection."""

    text: str

    def __init__(self, message: str, text: str = "") -> None:
        super().__init__(message)
        self.text = text


class NothingMeasuredError(PierheadError, RuntimeError):
    """A :func:`pierhead.bench` run got not one right answer: it measured nothing.

    :attr:`reason` says why, for scripts (``no_connection``, ``never_joined``,
    ``all_wrong``, ``interrupted``, ``no_delivery``, ``no_answer``); the message says
    it in words. :attr:`result` is what the run did count (its errors, the requests
    sent), for a summary or a report.
    """

    reason: str
    result: "BenchResult"

    def __init__(self, message: str, reason: str, result: "BenchResult") -> None:
        super().__init__(message)
        self.reason = reason
        self.result = result


class MergeError(ConfigError):
    """:meth:`BenchResult.merge` refused runs that measured different things:
    :attr:`field` names how they differ (``protocol``, ``loop`` or ``pipeline``),
    :attr:`ours` and :attr:`theirs` what each is (``closed loop``, ``open loop at
    1000/s``)."""

    ours: str
    theirs: str

    def __init__(self, message: str, field: str, ours: str, theirs: str) -> None:
        super().__init__(message, field)
        self.ours = ours
        self.theirs = theirs
