"""The MCP tools ``search`` and ``ask`` and the documents as resources, over one RagbotUI.

Served over stdio by ``ragbot mcp`` and over streamable HTTP at ``/mcp/`` by ``ragbot serve``.
Tools run in worker threads, so a long answer never blocks the event loop.
"""
from __future__ import annotations

import json

import anyio

from rag.errors import RagbotError

from ..handlers import RagbotUI
from .errors import one_line
from .limits import Admission


def build_mcp(ui: RagbotUI, admission: Admission | None = None):
    """An ``MCPServer`` whose tools answer from ``ui``'s index."""
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
        return await guarded(_search, ui, query, k, collection)

    @server.tool()
    async def ask(question: str, history: list[list[str]] | None = None, collection: str | None = None) -> dict:
        """Answer a question from the documents. The answer cites passages as [n]; ``citations`` gives
        each one's source, section, quote and span; ``refused`` is true when the documents do not say.
        ``history`` is earlier [question, answer] pairs, for follow-up questions."""
        return await guarded(_ask, ui, question, history or [], collection)

    @server.resource("ragbot://documents", name="documents", mime_type="application/json")
    def documents() -> str:
        """The indexed files with their passage counts."""
        return json.dumps([{"source": s, "chunks": n} for s, n in ui.list_files()])

    @server.resource("ragbot://documents/{source}", name="document", mime_type="text/plain")
    def document(source: str) -> str:
        """The text of one indexed file, as ragbot reads it."""
        text = ui.source_text(source)
        if text is None:
            raise ValueError(f"{source!r} is not a file in the corpus folder")
        return text

    return server


def _chain(ui: RagbotUI, collection: str | None):
    from .routes import known_collection  # an unknown name is an error, not a new chain kept forever

    ui.wait_ready()
    return ui.chain(known_collection(ui, collection))


def _search(ui: RagbotUI, query: str, k: int, collection: str | None) -> list[dict]:
    from rag.answer.chain import clean_question
    from rag.settings import check_k

    k = check_k(k)
    query = clean_question(query, ui.settings.max_question_chars)
    passages = _chain(ui, collection).retriever.search(query, k)
    return [p.to_dict() for p in passages]


def _ask(ui: RagbotUI, question: str, history: list, collection: str | None) -> dict:
    answer = _chain(ui, collection).invoke({"question": question, "history": history})
    d = answer.to_dict()
    d.pop("retrieved", None)  # the citations say what matters; the passages are ``search``'s job
    return d
