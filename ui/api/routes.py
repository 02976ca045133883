"""The FastAPI app: ``create_api(library)`` builds it over the service layer; nothing is served here."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from ..service import Library
from . import chat
from .errors import HTTPProblem, body, one_line, problem_for
from .keys import CALLER, KeyRing, Scope
from .limits import Admission

OPEN_PATHS = ("/healthz", "/docs", "/openapi.json", "/docs/oauth2-redirect")


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=100_000)
    history: list[tuple[str, str]] = Field(default_factory=list, max_length=200)
    collection: str | None = Field(default=None, min_length=1, max_length=200)
    mode: str | None = None
    k: int | None = Field(default=None, ge=1, le=50)
    refusal: str | None = Field(default=None, description="how strict refusal is: strict, balanced or lenient")


def create_api(library: Library, *, api_keys: KeyRing | frozenset[str] = frozenset(), max_pending: int = 8) -> FastAPI:
    """The API over ``library``'s index and chains. ``api_keys``: a KeyRing (scoped keys) or plain
    full-access tokens; empty means no key is asked for."""
    keys = api_keys if isinstance(api_keys, KeyRing) else KeyRing.plain(api_keys)
    app = FastAPI(title="ragbot", version="0.1.0", summary="Answers from your documents, with verified citations")
    app.state.library, app.state.keys = library, keys
    app.state.admission = Admission(max_pending)
    _add_guards(app, keys)
    _add_chat_routes(app, library)
    _add_document_routes(app, library)
    return app


def caller(request: Request) -> Scope:
    """The scope the request's key was given (set by the key check before any route runs)."""
    return request.state.scope


def _error(problem: HTTPProblem) -> JSONResponse:
    return JSONResponse(body(problem), status_code=problem.status, headers=problem.headers)


def _add_guards(app: FastAPI, keys: KeyRing) -> None:
    """Keys before anything runs (the scope of the key goes with the request); every failure a
    one-line JSON error, never a traceback."""

    @app.middleware("http")
    async def require_key(request: Request, call_next):
        path = request.url.path
        guarded = path.startswith("/v1") or path.startswith("/mcp")
        scope = keys.scope_for(request.headers.get("authorization"))
        if guarded and scope is None:
            return _error(HTTPProblem(401, "a valid API key is required: send Authorization: Bearer KEY",
                                      {"WWW-Authenticate": "Bearer"}, "invalid_api_key"))
        request.state.scope = scope
        token = CALLER.set(scope)  # MCP's tools and resources read it (ui/api/keys.py)
        try:
            return await call_next(request)
        finally:
            CALLER.reset(token)

    @app.exception_handler(RequestValidationError)
    async def bad_body(request: Request, exc: RequestValidationError):
        first = (exc.errors() or [{}])[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        return _error(HTTPProblem(422, one_line(f"{where}: {first.get('msg', 'invalid')}"), code="invalid_body"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _error(HTTPProblem(exc.status_code, one_line(exc.detail), dict(exc.headers or {})))

    @app.exception_handler(HTTPProblem)
    async def problem(request: Request, exc: HTTPProblem):
        return _error(exc)

    @app.exception_handler(Exception)
    async def anything(request: Request, exc: Exception):
        return _error(problem_for(exc))

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict:
        return {"status": "ok", "indexing": not app.state.library.ready.is_set()}


def _answer_payload(settings, question: str, history: list, mode: str | None, k: int | None,
                    refusal: str | None = None) -> dict:
    """The chain's input, validated before anything runs (a streamed answer cannot change its status later)."""
    from rag.answer.chain import clean_history, clean_question

    chosen = settings.replace(mode=mode, k=k, refusal=refusal)  # a bad mode, k or level is a ConfigError here
    return {"question": clean_question(question, settings.max_question_chars),
            "history": clean_history(history), "mode": chosen.mode, "k": chosen.k, "refusal": chosen.refusal}


def _add_chat_routes(app: FastAPI, library: Library) -> None:
    admission: Admission = app.state.admission

    @app.get("/v1/models", tags=["chat"])
    async def models(scope: Scope = Depends(caller)) -> dict:
        """The collections this key may read, as OpenAI models."""
        names = await run_in_threadpool(library.collections, scope)
        return {"object": "list", "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "ragbot"} for name in names
        ]}

    @app.post("/v1/chat/completions", tags=["chat"])
    async def chat_completions(req: chat.ChatRequest, scope: Scope = Depends(caller)) -> Any:
        """OpenAI-compatible chat: ``model`` is the collection; ``stream`` gives server-sent events."""
        collection = await run_in_threadpool(library.open, scope, req.model)
        question, history = chat.conversation(req.messages)
        payload = _answer_payload(library.settings, question, history, req.mode, req.k, req.refusal)
        if not req.stream:
            with admission.slot():
                answer = await run_in_threadpool(library.ask, scope, payload, collection)
            return chat.completion(answer, collection)
        release = admission.ticket()
        try:
            chain = await run_in_threadpool(library.answer_chain, scope, collection)
        except BaseException:
            release()
            raise
        return _ReleasingStream(_stream(chain, payload, collection), release, media_type="text/event-stream")

    @app.post("/v1/ask", tags=["chat"])
    async def ask(req: AskRequest, scope: Scope = Depends(caller)) -> dict:
        """The answer JSON of ``ragbot ask --json``."""
        collection = await run_in_threadpool(library.open, scope, req.collection)
        payload = _answer_payload(library.settings, req.question, [list(t) for t in req.history], req.mode, req.k,
                                  req.refusal)
        with admission.slot():
            answer = await run_in_threadpool(library.ask, scope, payload, collection)
        return answer.to_dict()


class _ReleasingStream(StreamingResponse):
    """A streamed answer that gives its admission slot back however it ends, a client gone included."""

    def __init__(self, content, release, **kwargs):
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            try:
                await self.body_iterator.aclose()
            finally:
                self._release()


async def _stream(chain, payload: dict, model: str):
    """The events of one streamed answer; a failure midway ends the stream with an error event."""
    try:
        async for event in iterate_in_threadpool(chat.sse_events(chain.stream(payload), model)):
            yield event
    except Exception as exc:  # noqa: BLE001 - the status line is sent; say what failed in the stream
        import json

        yield f"data: {json.dumps(body(problem_for(exc)))}\n\n"


COLLECTION = Query(None, min_length=1, max_length=200, description="the collection (default: the served one)")


def _add_document_routes(app: FastAPI, library: Library) -> None:
    admission: Admission = app.state.admission  # uploads and removals count against the limit too

    @app.get("/v1/documents", tags=["documents"])
    async def list_documents(collection: str | None = COLLECTION, scope: Scope = Depends(caller)) -> dict:
        files = await run_in_threadpool(library.documents, scope, collection)
        return {"documents": [{"source": s, "chunks": n} for s, n in files]}

    @app.post("/v1/documents", tags=["documents"])
    async def upload_documents(files: list[UploadFile] = File(...), replace: bool = Form(False),
                               collection: str | None = COLLECTION, scope: Scope = Depends(caller)) -> dict:
        """Add files to the corpus folder and index them (incrementally); one result per file."""
        await run_in_threadpool(library.open, scope, collection, write=True)  # before reading the upload
        with tempfile.TemporaryDirectory(prefix="ragbot-upload-") as tmp:
            saved = [await _save_upload(f, Path(tmp) / str(i), library.max_upload_bytes) for i, f in enumerate(files)]
            with admission.slot():
                results = await run_in_threadpool(library.add_documents, scope, saved, replace, collection)
        return {"results": [r.to_dict() for r in results]}

    @app.delete("/v1/documents/{source:path}", tags=["documents"])
    async def delete_document(source: str, collection: str | None = COLLECTION, scope: Scope = Depends(caller)) -> dict:
        """Remove a file from the index (and its copy in the corpus folder)."""
        await run_in_threadpool(library.open, scope, collection, write=True)
        with admission.slot():
            return await run_in_threadpool(library.remove_document, scope, source, collection)


async def _save_upload(upload: UploadFile, folder: Path, max_bytes: int) -> tuple[Path, str]:
    """Copy an upload to a private temp file, refusing it once it passes ``max_bytes``."""
    name = upload.filename or "document"
    folder.mkdir()
    path = folder / "upload"
    size = 0
    with path.open("wb") as out:
        while block := await upload.read(1 << 20):
            size += len(block)
            if size > max_bytes:
                raise HTTPProblem(413, f"{one_line(name, 120)}: over the {max_bytes / 1e6:.0f} MB upload limit",
                                  code="too_large")
            out.write(block)
    return path, name
