"""Post hooks for ``RequestHandler.with_post_hook``: functions of (request,
response) returning the response to send."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from werkzeug import Request, Response

__all__ = ["Chain", "Delay", "Garbage"]


class Chain:
    """Several hooks, each given the response the one before returned."""

    def __init__(self, *hooks: Callable[[Request, Response], Response]) -> None:
        self._hooks = hooks

    def __call__(self, request: Request, response: Response) -> Response:
        for hook in self._hooks:
            response = hook(request, response)
        return response


class Delay:
    """Sleeps ``seconds`` (on the handler thread) before the response goes out.
    For delays that hold no thread, see ``pierhead.Fault.delay``."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    def _sleep(self) -> None:
        time.sleep(self._seconds)

    def __call__(self, _request: Request, response: Response) -> Response:
        self._sleep()
        return response


class Garbage:
    """Random bytes before and after the body (new ones each time)."""

    def __init__(self, prefix_size: int = 0, suffix_size: int = 0) -> None:
        assert prefix_size >= 0, "prefix_size should be positive integer"
        assert suffix_size >= 0, "suffix_size should be positive integer"
        self._prefix_size = prefix_size
        self._suffix_size = suffix_size

    def _get_garbage_bytes(self, size: int) -> bytes:
        return os.urandom(size)

    def __call__(self, _request: Request, response: Response) -> Response:
        body = response.get_data()
        response.set_data(
            self._get_garbage_bytes(self._prefix_size) + body + self._get_garbage_bytes(self._suffix_size)
        )
        return response
