"""Chroma access: a persistent client on disk, or a server over HTTP when a host is set."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import BackendError, IndexMissingError
from ..settings import Settings

PAGE = 5000
_clients: dict[tuple, object] = {}
_writes: dict[tuple, int] = {}  # writes in progress in this process, per location
_seen: dict[tuple, tuple | None] = {}  # disk_stamp when this process's client last knew the files (embedded)
_lock = threading.Lock()


def _key(settings: Settings) -> tuple:
    if settings.server_mode:
        return (settings.chroma_host, settings.chroma_port)
    return (str(Path(settings.persist_dir).resolve()),)


@contextmanager
def writing(settings: Settings) -> Iterator[None]:
    """Mark a write to the index by this process (ingestion, removal): readers here must not reopen
    the shared client under it."""
    key = _key(settings)
    if not writing_here(settings):
        _reopen_if_written_elsewhere(settings)
    with _lock:
        _writes[key] = _writes.get(key, 0) + 1
    try:
        yield
    finally:
        with _lock:
            _writes[key] -= 1
            if key in _clients and not settings.server_mode:
                _seen[key] = disk_stamp(settings)  # this process's own writes: its client knows them


def _reopen_if_written_elsewhere(settings: Settings) -> None:
    """An embedded client does not see another process's writes (its vector index lives in memory):
    drop it before writing when the files changed since it last knew them."""
    if settings.server_mode:
        return
    client = cached_client(settings)
    if client is not None and disk_stamp(settings) != _seen.get(_key(settings)):
        forget_client(settings, stale=client)


def writing_here(settings: Settings) -> bool:
    with _lock:
        return _writes.get(_key(settings), 0) > 0


def disk_stamp(settings: Settings) -> tuple | None:
    """A cheap signature of an index on disk that changes whenever any process writes it (SQLite's
    file and its write-ahead log); None for a server, which shows every client the same data."""
    if settings.server_mode:
        return None
    folder = Path(settings.persist_dir)
    stamp = []
    for name in ("chroma.sqlite3", "chroma.sqlite3-wal"):
        try:
            st = (folder / name).stat()
            stamp.append((st.st_mtime_ns, st.st_size))
        except OSError:
            stamp.append(None)
    return tuple(stamp)


def _telemetry_off() -> None:
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("CHROMA_TELEMETRY", "False")


def _where(settings: Settings) -> str:
    if settings.server_mode:
        return f"Chroma server at {settings.chroma_host}:{settings.chroma_port}"
    return f"index at {settings.persist_dir}"


def open_client(settings: Settings, *, create: bool = False):
    """A Chroma client, one per location per process (clients are thread-safe and costly to make)."""
    _telemetry_off()
    key = _key(settings)
    with _lock:
        client = _clients.get(key)
        if client is not None:
            return client
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            if settings.server_mode:
                client = chromadb.HttpClient(
                    host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
                )
                client.heartbeat()
            else:
                path = Path(settings.persist_dir)
                if not path.exists():
                    if not create:
                        raise IndexMissingError(
                            f"no index at {settings.persist_dir}: run `ragbot ingest` first"
                        )
                    path.mkdir(parents=True, exist_ok=True)
                elif not path.is_dir():
                    raise IndexMissingError(f"index path {settings.persist_dir} is not a folder")
                stamp = disk_stamp(settings)  # before opening: a write after this makes the client stale
                client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
                _seen[key] = stamp
        except (IndexMissingError, BackendError):
            raise
        except Exception as exc:
            raise backend_error(settings, exc) from exc
        _clients[key] = client
        return client


def cached_client(settings: Settings):
    """The client ``open_client`` would hand out now, or None."""
    with _lock:
        return _clients.get(_key(settings))


def forget_client(settings: Settings, stale: object | None = None) -> None:
    """Drop the cached client so the next call reconnects: after a server restart, or, for an index
    on disk, after another process wrote it (an embedded client keeps its vector index in memory and
    does not see the other process's writes; closing it makes the next client read the files again).

    With ``stale``, only that client is dropped: another thread may have reopened already. A client
    is never closed under a write of this process (the writer holds its collection).
    """
    with _lock:
        key = _key(settings)
        client = _clients.get(key)
        if client is None or (stale is not None and client is not stale):
            return
        del _clients[key]
        close = not settings.server_mode and _writes.get(key, 0) == 0
    if close:
        try:
            client.close()
        except Exception:  # noqa: BLE001 - an already broken client needs no closing
            pass


def forget_all_clients() -> None:
    """Drop every cached client (tests that open many indexes in one process)."""
    with _lock:
        _clients.clear()


def backend_error(settings: Settings, exc: Exception) -> BackendError:
    """A one-line error for a Chroma failure, saying where and what to do."""
    text = " ".join(str(exc).split())[:200] or type(exc).__name__
    if settings.server_mode:
        return BackendError(
            f"{_where(settings)} is unreachable ({text}); start it with "
            f"`chroma run --path DIR --host {settings.chroma_host} --port {settings.chroma_port}` "
            f"or unset RAGBOT_CHROMA_HOST"
        )
    if any(mark in text.lower() for mark in _DAMAGED):
        return BackendError(f"{_where(settings)} is damaged ({text}); move it aside and run `ragbot ingest` again")
    return BackendError(
        f"{_where(settings)} cannot be read just now ({text}); another process may be writing it: try again"
    )


@contextmanager
def one_line_errors(settings: Settings) -> Iterator[None]:
    """Turn a Chroma failure inside into ``backend_error``'s one line, and drop the client so the
    next call reconnects (a restarted server, a file another process rewrote)."""
    try:
        yield
    except (BackendError, IndexMissingError):
        raise
    except Exception as exc:
        forget_client(settings)
        raise backend_error(settings, exc) from exc


# What SQLite says of a file that is truly damaged (not merely changed by another process).
_DAMAGED = ("malformed", "not a database", "file is encrypted", "disk image")


def open_collection(settings: Settings, *, create: bool = False, embedder_id: str | None = None):
    """The collection holding the chunks. ``create`` makes it (and the folder) if missing.

    Collections get no embedding function of Chroma's (its default downloads a model): ragbot
    always passes vectors it computed itself.
    """
    client = open_client(settings, create=create)
    try:
        if create:
            collection = client.get_or_create_collection(
                settings.collection,
                embedding_function=None,
                metadata={"hnsw:space": "cosine", "embedder": embedder_id or ""},
            )
            found = (collection.metadata or {}).get("embedder")
            if embedder_id and found and found.split("+")[0] != embedder_id.split("+")[0]:
                # Vectors of another model live in another space (maybe another dimension): rebuild.
                # The same model's vectors made another way are re-embedded in place by the writer.
                client.delete_collection(settings.collection)
                collection = client.get_or_create_collection(
                    settings.collection,
                    embedding_function=None,
                    metadata={"hnsw:space": "cosine", "embedder": embedder_id},
                )
            return collection
        return client.get_collection(settings.collection, embedding_function=None)
    except Exception as exc:
        if _is_not_found(exc):
            raise IndexMissingError(
                f"no collection {settings.collection!r} in the {_where(settings)}: run `ragbot ingest` first"
            ) from exc
        if isinstance(exc, (BackendError, IndexMissingError)):
            raise
        forget_client(settings)
        raise backend_error(settings, exc) from exc


def _is_not_found(exc: Exception) -> bool:
    name = type(exc).__name__
    text = str(exc).lower()
    return name in ("NotFoundError", "InvalidCollectionException") or ("does not exist" in text)


def label_embedder(collection, embedder_id: str) -> None:
    """Record in the collection's metadata which embedder made all its vectors."""
    if (collection.metadata or {}).get("embedder") != embedder_id:
        # only the changed key: Chroma refuses a metadata that names the distance again
        collection.modify(metadata={"embedder": embedder_id})


def max_batch(collection) -> int:
    try:
        return int(collection._client.get_max_batch_size())  # noqa: SLF001 - public on the client
    except Exception:
        return 5000


def upsert(collection, ids, vectors, documents, metadatas) -> None:
    """Write in batches within Chroma's maximum batch size."""
    step = max(1, min(max_batch(collection), 5000))
    for i in range(0, len(ids), step):
        collection.upsert(
            ids=ids[i : i + step],
            embeddings=[list(map(float, v)) for v in vectors[i : i + step]] if not hasattr(vectors, "shape") else vectors[i : i + step],
            documents=documents[i : i + step],
            metadatas=metadatas[i : i + step],
        )


def delete(collection, ids) -> None:
    step = max(1, min(max_batch(collection), 5000))
    ids = list(ids)
    for i in range(0, len(ids), step):
        collection.delete(ids=ids[i : i + step])


def iter_metadata(collection, page: int = PAGE) -> Iterator[tuple[list[str], list[dict]]]:
    """All ids with their metadata, a page at a time."""
    offset = 0
    while True:
        got = collection.get(include=["metadatas"], limit=page, offset=offset)
        ids = got["ids"]
        if not ids:
            return
        yield ids, got["metadatas"]
        offset += len(ids)
        if len(ids) < page:
            return


def iter_records(collection, page: int = PAGE) -> Iterator[tuple[list[str], list[str], list[dict]]]:
    """All ids with documents and metadata, a page at a time."""
    offset = 0
    while True:
        got = collection.get(include=["documents", "metadatas"], limit=page, offset=offset)
        ids = got["ids"]
        if not ids:
            return
        yield ids, got["documents"], got["metadatas"]
        offset += len(ids)
        if len(ids) < page:
            return
