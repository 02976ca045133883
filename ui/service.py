"""The service under the app, the HTTP API and MCP: collections, documents and asking.

``Library`` holds what every caller shares (settings, one answer chain per collection, the lock
that lets one ingestion or removal run at a time, first-start indexing) and does the work without
knowing about Gradio or HTTP. Its scoped methods take the caller's ``Scope`` (ui/api/keys.py) and
check it here, once: a collection the scope cannot read is reported as not found (the caller does
not learn it exists), and a read-only scope may not upload or delete (403). Answers come from the
chain of the one collection asked, so an answer never quotes a passage of another.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from rag.errors import AccessError, BackendError, IndexMissingError, InputError, NotFoundError, RagbotError
from rag.settings import Settings
from rag.types import Citation

from .api.keys import FULL, Scope
from .uploads import MAX_UPLOAD_BYTES, store_upload

log = logging.getLogger("ragbot.ui")

Progress = Callable[[float, str], None]


def default_chain_factory(settings: Settings):
    """The real answer chain (imported only when first needed)."""
    from rag import build_chain

    return build_chain(settings)


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


@lru_cache(maxsize=16)
def load_document(path: str, mtime_ns: int, size: int, ocr: str = "auto"):
    """A file as the loaders read it (cached while its modification time and size stay the same)."""
    from ingest.loaders import load

    return load(path, ocr=ocr)


def error_message(exc: BaseException) -> str:
    """A one-line message for any failure; unexpected ones are logged with their traceback."""
    if isinstance(exc, RagbotError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    log.exception("unexpected error in ragbot")
    return f"internal error ({type(exc).__name__}); the server log has the details"


class Library:
    """Collections, documents and answers of one ragbot."""

    def __init__(self, settings: Settings, chain_factory: Callable[[Settings], object] | None = None, *,
                 max_upload_bytes: int = MAX_UPLOAD_BYTES, ingest_fn: Callable | None = None):
        self.settings = settings
        self.chain_factory = chain_factory or default_chain_factory
        self.max_upload_bytes = max_upload_bytes
        self._ingest_fn = ingest_fn
        self._chains: dict[str, object] = {}  # collection -> chain
        self._chain_lock = threading.Lock()
        self.index_lock = threading.Lock()  # one ingestion or removal at a time
        self.ready = threading.Event()  # cleared while the first-start ingestion runs
        self.ready.set()

    # -- chains ----------------------------------------------------------------------------

    def chain(self, collection: str | None = None):
        """The answer chain for a collection (default: the served one), built once and shared by all
        callers (it keeps no conversation state). Unscoped: callers check the scope first."""
        name = collection or self.settings.collection
        with self._chain_lock:
            if name not in self._chains:
                self._chains[name] = self.chain_factory(self.settings_for(name))
            return self._chains[name]

    def invalidate_chains(self) -> None:
        """Forget built chains after the index changed, so the next question sees the new index."""
        with self._chain_lock:
            self._chains.clear()

    def wait_ready(self, timeout: float = 600.0) -> None:
        """Wait for a first-start ingestion to finish; a clear error when it takes longer than ``timeout``."""
        if not self.ready.wait(timeout):
            raise BackendError("ragbot is still indexing the documents folder for the first time; ask again in a minute")

    def settings_for(self, collection: str | None) -> Settings:
        return self.settings if not collection or collection == self.settings.collection else self.settings.replace(collection=collection)

    # -- first start -----------------------------------------------------------------------

    def start_first_index(self) -> threading.Thread:
        """Index the corpus folder in the background when the index is empty; questions wait for it."""
        self.ready.clear()

        def run() -> None:
            try:
                self.index_if_empty()
            except Exception:  # noqa: BLE001 - the app shows the error when it loads
                log.warning("first-start indexing failed", exc_info=True)
            finally:
                self.ready.set()

        thread = threading.Thread(target=run, name="ragbot-first-index", daemon=True)
        thread.start()
        return thread

    def corpus_is_empty(self) -> bool:
        corpus = Path(self.settings.corpus_dir)
        return not corpus.is_dir() or not any(p.is_file() for p in corpus.rglob("*"))

    def index_if_empty(self, progress: Progress | None = None) -> bool:
        """Ingest the corpus folder when the index is empty; True when it did. Questions asked
        meanwhile wait (``ready``)."""
        if self.list_files() or self.corpus_is_empty():
            return False
        with self.index_lock:
            if self.list_files():  # another caller did it meanwhile
                return False
            self.ready.clear()
            try:
                self._ingest([Path(self.settings.corpus_dir)], progress)
                self.invalidate_chains()
            finally:
                self.ready.set()
        return True

    # -- documents (unscoped: the app with full access, and the scoped methods below) -------

    def _ingest(self, paths, progress: Progress | None, on_skip=None):
        fn = self._ingest_fn
        if fn is None:
            from ingest.pipeline import ingest as fn

        def on_file(done: int, total: int, source: str) -> None:
            if progress is not None:
                progress((done - 1) / max(total, 1), f"Indexing {source} ({done}/{total})")

        return fn([str(p) for p in paths], self.settings, on_file=on_file, on_skip=on_skip)

    def all_collections(self) -> list[str]:
        """Every collection of the index, the served one first (listed even before its first file)."""
        from ingest.manage import list_collections
        from rag.retrieval import chroma as store

        served = self.settings.collection
        try:
            names = [name for name, _ in list_collections(self.settings)]
        except IndexMissingError:
            names = []
        except RagbotError:
            raise
        except Exception as exc:  # noqa: BLE001 - a server gone away: reconnect next time, say so now
            store.forget_client(self.settings)
            raise store.backend_error(self.settings, exc) from exc
        return [served, *sorted(n for n in names if n != served)]

    def list_files(self, collection: str | None = None) -> list[tuple[str, int]]:
        from ingest.manage import list_sources

        return list_sources(self.settings_for(collection))

    def last_changed(self, collection: str | None = None) -> float | None:
        """When an ingestion (here, `ragbot ingest --watch` or any other process) last wrote the index."""
        from ingest.manage import last_changed

        try:
            return last_changed(self.settings_for(collection))
        except Exception:  # noqa: BLE001 - the time is a nicety; the file list already reported errors
            return None

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
                results.append(AddedFile(name, "rejected", reason=error_message(exc), requested=name))
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
            msg = error_message(exc)
            return results + [AddedFile(s.name, "failed", reason=msg, requested=s.requested) for s in stored]
        return results + self._added(stored, skipped, summary)

    def _added(self, stored, skipped: dict[str, str], summary) -> list[AddedFile]:
        counts = dict(self.list_files())
        warnings = {Path(w.path).name: w.reason for w in getattr(summary, "warnings", None) or []}
        results = []
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

    def source_text(self, source: str) -> str | None:
        """The text of a file of the corpus folder, as the loaders see it; None if it is not one."""
        from ingest.manage import corpus_path

        path = corpus_path(self.settings, source)
        if path is None or not path.is_file():
            return None
        st = path.stat()
        return load_document(str(path), st.st_mtime_ns, st.st_size, self.settings.ocr).text

    def source_path(self, citation: Citation, collection: str | None = None) -> Path | None:
        """The file a citation points into: under the folder its chunk was ingested from, else the
        corpus folder; never outside them."""
        roots: list[Path] = []
        try:
            from rag.retrieval import chroma as store

            got = store.open_collection(self.settings_for(collection)).get(ids=[citation.chunk_id], include=["metadatas"])
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

    # -- scoped: what one caller may see and do ----------------------------------------------

    def collections(self, scope: Scope = FULL) -> list[str]:
        return scope.visible(self.all_collections())

    def open(self, scope: Scope, name: str | None = None, *, write: bool = False) -> str:
        """The collection ``name`` (default: the served one) if ``scope`` may read it (and, with
        ``write``, change it); unknown and hidden collections give the same not-found error."""
        name = name or self.settings.collection
        visible = self.collections(scope)
        if name not in visible:
            raise NotFoundError(f"model {name!r} is not a collection here; known: {', '.join(visible) or '(none)'}")
        if write and not scope.writes(name):
            raise AccessError(f"this key may read {name!r} but not change it")
        return name

    def documents(self, scope: Scope = FULL, collection: str | None = None) -> list[tuple[str, int]]:
        return self.list_files(self.open(scope, collection))

    def add_documents(self, scope: Scope, files: list[tuple[Path, str]], replace: bool = False,
                      collection: str | None = None) -> list[AddedFile]:
        self._corpus_collection(self.open(scope, collection, write=True))
        return self.add_files(files, replace)

    def remove_document(self, scope: Scope, source: str, collection: str | None = None) -> dict:
        name = self._corpus_collection(self.open(scope, collection, write=True))
        if source not in dict(self.list_files(name)):
            raise NotFoundError(f"{' '.join(str(source).split())[:200]!r} is not in the index")
        return self.remove_file(source)

    def document_text(self, scope: Scope, source: str, collection: str | None = None) -> str | None:
        name = self.open(scope, collection)
        if name != self.settings.collection or source not in dict(self.list_files(name)):
            return None  # only the served collection's files are in the documents folder
        return self.source_text(source)

    def _corpus_collection(self, name: str) -> str:
        """Uploads and removals change the served collection's documents folder, and only it."""
        if name != self.settings.collection:
            raise InputError(f"documents are added to and removed from the served collection "
                             f"{self.settings.collection!r} (its folder {self.settings.corpus_dir}); serve {name!r} to change it")
        return name

    def answer_chain(self, scope: Scope, collection: str | None = None):
        """The answer chain of a collection the scope may read, once first-start indexing is done."""
        name = self.open(scope, collection)
        self.wait_ready()
        return self.chain(name)

    def ask(self, scope: Scope, payload: dict, collection: str | None = None):
        return self.answer_chain(scope, collection).invoke(payload)

    def search(self, scope: Scope, query: str, k: int, collection: str | None = None):
        return self.answer_chain(scope, collection).retriever.search(query, k)
