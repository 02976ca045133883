"""What the app does, free of Gradio: asking, feedback, uploads, the file list, first-start ingestion.

``RagbotUI`` holds what all sessions share (settings, the answer chain, locks, the feedback file).
Everything per user lives in the ``Session`` each method takes and returns. ``ui.app`` wires
these methods to Gradio events.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

from rag.errors import BackendError, InputError, RagbotError
from rag.settings import Settings
from rag.types import Answer, Citation

from .render import escape_md, sources_html, status_markdown
from .session import Session, Turn
from .uploads import MAX_UPLOAD_BYTES, store_upload

log = logging.getLogger("ragbot.ui")

Progress = Callable[[float, str], None]
Notify = Callable[[str, str], None]  # (level "info" | "warning", message)

SEARCHING_HTML = '<div class="rb-sources"><p class="rb-muted">Searching the documents…</p></div>'


def default_chain_factory(settings: Settings):
    """The real answer chain (imported only when first needed)."""
    from rag import build_chain

    return build_chain(settings)


def _message(exc: BaseException) -> str:
    """A one-line message for any failure; unexpected ones are logged with their traceback."""
    if isinstance(exc, RagbotError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    log.exception("unexpected error in the ragbot UI")
    return f"internal error ({type(exc).__name__}); the server log has the details"


@lru_cache(maxsize=16)
def _load_document(path: str, mtime_ns: int, size: int, ocr: str = "auto"):
    """A file as the loaders read it (cached while its modification time and size stay the same)."""
    from ingest.loaders import load

    return load(path, ocr=ocr)


class RagbotUI:
    """Shared state and the handlers behind the app's events."""

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
        self.chain_factory = chain_factory or default_chain_factory
        self.feedback_path = Path(feedback_path)
        self.max_upload_bytes = max_upload_bytes
        self.notify = notify if notify is not None else (lambda level, msg: None)
        self._ingest_fn = ingest_fn
        self._chains: dict[str, object] = {}  # collection -> chain
        self._chain_lock = threading.Lock()
        self.index_lock = threading.Lock()  # one ingestion or removal at a time
        self._feedback_lock = threading.Lock()
        self.ready = threading.Event()  # cleared while the first-start ingestion runs
        self.ready.set()

    # -- chains -------------------------------------------------------------

    def chain(self, collection: str | None = None):
        """The answer chain for a collection (default: the served one), built once and shared by all
        sessions (it keeps no conversation state)."""
        name = collection or self.settings.collection
        with self._chain_lock:
            if name not in self._chains:
                chosen = self.settings if name == self.settings.collection else self.settings.replace(collection=name)
                self._chains[name] = self.chain_factory(chosen)
            return self._chains[name]

    def invalidate_chains(self) -> None:
        """Forget built chains after the index changed, so the next question sees the new index."""
        with self._chain_lock:
            self._chains.clear()

    def wait_ready(self, timeout: float = 600.0) -> None:
        """Wait for a first-start ingestion to finish; a clear error when it takes longer than ``timeout``."""
        if not self.ready.wait(timeout):
            raise BackendError("ragbot is still indexing the documents folder for the first time; ask again in a minute")

    def start_first_index(self) -> threading.Thread:
        """Index the corpus folder in the background when the index is empty; questions wait for it."""
        self.ready.clear()

        def run() -> None:
            try:
                self.ensure_index()
            finally:
                self.ready.set()

        thread = threading.Thread(target=run, name="ragbot-first-index", daemon=True)
        thread.start()
        return thread

    # -- asking -------------------------------------------------------------

    def ask(self, question: str, session: Session, mode: str | None = None, k: int | None = None,
            collection: str | None = None) -> Iterator[tuple[str, list[dict], str, Session]]:
        """Stream ``(textbox, chat messages, sources html, session)`` while answering ``question``
        from ``collection`` (default: the served one)."""
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
            chosen = self.settings.replace(mode=mode or None, k=int(k) if k else None)
            turn = Turn(question=q, k=chosen.k)
            yield "", session.messages(turn), SEARCHING_HTML, session
            self.wait_ready()
            chain = self.chain(collection or None)
            payload = {"question": q, "history": session.history(), "mode": chosen.mode, "k": chosen.k}
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
            msg = _message(exc)
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
        path = self._source_path(citation, collection)
        if path is None:
            return None
        try:
            st = path.stat()
            return _load_document(str(path), st.st_mtime_ns, st.st_size, "none")
        except Exception:  # noqa: BLE001 - the context view is optional; the passage is still shown
            log.debug("cannot load %s for context", path, exc_info=True)
            return None

    def source_text(self, source: str) -> str | None:
        """The text of a file of the corpus folder, as the loaders see it; None if it is not one."""
        from ingest.manage import corpus_path

        path = corpus_path(self.settings, source)
        if path is None or not path.is_file():
            return None
        st = path.stat()
        return _load_document(str(path), st.st_mtime_ns, st.st_size, self.settings.ocr).text

    def _source_path(self, citation: Citation, collection: str | None = None) -> Path | None:
        roots: list[Path] = []
        try:
            from rag.retrieval import chroma as store

            got = store.open_collection(self._settings_for(collection)).get(ids=[citation.chunk_id], include=["metadatas"])
            meta = (got.get("metadatas") or [None])[0] or {}
            if meta.get("root"):
                roots.append(Path(meta["root"]))
        except Exception:  # noqa: BLE001 - fall back to the corpus folder
            pass
        roots.append(Path(self.settings.corpus_dir))
        for root in roots:
            root = root.resolve()
            path = (root / citation.source).resolve()
            if root in path.parents and path.is_file():
                return path
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

    def _ingest(self, paths, progress: Progress | None, on_skip=None):
        fn = self._ingest_fn
        if fn is None:
            from ingest.pipeline import ingest as fn

        def on_file(done: int, total: int, source: str) -> None:
            if progress is not None:
                progress((done - 1) / max(total, 1), f"Indexing {source} ({done}/{total})")

        return fn([str(p) for p in paths], self.settings, on_file=on_file, on_skip=on_skip)

    def _settings_for(self, collection: str | None) -> Settings:
        return self.settings if not collection else self.settings.replace(collection=collection)

    def collections(self) -> list[str]:
        """The document sets side by side in the index, the served one first (the service's list)."""
        from .service import Library

        try:
            return Library(self).all_collections()
        except Exception:  # noqa: BLE001 - the chooser then offers the served set alone
            log.debug("cannot list collections", exc_info=True)
            return [self.settings.collection]

    def list_files(self, collection: str | None = None) -> list[tuple[str, int]]:
        from ingest.manage import list_sources

        return list_sources(self._settings_for(collection))

    def files_view(self, collection: str | None = None) -> tuple[str, list[list]]:
        """``(status line, table rows)`` for the index (of ``collection``); errors become the status line."""
        try:
            files = self.list_files(collection)
        except Exception as exc:  # noqa: BLE001
            return f"**Index:** {escape_md(_message(exc))}", []
        return status_markdown(files, self.last_changed(collection)), [[s, n] for s, n in files]

    def last_changed(self, collection: str | None = None) -> float | None:
        """When an ingestion (here, `ragbot ingest --watch` or any other process) last wrote the index."""
        from ingest.manage import last_changed

        try:
            return last_changed(self._settings_for(collection))
        except Exception:  # noqa: BLE001 - the time is a nicety; the file list already reported errors
            return None

    def ensure_index(self, progress: Progress | None = None) -> str:
        """On first start with an empty index, ingest the corpus folder; returns a status line."""
        try:
            if self.list_files():
                return self.files_view()[0]
            corpus = Path(self.settings.corpus_dir)
            if not corpus.is_dir() or not any(p.is_file() for p in corpus.rglob("*")):
                return f"**Index:** empty, and there are no documents in {escape_md(str(corpus))}. Add some in the *Documents* tab."
            with self.index_lock:
                if not self.list_files():  # another session may have done it meanwhile
                    self._first_ingest(corpus, progress)
        except Exception as exc:  # noqa: BLE001
            msg = _message(exc)
            self.notify("warning", msg)
            return f"**Index:** {escape_md(msg)}"
        return self.files_view()[0]

    def _first_ingest(self, corpus: Path, progress: Progress | None) -> None:
        """Ingest the corpus folder into an empty index; questions asked meanwhile wait (``ready``)."""
        first: Progress | None = None
        if progress is not None:
            def first(f: float, desc: str) -> None:
                progress(f, f"First start: {desc[:1].lower()}{desc[1:]}")

            first(0.0, "Indexing the documents folder")
        self.ready.clear()
        try:
            self._ingest([corpus], first)
            self.invalidate_chains()
        finally:
            self.ready.set()

    def upload(self, files, replace: bool = False, progress: Progress | None = None) -> str:
        """Store uploaded files in the corpus folder and index them; returns a Markdown report."""
        paths = [_upload_path(f) for f in (files or []) if f]
        if not paths:
            self.notify("warning", "Choose one or more files to upload.")
            return "Choose one or more files to upload."
        lines = []
        for r in self.add_files([(p, p.name) for p in paths], replace, progress):
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

    def add_files(self, files: list[tuple[Path, str]], replace: bool = False,
                  progress: Progress | None = None) -> list[AddedFile]:
        """Copy ``(path, display name)`` files into the corpus folder and index them, one result each."""
        results: list[AddedFile] = []
        stored = []
        for path, name in files:
            try:
                stored.append(store_upload(path, name, self.settings.corpus_dir, replace=replace,
                                           max_bytes=self.max_upload_bytes))
            except Exception as exc:  # noqa: BLE001
                results.append(AddedFile(name, "rejected", reason=_message(exc), requested=name))
        if not stored:
            return results
        skipped: dict[str, str] = {}

        def on_skip(item) -> None:
            skipped[Path(item.path).name] = item.reason

        try:
            with self.index_lock:
                summary = self._ingest([s.path for s in stored], progress, on_skip=on_skip)
                self.invalidate_chains()
        except Exception as exc:  # noqa: BLE001
            msg = _message(exc)
            return results + [AddedFile(s.name, "failed", reason=msg, requested=s.requested) for s in stored]
        counts = dict(self.list_files())
        warnings = {Path(w.path).name: w.reason for w in getattr(summary, "warnings", None) or []}
        for s in stored:
            if s.name in skipped:
                if s.status == "added":
                    s.path.unlink(missing_ok=True)  # do not keep a file that cannot be read
                results.append(AddedFile(s.name, "rejected", reason=f"{s.name}: {skipped[s.name]}", requested=s.requested))
            else:
                results.append(AddedFile(s.name, s.status, chunks=counts.get(s.name, 0), requested=s.requested,
                                         warning=warnings.get(s.name, "")))
        return results

    def remove_file(self, source: str | None) -> dict:
        """Remove a file from the index and the corpus folder: ``{source, chunks_removed, file_deleted}``."""
        from ingest.manage import remove_source

        if not source:
            raise InputError("Choose a file to remove.")
        with self.index_lock:
            done = remove_source(self.settings, source)
            self.invalidate_chains()
        return done

    def remove(self, source: str | None) -> str:
        """Remove a file from the index (and its copy in the corpus folder); returns a Markdown report."""
        try:
            done = self.remove_file(source)
        except Exception as exc:  # noqa: BLE001
            msg = _message(exc)
            self.notify("warning", msg)
            return f"**Not removed:** {escape_md(msg)}"
        deleted = " and deleted its file" if done["file_deleted"] else ""
        n = done["chunks_removed"]
        return f"**Removed:** {escape_md(source)} from the index ({n} passage{'s' if n != 1 else ''}){deleted}."


@dataclass(frozen=True)
class AddedFile:
    """What became of one uploaded file: ``status`` is added, replaced, unchanged, rejected or failed."""

    name: str
    status: str
    chunks: int = 0
    reason: str = ""  # why it was rejected or failed
    requested: str = ""  # the name asked for; differs from ``name`` when renamed
    warning: str = ""  # indexed with a loss: pages OCR could not read

    def to_dict(self) -> dict:
        return asdict(self)


def _upload_path(f) -> Path:
    """The local path of an uploaded file, whatever shape Gradio hands it over in."""
    if isinstance(f, (str, os.PathLike)):
        return Path(f)
    if isinstance(f, dict):
        return Path(f.get("path") or f.get("name"))
    return Path(getattr(f, "path", None) or getattr(f, "name"))

