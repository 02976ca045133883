"""Faults: ingestion killed with SIGKILL, a Chroma server that goes down and comes back, an LLM server that stalls or dies."""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from ingest.pipeline import ingest
from rag import build_chain
from rag.retrieval import chroma as store
from rag.errors import BackendError
from rag.gate import Gate
from rag.settings import Settings
from rag.types import Passage

from .conftest import CORPUS, ROOT, FakeEmbeddings, write_abstracts
from .reliability_helpers import lexical_state, ragbot, read_index, snapshot

ALWAYS = Gate({}, 10.0, 0.5, {})




def _metadata(persist_dir: Path) -> list[dict]:
    rows = read_index(
        persist_dir,
        "SELECT e.embedding_id, m.key, m.string_value, m.int_value FROM embeddings e "
        "JOIN embedding_metadata m ON m.id = e.id WHERE m.key IN ('source', 'file_hash', 'file_chunks')",
    )
    out: dict[str, dict] = {}
    for cid, key, s, i in rows:
        out.setdefault(cid, {"id": cid})[key] = s if s is not None else i
    return list(out.values())


@pytest.mark.integration
def test_sigkill_at_random_points_never_loses_or_duplicates(tmp_path, real_embeddings):
    """Three SIGKILLs at random points (one while files change), each leaving an index that answers; the next run completes it."""
    rng = random.Random(int(os.environ.get("RAGBOT_FAULT_SEED", "7")))
    docs = write_abstracts(tmp_path / "abstracts", 60)
    persist = tmp_path / "killed"
    # ONNX: the same weights and vector space as torch (same embedder id), loaded in 3 s instead of 15
    env = {"RAGBOT_INGEST_FLUSH_CHUNKS": "8", "RAGBOT_PERSIST_DIR": str(persist), "RAGBOT_EMBEDDING_BACKEND": "onnx"}
    kills = []
    for round_ in range(3):
        if round_ == 1:  # files change between runs: the update path (write new, then drop stale) is killed too
            for p in sorted(docs.iterdir())[:20]:
                p.write_text(p.read_text() + "This abstract was revised after review.\n")
        target = rng.randint(8, 48)
        extra_delay = rng.choice([0.0, rng.uniform(0.0, 0.4)])  # on a batch boundary, or somewhere inside the next
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("RAGBOT_")} | env
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "ingest", str(docs), "--verbose"],
            env=full_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        written = 0
        for line in proc.stderr:
            if line.startswith("written "):
                written = int(line.split()[1])
                if written >= target:
                    break
        time.sleep(extra_delay)
        finished = proc.poll() is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        kills.append({"round": round_, "after_written": written, "delay": round(extra_delay, 3), "finished_first": finished})
        assert not finished, f"ingestion finished before kill {round_}; use more documents"
        # the half-written index answers (a copy, so no client of this process caches the live one)
        copy = tmp_path / f"copy{round_}"
        shutil.copytree(persist, copy)
        a = build_chain(Settings(persist_dir=str(copy)), embeddings=real_embeddings).invoke(
            {"question": "What is the effect of vitamin D on bone density?"}
        )
        assert a.retrieved and (a.refused or a.citations)
        assert len(snapshot(copy)) == len({cid for cid, _ in snapshot(copy)})
    rerun = ragbot("ingest", str(docs), "--json", env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["unchanged"] > 0 and not summary["skipped"]
    clean = Settings(persist_dir=str(tmp_path / "clean"), collection="ragbot")
    ingest([docs], clean, embeddings=FakeEmbeddings())  # chunk ids depend on content and chunker, not on the vectors
    ids_killed = [cid for cid, _ in snapshot(persist)]
    ids_clean = [cid for cid, _ in snapshot(tmp_path / "clean")]
    assert len(ids_killed) == len(set(ids_killed))
    assert sorted(ids_killed) == sorted(ids_clean), "chunks missing or orphaned after the kills"
    # no orphans: every chunk belongs to the current version of an existing file, and each file is whole
    meta = _metadata(persist)
    per_source = Counter(m["source"] for m in meta)
    hashes = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in docs.iterdir()}
    for m in meta:
        assert m["file_hash"] == hashes[m["source"]]
        assert m["file_chunks"] == per_source[m["source"]]
    assert set(per_source) == set(hashes)
    # the lexical index holds exactly the same chunks, once each, and its manifest the current versions
    lexical_ids, manifest = lexical_state(persist)
    assert len(lexical_ids) == len(set(lexical_ids)), "a chunk twice in the lexical index"
    assert sorted(lexical_ids) == sorted(ids_killed), "lexical index out of step with Chroma after the kills"
    assert {json.loads(k)[1]: v for k, v in manifest.items()} == {s: (hashes[s], n) for s, n in per_source.items()}
    print(f"\nkills: {kills}; chunks: {len(ids_killed)} in {len(per_source)} files; duplicates 0; orphans 0")


# -- a Chroma server that goes down and comes back ------------------------------------------------

@pytest.mark.integration
def test_chroma_server_down_then_back_recovers_without_restarting(tmp_path):
    from ui.handlers import RagbotUI
    from ui.session import Session

    from .chroma_server import ChromaServer

    server = ChromaServer(tmp_path / "server-data").start()
    settings = Settings(persist_dir=str(tmp_path / "cache"), collection="served", chroma_host="127.0.0.1",
                        chroma_port=server.port, corpus_dir=str(CORPUS))
    try:
        emb = FakeEmbeddings()
        ingest([CORPUS], settings, embeddings=emb)
        chain = build_chain(settings, embeddings=emb, gate=ALWAYS)
        ui = RagbotUI(settings, lambda s: chain, feedback_path=tmp_path / "fb.jsonl")
        q = {"question": "Who coined the term soft power?"}
        before = chain.invoke(q)
        assert before.citations

        server.stop()
        for _ in range(2):  # down: a clear one-line error every time, not a hang or a traceback
            with pytest.raises(BackendError, match="unreachable") as info:
                chain.invoke(q)
            assert "\n" not in str(info.value) and f"127.0.0.1:{server.port}" in str(info.value)
        *_, (_, _, panel, session) = list(ui.ask(q["question"], Session()))
        assert "unreachable" in panel and session.turns[-1].error

        server.start()  # same port, same data
        after = chain.invoke(q)  # the same chain object, no restart of ragbot
        assert after.answer == before.answer and [c.chunk_id for c in after.citations] == [c.chunk_id for c in before.citations]
        *_, (_, _, panel, session) = list(ui.ask(q["question"], session))
        assert session.turns[-1].answer is not None and "rb-source" in panel
    finally:
        server.stop()
        store.forget_client(settings)


# -- an LLM server that stalls or dies ---------------------------------------------------------------

NYE = "Soft power, a term coined by Joseph Nye, refers to the ability to influence others through attraction. It matters."
PASSAGES = [Passage("c1", "essay.txt", "Soft Power", NYE, 100, 100 + len(NYE), 0.8)]


class FixedRetriever:
    def search(self, query, k=None, method="hybrid"):
        return list(PASSAGES)


def _sse(content: str) -> bytes:
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
             "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
    return f"data: {json.dumps(chunk)}\n\n".encode()


class MisbehavingLLM:
    """An OpenAI-compatible endpoint on loopback that fails in one chosen way."""

    def __init__(self, behaviour: str):
        self.behaviour = behaviour
        self.release = threading.Event()
        self.requests = 0
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                outer.requests += 1
                sock = self.request
                data = b""
                while b"\r\n\r\n" not in data:
                    got = sock.recv(65536)
                    if not got:
                        return
                    data += got
                head, body = data.split(b"\r\n\r\n", 1)
                length = next((int(ln.split(b":")[1]) for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")), 0)
                while len(body) < length:
                    body += sock.recv(65536)
                outer.serve(sock)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        # a short poll: shutdown() waits for it (0.5 s by default, most of this test's time)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def serve(self, sock: socket.socket) -> None:
        b = self.behaviour
        stream_head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

        def chunk(payload: bytes) -> bytes:
            return b"%x\r\n%s\r\n" % (len(payload), payload)

        if b == "stall":  # accepts, reads the request, never answers
            self.release.wait(30)
        elif b == "close":  # accepts and hangs up
            pass
        elif b == "http-500":
            body = b'{"error": {"message": "model crashed"}}'
            sock.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        elif b == "garbage":
            body = b"<html>not an API</html>"
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        elif b == "dies-mid-stream":  # two tokens, then the connection drops without ending the stream
            sock.sendall(stream_head + chunk(_sse("Joseph")) + chunk(_sse(" Nye")))
            time.sleep(0.1)
        elif b == "stalls-mid-stream":  # two tokens, then silence
            sock.sendall(stream_head + chunk(_sse("Joseph")) + chunk(_sse(" Nye")))
            self.release.wait(30)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


BEHAVIOURS = ["stall", "close", "http-500", "garbage", "dies-mid-stream", "stalls-mid-stream"]


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_llm_server_that_stalls_or_dies_falls_back_to_extractive(behaviour):
    pytest.importorskip("langchain_openai")
    llm_server = MisbehavingLLM(behaviour)
    try:
        settings = Settings(persist_dir="/nonexistent", mode="openai", openai_base_url=f"http://127.0.0.1:{llm_server.port}/v1",
                            llm_timeout=0.3)
        emb = FakeEmbeddings()
        chain = build_chain(settings, embeddings=emb, retriever=FixedRetriever(), gate=ALWAYS)
        extractive = build_chain(settings.replace(mode="extractive"), embeddings=emb, retriever=FixedRetriever(), gate=ALWAYS)
        q = {"question": "Who coined the term soft power?"}
        parts = list(chain.stream(q))
        a = parts[-1]
        assert llm_server.requests >= 1
        assert not a.refused and a.mode == "openai"
        assert "extractive answer" in a.notice and "\n" not in a.notice, a.notice
        assert a.answer == extractive.invoke(q).answer and a.citations
    finally:
        llm_server.close()
