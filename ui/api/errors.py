"""ragbot's errors as HTTP answers: a status and a one-line ``detail`` (plus OpenAI's ``error`` object)."""
from __future__ import annotations

import logging

from rag.errors import (AccessError, BackendError, ConfigError, IndexMissingError, InputError, LoadError, NotFoundError,
                        RagbotError)

log = logging.getLogger("ragbot.api")

# The most specific class first: a user's mistake is a 4xx, a backend that is down a 503.
STATUS = (
    (NotFoundError, 404),
    (AccessError, 403),
    (IndexMissingError, 409),
    (InputError, 400),
    (ConfigError, 400),
    (LoadError, 422),
    (BackendError, 503),
)


class HTTPProblem(Exception):
    """An answer other than 200, raised by a route: status, one-line detail, extra headers."""

    def __init__(self, status: int, detail: str, headers: dict | None = None, code: str = ""):
        super().__init__(detail)
        self.status, self.detail, self.headers, self.code = status, detail, headers or {}, code


def one_line(text: str, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


def problem_for(exc: BaseException) -> HTTPProblem:
    """The HTTP answer for any failure; unexpected ones are logged with their traceback, never sent."""
    if isinstance(exc, HTTPProblem):
        return exc
    if isinstance(exc, RagbotError):
        status = next((s for cls, s in STATUS if isinstance(exc, cls)), 400)
        headers = {"Retry-After": "5"} if status == 503 else {}
        return HTTPProblem(status, one_line(exc) or type(exc).__name__, headers, type(exc).__name__)
    log.error("unexpected error in the ragbot API", exc_info=exc)
    return HTTPProblem(500, f"internal error ({type(exc).__name__}); the server log has the details")


def body(problem: HTTPProblem) -> dict:
    """``detail`` for ragbot clients, ``error`` in the shape OpenAI clients read."""
    kind = "invalid_request_error" if problem.status < 500 else "server_error"
    return {"detail": problem.detail, "error": {"message": problem.detail, "type": kind, "code": problem.code or None}}
