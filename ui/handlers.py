"""The app's handlers: what each Gradio event shows (chat messages, the sources panel, Markdown
reports and status lines).

``RagbotUI`` turns the work of its ``Library`` (ui/service.py: chains, documents, first-start
indexing, shared with the HTTP API and MCP) into what the page shows, and keeps the feedback file.
Everything per user lives in the ``Session`` each method takes and returns. ``ui.app`` wires these
methods to Gradio events.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from rag.errors import BackendError
from rag.settings import Settings
from rag.types import Answer, Citation

from .render import escape_md, sources_html, status_markdown
from .service import AddedFile, Library, Progress, error_message, load_document
from .session import Session, Turn
from .uploads import MAX_UPLOAD_BYTES

log = logging.getLogger("ragbot.ui")

Notify = Callable[[str, str], None]  # (level "info" | "warning", message)

SEARCHING_HTML = '<div class="rb-sources"><p class="rb-muted">Searching the documents…</p></div>'


class RagbotUI:
    """The handlers behind the app's events, over a ``Library``."""

    def __init__(
        self,
        settings: Settings,
        chain_factory: Callable[[Settings], object] | None = None,
        *,
        feedback_path: str | Path = "data/feedback.jsonl",
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
        notify: Notify | None = None,
        ingest_fn: Callable | None = None,
    ):
        self.settings = settings
        self.library = Library(settings, chain_factory, max_upload_bytes=max_upload_bytes, ingest_fn=ingest_fn)
        self.feedback_path = Path(feedback_path)
        self.notify = notify if notify is not None else (lambda level, msg: None)
        self._feedback_lock = threading.Lock()

    # -- asking -------------------------------------------------------------

    def ask(self, question: str, session: Session, mode: str | None = None, k: int | None = None,
            collection: str | None = None, refusal: str | None = None) -> Iterator[tuple[str, list[dict], str, Session]]:
        """Stream ``(textbox, chat messages, sources html, session)`` while answering ``question``
        from ``collection`` (default: the served one) at refusal level ``refusal`` (default: the setting's)."""
        session = session if isinstance(session, Session) else Session()
        q = (question or "").strip()
        if not q:
            self.notify("warning", "Type a question first.")
            yield question or "", session.messages(), self._last_sources(session), session
            return
        if len(q) > self.settings.max_question_chars:
            self.notify("warning", f"The question is too long ({len(q)} characters; the limit is {self.settings.max_question_chars}).")
            yield question, session.messages(), self._last_sources(session), session
            return
        answer: Answer | None = None
        turn = Turn(question=q)
        try:
            # Per-session answer settings travel with each call; validated like any Settings.
            chosen = self.settings.replace(mode=mode or None, k=int(k) if k else None, refusal=refusal or None)
            turn = Turn(question=q, k=chosen.k)
            yield "", session.messages(turn), SEARCHING_HTML, session
            self.library.wait_ready()
            chain = self.library.chain(collection or None)
            payload = {"question": q, "history": session.history(), "mode": chosen.mode, "k": chosen.k,
                       "refusal": chosen.refusal}
            text = ""
            if hasattr(chain, "stream"):
                for part in chain.stream(payload):
                    if isinstance(part, Answer):
                        answer = part
                    elif isinstance(part, str) and part:
                        text += part
                        turn = Turn(question=q, k=turn.k, partial=text)
                        yield "", session.messages(turn), SEARCHING_HTML, session
            else:
                answer = chain.invoke(payload)
            if not isinstance(answer, Answer):
                raise BackendError("the answer chain finished without an answer; try again")
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message, never a traceback
            msg = error_message(exc)
            self.notify("warning", msg)
            session = session.add(Turn(question=q, error=msg, k=turn.k))
            yield q, session.messages(), sources_html(None, error=msg), session
            return
        session = session.add(Turn(question=q, answer=answer, k=turn.k, collection=collection or None))
        yield "", session.messages(), sources_html(answer, self._documents_of(collection)), session

    def _last_sources(self, session: Session) -> str:
        """The sources panel of the latest answer, from the document set it was asked of (kept on
        screen while a question that cannot be asked is turned down)."""
        for t in reversed(session.turns):
            if t.answer is not None:
                return sources_html(t.answer, self._documents_of(t.collection))
        return sources_html(None)

    def sources_for(self, session: Session, message_index) -> str:
        """The sources panel for the turn a chat message belongs to (when a message is clicked)."""
        turn = session.turn_at(message_index) if isinstance(session, Session) else None
        if turn is None:
            return sources_html(None)
        if turn.error:
            return sources_html(None, error=turn.error)
        return sources_html(turn.answer, self._documents_of(turn.collection))

    def _documents_of(self, collection: str | None) -> Callable[[Citation], object]:
        return lambda citation: self.document(citation, collection)

    def document(self, citation: Citation, collection: str | None = None):
        """The document a citation (of ``collection``) points into, an ``ingest.types.Document``
        with its pages, as the loaders see it; None if unavailable. No OCR runs for this view: a
        scanned page would be read again while the answer waits (seconds a page), so its text is
        not shown in context (the cited passage still is)."""
        path = self.library.source_path(citation, collection)
        if path is None:
            return None
        try:
            st = path.stat()
            return load_document(str(path), st.st_mtime_ns, st.st_size, "none")
        except Exception:  # noqa: BLE001 - the context view is optional; the passage is still shown
            log.debug("cannot load %s for context", path, exc_info=True)
            return None

    # -- feedback -----------------------------------------------------------

    def feedback(self, session: Session, message_index, liked) -> dict | None:
        """Append a thumbs up/down on an answer to the feedback file; returns the record written."""
        turn = session.turn_at(message_index) if isinstance(session, Session) else None
        if turn is None or turn.answer is None:
            return None
        a = turn.answer
        rating = "up" if liked is True else "down" if liked is False else str(liked or "cleared")
        record = {
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "rating": rating,
            "question": a.question or turn.question,
            "standalone_question": a.standalone_question,
            "answer": a.answer,
            "refused": a.refused,
            "mode": a.mode,
            "k": turn.k,
            "citations": [c.to_dict() for c in a.citations],
        }
        line = json.dumps(record, ensure_ascii=False)
        with self._feedback_lock:
            self.feedback_path.parent.mkdir(parents=True, exist_ok=True)
            with self.feedback_path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
        self.notify("info", "Thanks for the feedback.")
        return record

    # -- documents ----------------------------------------------------------

    def collections(self) -> list[str]:
        """The document sets side by side in the index, the served one first."""
        try:
            return self.library.all_collections()
        except Exception:  # noqa: BLE001 - the chooser then offers the served set alone
            log.debug("cannot list collections", exc_info=True)
            return [self.settings.collection]

    def files_view(self, collection: str | None = None) -> tuple[str, list[list]]:
        """``(status line, table rows)`` for the index (of ``collection``); errors become the status line."""
        try:
            files = self.library.list_files(collection)
        except Exception as exc:  # noqa: BLE001
            return f"**Index:** {escape_md(error_message(exc))}", []
        return status_markdown(files, self.library.last_changed(collection)), [[s, n] for s, n in files]

    def ensure_index(self, progress: Progress | None = None) -> str:
        """On first start with an empty index, ingest the corpus folder; returns a status line."""
        first: Progress | None = None
        if progress is not None:
            def first(f: float, desc: str) -> None:
                progress(f, f"First start: {desc[:1].lower()}{desc[1:]}")

        try:
            if not self.library.list_files():
                if self.library.corpus_is_empty():
                    corpus = escape_md(str(self.settings.corpus_dir))
                    return f"**Index:** empty, and there are no documents in {corpus}. Add some in the *Documents* tab."
                if first is not None:
                    first(0.0, "Indexing the documents folder")
                self.library.index_if_empty(first)
        except Exception as exc:  # noqa: BLE001
            msg = error_message(exc)
            self.notify("warning", msg)
            return f"**Index:** {escape_md(msg)}"
        return self.files_view()[0]

    def upload(self, files, replace: bool = False, progress: Progress | None = None) -> str:
        """Store uploaded files in the corpus folder and index them; returns a Markdown report."""
        paths = [_upload_path(f) for f in (files or []) if f]
        if not paths:
            self.notify("warning", "Choose one or more files to upload.")
            return "Choose one or more files to upload."
        lines = []
        for r in self.library.add_files([(p, p.name) for p in paths], replace, progress):
            if r.status in ("rejected", "failed"):
                self.notify("warning", r.reason)
                label = "Rejected" if r.status == "rejected" else "Indexing failed"
                lines.append(f"**{label}:** {escape_md(r.reason)}")
                continue
            verb = {"added": "added", "replaced": "replaced", "unchanged": "already present"}[r.status]
            note = f" (renamed: another file is called {escape_md(r.requested)})" if r.name != r.requested else ""
            n = r.chunks
            warning = f" **Warning:** {escape_md(r.warning)}" if r.warning else ""
            lines.append(f"**{verb.capitalize()}:** {escape_md(r.name)}, {n} passage{'s' if n != 1 else ''}{note}{warning}")
        return "\n\n".join(lines)

    def remove(self, source: str | None) -> str:
        """Remove a file from the index (and its copy in the corpus folder); returns a Markdown report."""
        try:
            done = self.library.remove_file(source)
        except Exception as exc:  # noqa: BLE001
            msg = error_message(exc)
            self.notify("warning", msg)
            return f"**Not removed:** {escape_md(msg)}"
        deleted = " and deleted its file" if done["file_deleted"] else ""
        n = done["chunks_removed"]
        return f"**Removed:** {escape_md(source)} from the index ({n} passage{'s' if n != 1 else ''}){deleted}."


def _upload_path(f) -> Path:
    """The local path of an uploaded file, whatever shape Gradio hands it over in."""
    if isinstance(f, (str, os.PathLike)):
        return Path(f)
    if isinstance(f, dict):
        return Path(f.get("path") or f.get("name"))
    return Path(getattr(f, "path", None) or getattr(f, "name"))

