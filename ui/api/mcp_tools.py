"""The MCP tools ``search`` and ``ask`` and the documents as resources, over the service layer.

Served over stdio by ``ragbot mcp`` and over streamable HTTP at ``/mcp/`` by ``ragbot serve``.
Tools run in worker threads, so a long answer never blocks the event loop.
"""
from __future__ import annotations

import json

import anyio

from rag.errors import NotFoundError, RagbotError

from ..service import Library
from .errors import one_line
from .keys import CALLER, Scope
from .limits import Admission


def build_mcp(library: Library, admission: Admission | None = None):
    """An ``MCPServer`` whose tools answer from ``library``'s index, each call within the caller's scope
    (``keys.CALLER``: the HTTP request's key, or full access over stdio)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    admission = admission or Admission()
    server = MCPServer(
        "ragbot",
        log_level="WARNING",
        instructions="Search the user's documents and answer questions from them with numbered citations. "
        "An answer whose `refused` is true means the documents do not say.",
    )

    async def guarded(fn, *args):
        try:
            with admission.slot():
                return await anyio.to_thread.run_sync(fn, *args)
        except RagbotError as exc:
            raise ToolError(one_line(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - HTTPProblem (busy) and the rest: one line
            raise ToolError(one_line(getattr(exc, "detail", exc))) from exc

    @server.tool()
    async def search(query: str, k: int = 5, collection: str | None = None) -> list[dict]:
        """Passages of the documents that best match ``query``: source file, section, character span
        in the file, similarity score and text."""
        return await guarded(_search, library, caller(), query, k, collection)

    @server.tool()
    async def ask(question: str, history: list[list[str]] | None = None, collection: str | None = None,
                  refusal: str | None = None) -> dict:
        """Answer a question from the documents. The answer cites passages as [n]; ``citations`` gives
        each one's source, section, quote and span; ``refused`` is true when the documents do not say;
        ``confidence`` is the probability that they answer it. ``history`` is earlier [question, answer]
        pairs, for follow-up questions; ``refusal`` (strict, balanced, lenient) how readily to refuse."""
        return await guarded(_ask, library, caller(), question, history or [], collection, refusal)

    @server.resource("ragbot://documents", name="documents", mime_type="application/json")
    def documents() -> str:
        """The indexed files of the served collection with their passage counts."""
        return json.dumps([{"source": s, "chunks": n} for s, n in library.documents(caller())])

    @server.resource("ragbot://documents/{source}", name="document", mime_type="text/plain")
    def document(source: str) -> str:
        """The text of one indexed file of the served collection, as ragbot reads it."""
        text = library.document_text(caller(), source)
        if text is None:
            raise NotFoundError(f"{source!r} is not a file in the corpus folder")
        return text

    return server


def caller() -> Scope:
    """The scope of this call; none was checked (no key): never run it."""
    from mcp.server.mcpserver.exceptions import ToolError

    scope = CALLER.get()
    if scope is None:
        raise ToolError("a valid API key is required")
    return scope


def _search(library: Library, scope: Scope, query: str, k: int, collection: str | None) -> list[dict]:
    from rag.answer.chain import clean_question
    from rag.settings import check_k

    k = check_k(k)
    query = clean_question(query, library.settings.max_question_chars)
    return [p.to_dict() for p in library.search(scope, query, k, collection)]


def _ask(library: Library, scope: Scope, question: str, history: list, collection: str | None,
         refusal: str | None = None) -> dict:
    level = library.settings.replace(refusal=refusal).refusal  # an unknown level is the one error every entry point gives
    d = library.ask(scope, {"question": question, "history": history, "refusal": level}, collection).to_dict()
    d.pop("retrieved", None)  # the citations say what matters; the passages are ``search``'s job
    return d
