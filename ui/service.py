"""The service under the HTTP API and MCP: collections, documents and asking, for a caller's scope.

Every operation takes the caller's ``Scope`` (ui/api/keys.py) and checks it here, once: a collection
the scope cannot read is reported as not found (the caller does not learn it exists), and a
read-only scope may not upload or delete (403). Answers come from the chain of the one collection
asked, so an answer never quotes a passage of another. The shared state (settings, chains, the
ingestion lock, first-start indexing) is ``RagbotUI``'s, whose Gradio events use the same methods
with full access.
"""
from __future__ import annotations

from pathlib import Path

from rag.errors import AccessError, IndexMissingError, InputError, NotFoundError, RagbotError

from .api.keys import FULL, Scope
from .handlers import AddedFile, RagbotUI


class Library:
    """Collections, documents and answers of one ragbot, as one caller may see them."""

    def __init__(self, ui: RagbotUI):
        self.ui = ui
        self.settings = ui.settings

    # -- collections ---------------------------------------------------------------------

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

    # -- documents -----------------------------------------------------------------------

    def documents(self, scope: Scope = FULL, collection: str | None = None) -> list[tuple[str, int]]:
        return self.ui.list_files(self.open(scope, collection))

    def add_documents(self, scope: Scope, files: list[tuple[Path, str]], replace: bool = False,
                      collection: str | None = None) -> list[AddedFile]:
        self._corpus_collection(self.open(scope, collection, write=True))
        return self.ui.add_files(files, replace)

    def remove_document(self, scope: Scope, source: str, collection: str | None = None) -> dict:
        name = self._corpus_collection(self.open(scope, collection, write=True))
        if source not in dict(self.ui.list_files(name)):
            raise NotFoundError(f"{' '.join(str(source).split())[:200]!r} is not in the index")
        return self.ui.remove_file(source)

    def document_text(self, scope: Scope, source: str, collection: str | None = None) -> str | None:
        name = self.open(scope, collection)
        if name != self.settings.collection or source not in dict(self.ui.list_files(name)):
            return None  # only the served collection's files are in the documents folder
        return self.ui.source_text(source)

    def _corpus_collection(self, name: str) -> str:
        """Uploads and removals change the served collection's documents folder, and only it."""
        if name != self.settings.collection:
            raise InputError(f"documents are added to and removed from the served collection "
                             f"{self.settings.collection!r} (its folder {self.settings.corpus_dir}); serve {name!r} to change it")
        return name

    # -- asking --------------------------------------------------------------------------

    def chain(self, scope: Scope, collection: str | None = None):
        """The answer chain of a collection the scope may read, once first-start indexing is done."""
        name = self.open(scope, collection)
        self.ui.wait_ready()
        return self.ui.chain(name)

    def ask(self, scope: Scope, payload: dict, collection: str | None = None):
        return self.chain(scope, collection).invoke(payload)

    def search(self, scope: Scope, query: str, k: int, collection: str | None = None):
        return self.chain(scope, collection).retriever.search(query, k)
