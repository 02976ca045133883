"""``ragbot bench ingest`` and ``ragbot bench encoders``: ingestion throughput beside its baselines.

``ingest`` measures, in one process and back to back on the same SciFact abstracts (one ``.txt``
file each): ragbot's ingestion into a fresh index; the raw encoder on exactly the chunk texts
ragbot embedded; the LangChain tutorial pipeline; and a re-ingestion of the unchanged corpus.
With the default ``onnx-int8`` backend, ingestion and the raw encoder are also run the way they ran
before issue 33 (texts batched, so the int8 graph quantized their activations together) beside the
way they run now (one text a run), and ``batch_invariance`` gives the cosine between each of a
sample of the essay's chunks embedded alone and embedded in a batch of 32, both ways.
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

from rag.embeddings import SentenceEmbeddings

from .bench import Timer, bar_plot, bench_result, drop_work, rate, ratio

ENCODER_CHUNKS = 1500  # the fixed sample for comparing encoder backends
ESSAY = Path(__file__).resolve().parent.parent / "data" / "corpus" / "political-impact-of-military-diplomacy.txt"
INVARIANCE_SAMPLE, INVARIANCE_BATCH = 24, 32  # essay chunks compared alone and in a batch of 32


class BatchedInt8Embeddings(SentenceEmbeddings):
    """``onnx-int8`` as it embedded before issue 33: texts batched, their activations quantized
    together (a text's vector moved with its batch-mates), under that embedder's fingerprint."""

    def __init__(self, settings):
        from rag.embeddings import resolve_model_path
        from rag.encoders import load_onnx

        super().__init__(settings.embedding_model, settings.embedding_backend, settings.embed_batch_size)
        self._encoder = load_onnx(resolve_model_path(settings.embedding_model), quantized=True, one_text_a_run=False)

    @property
    def model(self):
        return self._encoder

    @property
    def id(self) -> str:
        return super().id.split("+")[0] + "+int8"


def batch_invariance(emb, texts: list[str], sample: int = INVARIANCE_SAMPLE, batch: int = INVARIANCE_BATCH) -> dict:
    """Cosine between each of ``sample`` chunks (spread over ``texts``) embedded alone and embedded
    in the middle of a batch of ``batch`` texts (the chunks after it, of other lengths): min and mean."""
    import numpy as np

    n = len(texts)
    picks = sorted({int(i) for i in np.linspace(0, n - 1, min(sample, n)).round()})
    cosines = []
    for i in picks:
        alone = emb.encode([texts[i]], batch_size=1)[0]
        mates = [texts[(i + k) % n] for k in range(1, batch)]
        middle = len(mates) // 2
        together = emb.encode([*mates[:middle], texts[i], *mates[middle:]], batch_size=batch)[middle]
        cosines.append(float(alone @ together))
    return {"chunks": len(picks), "batch": batch, "min_cosine": round(min(cosines), 6),
            "mean_cosine": round(sum(cosines) / len(cosines), 6)}


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
    "floors: ingest >= 0.90 x raw encoder chunks/s; >= 1.5 x tutorial chars/s; re-ingest < 0.05 x first; "
    "batch invariance min cosine >= 0.9999; ingest >= 0.90 x the batched int8's chunks/s (issue 33)",
    "batched_int8 (onnx-int8 only): ingestion and raw encoder as before issue 33 (texts batched, activations "
    "quantized per batch), into another collection, run back to back with the others in every slice; "
    "batch_invariance: {sample} of the essay's chunks, each alone and in a batch of {batch}",
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
        batched = BatchedInt8Embeddings(settings) if settings.embedding_backend == "onnx-int8" else None
        if batched is not None:
            batched.encode(["warm up the encoder"] * (2 * settings.embed_batch_size + 1))
        import_s = _import_libraries()
        seconds, counts = _time_slices(parts, bench, emb, tutorial_emb, work, batched)
        with Timer() as t_again:
            again = ingest(parts, bench, embeddings=emb)
        figures = _ingest_figures(settings, parts, nbytes, nchars, seconds, counts, t_again.seconds, again.unchanged)
        figures["batch_invariance"] = _invariance_figures(settings, emb, batched)
        figures["floors"]["batch_invariance_min_cosine"] = figures["batch_invariance"]["now"]["min_cosine"]
        if batched is not None:
            figures["floors"]["ingest_vs_batched_int8"] = figures["batched_int8"]["ingest_speed_ratio"]
        figures["libraries_import_s"] = import_s
        figures["pages"] = page_figures(settings, emb)  # PDF and OCR pages/s: also `ragbot bench pages`
    finally:
        drop_work(bench, work)
    notes = [n.format(slices=len(parts), sample=INVARIANCE_SAMPLE, batch=INVARIANCE_BATCH) for n in INGEST_NOTES]
    return bench_result("ingest", figures, limit=limit, notes=notes)


def _import_libraries() -> float:
    """Import what ingestion imports on first use (Chroma, the lexical analyzer); the seconds it took."""
    from rag.retrieval.lexical import tokenize

    with Timer() as t:
        import chromadb  # noqa: F401
        import chromadb.api.rust  # noqa: F401  (the embedded client's bindings, imported by its first client)

        tokenize(["warm up the analyzer"])
    return round(t.seconds, 2)


def _time_slices(parts: list[Path], bench, emb, tutorial_emb, work: Path, batched=None) -> tuple[dict, dict]:
    """Seconds per slice and chunk totals of ragbot, the raw encoder and the tutorial, run back to
    back; with ``batched`` (the int8 encoder as before issue 33), ragbot's ingestion (into another
    collection) and the raw encoder with it too."""
    from ingest.pipeline import ingest

    names = ["ragbot", "raw", "tutorial"] + (["ragbot_batched", "raw_batched"] if batched is not None else [])
    seconds: dict[str, list[float]] = {k: [] for k in names}
    counts = dict.fromkeys(names, 0)
    for i, part in enumerate(parts):
        def run_ragbot(key="ragbot", settings=bench, embeddings=emb):
            with Timer() as t:
                counts[key] += ingest([part], settings, embeddings=embeddings).chunks_written
            seconds[key].append(t.seconds)

        def run_raw(key="raw", embeddings=emb):
            texts = ragbot_chunk_texts(part, bench)
            with Timer() as t:
                embeddings.encode(texts)
            seconds[key].append(t.seconds)
            counts[key] += len(texts)

        def run_tutorial():
            got = tutorial_pipeline(part, work / "langchain", tutorial_emb)
            seconds["tutorial"].append(got["seconds"])
            counts["tutorial"] += got["chunks"]

        steps = [run_ragbot, run_raw, run_tutorial]
        if batched is not None:
            steps += [lambda: run_ragbot("ragbot_batched", bench.replace(collection="bench-batched"), batched),
                      lambda: run_raw("raw_batched", batched)]
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
        **({"batched_int8": _batched_figures(seconds, counts)} if "ragbot_batched" in seconds else {}),
        "speedup_vs_tutorial_per_slice": per_slice,
        # the same chunk texts in each slice: raw seconds over ragbot's is ragbot's share of the encoder's chunks/s
        "ingest_vs_raw_encoder_per_slice": [ratio(w, g) for g, w in zip(seconds["ragbot"], seconds["raw"])],
        "floors": {
            "ingest_vs_raw_encoder": ratio(ragbot["chunks_per_s"], raw["chunks_per_s"]),
            "ingest_vs_tutorial_chars_per_s": ratio(ragbot["corpus_chars_per_s"], tutorial["corpus_chars_per_s"]),
            "reingest_vs_first": reingest["ratio_to_first"],
        },
    }


def _batched_figures(seconds: dict, counts: dict) -> dict:
    """Ingestion and raw encoder with the batched int8 encoder, and now's speed over theirs."""
    old_s, old_raw_s = sum(seconds["ragbot_batched"]), sum(seconds["raw_batched"])
    new_rate, raw_rate = rate(counts["ragbot"], sum(seconds["ragbot"])), rate(counts["raw"], sum(seconds["raw"]))
    old_rate, old_raw_rate = rate(counts["ragbot_batched"], old_s), rate(counts["raw_batched"], old_raw_s)
    return {
        "ragbot_ingest": {"seconds": round(old_s, 2), "chunks": counts["ragbot_batched"], "chunks_per_s": old_rate},
        "raw_encoder": {"seconds": round(old_raw_s, 2), "chunks": counts["raw_batched"], "chunks_per_s": old_raw_rate},
        # now's chunks/s over the batched way's, both measured in this run, slice by slice back to back
        "ingest_speed_ratio": ratio(new_rate, old_rate),
        "raw_encoder_speed_ratio": ratio(raw_rate, old_raw_rate),
        "ingest_speed_ratio_per_slice": [ratio(o, n) for n, o in zip(seconds["ragbot"], seconds["ragbot_batched"])],
    }


def _invariance_figures(settings, emb, batched) -> dict:
    """``batch_invariance`` on the essay's chunks, for the encoder now and (int8) the batched one."""
    texts = ragbot_chunk_texts(ESSAY, settings)
    out = {"now": batch_invariance(emb, texts)}
    if batched is not None:
        out["batched_int8"] = batch_invariance(batched, texts)
    return out


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
