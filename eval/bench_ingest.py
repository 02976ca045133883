"""``ragbot bench ingest`` and ``ragbot bench encoders``: ingestion throughput beside its baselines.

``ingest`` measures, in one process and back to back on the same SciFact abstracts (one ``.txt``
file each): ragbot's ingestion into a fresh index; the raw encoder on exactly the chunk texts
ragbot embedded; the LangChain tutorial pipeline; and a re-ingestion of the unchanged corpus.
The encoder is loaded (and warmed) and the libraries both pipelines import (chromadb, bm25s) are
imported before any timing, so no figure includes model loading or imports; the imports are timed
apart (``libraries_import_s``), as a start-up cost of any ingestion process.

The tutorial pipeline is reproduced with its own parts rather than ``langchain-huggingface`` and
``langchain-chroma``, whose installation downgrades huggingface-hub below gradio 6's floor:
``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)`` from
langchain-text-splitters, a LangChain ``Embeddings`` calling ``SentenceTransformer.encode`` as
``HuggingFaceEmbeddings`` does (PyTorch, batch 32, packaged all-MiniLM-L6-v2), and what
``Chroma.from_documents`` does: embed every text, then ``upsert`` uuid-keyed records with metadata
into a default (L2) collection in batches of the client's maximum batch size.
"""
from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from langchain_core.embeddings import Embeddings

from .bench import Timer, bar_plot, bench_result, drop_work, rate, ratio

ENCODER_CHUNKS = 1500  # the fixed sample for comparing encoder backends


class TutorialEmbeddings(Embeddings):
    """What ``langchain_huggingface.HuggingFaceEmbeddings(model_name=...)`` does, over the packaged model."""

    def __init__(self, model_path: str, batch_size: int = 32):
        from sentence_transformers import SentenceTransformer

        self.client = SentenceTransformer(model_path, device="cpu", local_files_only=True)
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        texts = [t.replace("\n", " ") for t in texts]  # as HuggingFaceEmbeddings does
        return self.client.encode(texts, batch_size=self.batch_size, show_progress_bar=False).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def tutorial_pipeline(folder: Path, persist: Path, embeddings: Embeddings) -> dict:
    """The LangChain RAG tutorial's ingestion: load files, split 1000/200, embed all, add to Chroma."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    t0 = time.perf_counter()
    docs = [Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": str(p)})
            for p in sorted(folder.glob("*.txt"))]
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    texts = [d.page_content for d in splits]
    vectors = embeddings.embed_documents(texts)
    client = chromadb.PersistentClient(path=str(persist), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("langchain", embedding_function=None)
    step = client.get_max_batch_size()
    ids = [str(uuid.uuid4()) for _ in texts]
    for i in range(0, len(texts), step):
        collection.upsert(ids=ids[i:i + step], embeddings=vectors[i:i + step], documents=texts[i:i + step],
                          metadatas=[d.metadata for d in splits[i:i + step]])
    seconds = time.perf_counter() - t0
    chars = sum(len(d.page_content) for d in docs)
    return {"seconds": round(seconds, 2), "chunks": len(texts), "chunks_per_s": rate(len(texts), seconds),
            "corpus_chars_per_s": rate(chars, seconds)}


def ragbot_chunk_texts(folder: Path, settings) -> list[str]:
    """The texts ragbot's ingestion hands the encoder for ``folder``, in the same order."""
    from ingest.chunking import ChunkerConfig, split_document
    from ingest.loaders import load_bytes
    from ingest.pipeline import discover

    config = ChunkerConfig(settings.chunk_size, settings.chunk_overlap)
    texts: list[str] = []
    for root, files, _ in discover([folder]):
        for path in files:
            doc = load_bytes(path.read_bytes(), path.relative_to(root).as_posix(), path.suffix)
            texts += [c.embedding_text() for c in split_document(doc, config)]
    return texts


def _corpus(limit: int | None, work: Path, data: str | Path | None = None) -> tuple[Path, int, int]:
    from .scifact import load_scifact, write_corpus

    corpus = load_scifact(data).corpus
    if limit:
        corpus = dict(list(corpus.items())[:limit])
    folder = work / "corpus"
    write_corpus(corpus, folder)
    files = list(folder.glob("*.txt"))
    return folder, sum(f.stat().st_size for f in files), sum(len(f.read_text(encoding="utf-8")) for f in files)


def _slices(folder: Path, n: int) -> list[Path]:
    """Move the corpus files into ``n`` sub-folders of about equal size, in name order."""
    files = sorted(folder.glob("*.txt"))
    n = max(1, min(n, len(files)))
    out = []
    for i in range(n):
        sub = folder / f"slice{i}"
        sub.mkdir()
        for f in files[i::n]:
            f.rename(sub / f.name)
        out.append(sub)
    return out


INGEST_NOTES = (
    "encoder loaded and warmed, chromadb and bm25s imported before timing (libraries_import_s: that import); "
    "ragbot figures include reading, chunking, embedding, Chroma and lexical-index writes",
    "corpus cut into {slices} slices, each run through ragbot, the raw encoder and the tutorial back to back; "
    "figures are sums over the slices",
    "LangChain tutorial rebuilt from langchain-text-splitters + SentenceTransformer (as HuggingFaceEmbeddings, "
    "PyTorch, batch 32) + chromadb upsert (as Chroma.from_documents); langchain-huggingface/langchain-chroma "
    "not installed: they downgrade huggingface-hub below gradio 6's floor",
    "floors: ingest >= 0.90 x raw encoder chunks/s; >= 1.5 x tutorial chars/s; re-ingest < 0.05 x first",
)


def run_ingest(settings, limit: int | None = None, slices: int = 6, data: str | Path | None = None) -> dict:
    """Ingestion, raw encoder, LangChain tutorial and re-ingestion, measured in this one process.

    On a shared machine the load changes from one minute to the next, and a comparison made minutes
    apart measures the load as much as the code. So the corpus is cut into ``slices`` and each slice
    goes through ragbot, the raw encoder and the tutorial back to back (in alternating order); each
    figure is the sum over the slices, so all three saw the same moments of load.
    """
    from ingest.pipeline import ingest
    from rag.embeddings import SentenceEmbeddings, resolve_model_path

    from .bench_pages import page_figures

    work = Path(tempfile.mkdtemp(prefix="ragbot-bench-ingest-"))
    bench = dataclasses.replace(settings, persist_dir=str(work / "chroma"), collection="bench", chroma_host=None)
    try:
        folder, nbytes, nchars = _corpus(limit, work, data)
        parts = _slices(folder, slices)
        emb = SentenceEmbeddings.for_settings(settings)
        emb.encode(["warm up the encoder"] * (2 * settings.embed_batch_size + 1))  # the bulk path too
        tutorial_emb = TutorialEmbeddings(str(resolve_model_path(settings.embedding_model)))
        tutorial_emb.embed_documents(["warm up"] * 4)
        import_s = _import_libraries()
        seconds, counts = _time_slices(parts, bench, emb, tutorial_emb, work)
        with Timer() as t_again:
            again = ingest(parts, bench, embeddings=emb)
        figures = _ingest_figures(settings, parts, nbytes, nchars, seconds, counts, t_again.seconds, again.unchanged)
        figures["libraries_import_s"] = import_s
        figures["pages"] = page_figures(settings, emb)  # PDF and OCR pages/s: also `ragbot bench pages`
    finally:
        drop_work(bench, work)
    notes = [n.format(slices=len(parts)) for n in INGEST_NOTES]
    return bench_result("ingest", figures, limit=limit, notes=notes)


def _import_libraries() -> float:
    """Import what ingestion imports on first use (Chroma, the lexical analyzer); the seconds it took."""
    from rag.retrieval.lexical import tokenize

    with Timer() as t:
        import chromadb  # noqa: F401
        import chromadb.api.rust  # noqa: F401  (the embedded client's bindings, imported by its first client)

        tokenize(["warm up the analyzer"])
    return round(t.seconds, 2)


def _time_slices(parts: list[Path], bench, emb, tutorial_emb, work: Path) -> tuple[dict, dict]:
    """Seconds per slice and chunk totals of ragbot, the raw encoder and the tutorial, run back to back."""
    from ingest.pipeline import ingest

    seconds: dict[str, list[float]] = {"ragbot": [], "raw": [], "tutorial": []}
    counts = {"ragbot": 0, "raw": 0, "tutorial": 0}
    for i, part in enumerate(parts):
        def run_ragbot():
            with Timer() as t:
                counts["ragbot"] += ingest([part], bench, embeddings=emb).chunks_written
            seconds["ragbot"].append(t.seconds)

        def run_raw():
            texts = ragbot_chunk_texts(part, bench)
            with Timer() as t:
                emb.encode(texts)
            seconds["raw"].append(t.seconds)
            counts["raw"] += len(texts)

        def run_tutorial():
            got = tutorial_pipeline(part, work / "langchain", tutorial_emb)
            seconds["tutorial"].append(got["seconds"])
            counts["tutorial"] += got["chunks"]

        steps = [run_ragbot, run_raw, run_tutorial]
        for step in steps if i % 2 == 0 else steps[::-1]:
            step()
    return seconds, counts


def _ingest_figures(settings, parts, nbytes: int, nchars: int, seconds: dict, counts: dict,
                    again_s: float, unchanged: int) -> dict:
    """The benchmark's figures from the per-slice seconds, the chunk counts and the re-ingestion."""
    first, raw_s, tut_s = (sum(seconds[k]) for k in ("ragbot", "raw", "tutorial"))
    chunks, raw_chunks, tutorial_chunks = counts["ragbot"], counts["raw"], counts["tutorial"]
    ragbot = {
        "seconds": round(first, 2), "chunks": chunks, "chunks_per_s": rate(chunks, first),
        "mb_per_s": round(nbytes / 1e6 / first, 4), "corpus_chars_per_s": rate(nchars, first),
    }
    raw = {"seconds": round(raw_s, 2), "chunks": raw_chunks, "chunks_per_s": rate(raw_chunks, raw_s)}
    tutorial = {"seconds": round(tut_s, 2), "chunks": tutorial_chunks, "chunks_per_s": rate(tutorial_chunks, tut_s),
                "corpus_chars_per_s": rate(nchars, tut_s)}
    reingest = {"seconds": round(again_s, 3), "unchanged_files": unchanged, "ratio_to_first": ratio(again_s, first)}
    per_slice = [ratio(t, r) for r, t in zip(seconds["ragbot"], seconds["tutorial"])]
    return {
        "documents": _count_files(parts), "corpus_mb": round(nbytes / 1e6, 3), "corpus_chars": nchars,
        "slices": len(parts), "embedding_backend": settings.embedding_backend,
        "embed_batch_size": settings.embed_batch_size,
        "ragbot_ingest": ragbot, "raw_encoder": raw, "langchain_tutorial": tutorial, "reingest_unchanged": reingest,
        "speedup_vs_tutorial_per_slice": per_slice,
        # the same chunk texts in each slice: raw seconds over ragbot's is ragbot's share of the encoder's chunks/s
        "ingest_vs_raw_encoder_per_slice": [ratio(w, g) for g, w in zip(seconds["ragbot"], seconds["raw"])],
        "floors": {
            "ingest_vs_raw_encoder": ratio(ragbot["chunks_per_s"], raw["chunks_per_s"]),
            "ingest_vs_tutorial_chars_per_s": ratio(ragbot["corpus_chars_per_s"], tutorial["corpus_chars_per_s"]),
            "reingest_vs_first": reingest["ratio_to_first"],
        },
    }


def _count_files(folders: list[Path]) -> int:
    return sum(len(list(f.glob("*.txt"))) for f in folders)


def plot_ingest(result: dict, ax) -> None:
    f = result["figures"]
    bar_plot(
        [f"ragbot ingest\n({f['embedding_backend']})", f"raw encoder\n({f['embedding_backend']})", "LangChain tutorial\n(torch)"],
        [f["ragbot_ingest"]["corpus_chars_per_s"],
         round(f["raw_encoder"]["chunks_per_s"] * f["ragbot_ingest"]["corpus_chars_per_s"] / f["ragbot_ingest"]["chunks_per_s"])
         if f["ragbot_ingest"]["chunks_per_s"] else None,
         f["langchain_tutorial"]["corpus_chars_per_s"]],
        ax, ylabel="corpus characters / s", title=f"Ingestion of {f['documents']} SciFact abstracts",
    )


def run_encoders(settings, limit: int | None = None, backends=("torch", "onnx", "onnx-int8", "openvino"),
                 slices: int = 5, data: str | Path | None = None) -> dict:
    """Chunks/s of each encoder backend on the same SciFact chunk texts, in this process, plus agreement with torch.

    The texts are cut into ``slices``; each slice is encoded by every backend back to back, in a
    rotating order, and each backend's time is its sum over the slices (see ``run_ingest``).
    """
    import numpy as np

    from rag.embeddings import SentenceEmbeddings

    work = Path(tempfile.mkdtemp(prefix="ragbot-bench-enc-"))
    try:
        folder, _, _ = _corpus(limit or 1000, work, data)
        texts = ragbot_chunk_texts(folder, settings)[:ENCODER_CHUNKS]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures: dict = {"chunks": len(texts), "batch_size": settings.embed_batch_size, "slices": slices}
    encoders: dict = {}
    for backend in backends:
        try:
            emb = SentenceEmbeddings(settings.embedding_model, backend, settings.embed_batch_size)
            with Timer() as t_load:
                emb.encode(["warm up"] * (2 * settings.embed_batch_size + 1))
        except Exception as exc:  # a backend that is not installed is reported, not fatal
            figures[backend] = {"error": str(exc)[:200]}
            continue
        encoders[backend] = emb
        figures[backend] = {"load_and_warm_s": round(t_load.seconds, 2)}
    names = list(encoders)
    seconds = {b: 0.0 for b in names}
    vectors: dict = {b: [] for b in names}
    step = -(-len(texts) // max(1, slices))
    for i, start in enumerate(range(0, len(texts), step)):
        part = texts[start:start + step]
        for b in names[i % len(names):] + names[:i % len(names)]:
            with Timer() as t:
                vectors[b].append(encoders[b].encode(part))
            seconds[b] += t.seconds
    reference = np.vstack(vectors[names[0]]) if names else None
    for b in names:
        row = figures[b]
        row.update({"chunks_per_s": rate(len(texts), seconds[b]), "seconds": round(seconds[b], 2)})
        with Timer() as tq:
            for q in texts[:50]:
                encoders[b].encode([q[:200]])
        row["single_query_ms"] = round(tq.ms / 50, 2)
        if b != names[0]:
            row["min_cosine_to_" + names[0]] = round(float(np.min(np.sum(np.vstack(vectors[b]) * reference, axis=1))), 5)
            row["speedup_vs_" + names[0]] = ratio(row["chunks_per_s"], figures[names[0]]["chunks_per_s"])
    return bench_result("encoders", figures, limit=limit,
                        notes=[f"first {len(texts)} ragbot chunks of SciFact abstracts, batch {settings.embed_batch_size}; "
                               f"{slices} slices, each encoded by every backend back to back"])


def plot_encoders(result: dict, ax) -> None:
    f = result["figures"]
    names = [k for k in ("torch", "onnx", "onnx-int8", "openvino") if k in f]
    bar_plot(names, [f[n].get("chunks_per_s") for n in names], ax, ylabel="chunks / s",
             title=f"Encoder throughput, {f['chunks']} SciFact chunks")


def cmd_ingest(args, settings) -> int:
    from .bench import print_figures, write_result

    result = run_ingest(settings, getattr(args, "limit", None), getattr(args, "slices", 6), getattr(args, "data", None))
    print_figures(result)
    write_result(result, args.out, plot_ingest)
    return 0


def cmd_encoders(args, settings) -> int:
    from .bench import print_figures, write_result

    result = run_encoders(settings, getattr(args, "limit", None), data=getattr(args, "data", None))
    print_figures(result)
    write_result(result, args.out, plot_encoders)
    return 0
