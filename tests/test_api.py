"""The HTTP API over a fake chain (fast): auth, errors as one-line 4xx, admission, conversations, SSE.

The real server, real clients and real models are in test_api_integration.py.
"""
from __future__ import annotations

import json
import threading

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from rag.types import Answer  # noqa: E402
from ui.api import chat  # noqa: E402
from ui.api.auth import authorized, check_binding, keys_from_env  # noqa: E402
from ui.api.limits import Admission  # noqa: E402
from ui.api.routes import create_api  # noqa: E402
from ui.fakes import FakeChain, FakeDoc  # noqa: E402
from ui.handlers import RagbotUI  # noqa: E402

SOFT = "Soft power, a term coined by Joseph Nye, means attraction rather than coercion.\n\nHard power is force."


def make_client(settings, chain=None, keys=frozenset(), pending=8):
    chain = chain or FakeChain([FakeDoc("a.txt", SOFT)])
    ui = RagbotUI(settings, lambda s: chain, feedback_path=settings.persist_dir + "/fb.jsonl")
    return TestClient(create_api(ui.library, api_keys=keys, max_pending=pending), raise_server_exceptions=False), chain


def ask_body(question="Who coined soft power?", **more):
    return {"model": "test", "messages": [{"role": "user", "content": question}], **more}


def test_chat_completion_keeps_markers_and_adds_citations(settings):
    client, _ = make_client(settings)
    r = client.post("/v1/chat/completions", json=ask_body())
    assert r.status_code == 200
    d = r.json()
    assert d["object"] == "chat.completion" and "[1]" in d["choices"][0]["message"]["content"]
    assert d["refused"] is False and d["citations"][0]["source"] == "a.txt"
    assert {"quote", "start", "end", "section"} <= set(d["citations"][0])


def test_refusal_is_an_ordinary_answer_with_a_flag(settings):
    client, _ = make_client(settings)
    d = client.post("/v1/chat/completions", json=ask_body("Zebras of Mars?")).json()
    assert d["refused"] is True and d["citations"] == [] and d["choices"][0]["finish_reason"] == "stop"


def test_messages_become_question_and_history(settings):
    client, chain = make_client(settings)
    msgs = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "Who coined soft power?"},
        {"role": "assistant", "content": "Joseph Nye [1]."},
        {"role": "user", "content": [{"type": "text", "text": "And hard power?"}]},
    ]
    assert client.post("/v1/chat/completions", json={"model": "test", "messages": msgs}).status_code == 200
    assert chain.calls[-1]["question"] == "And hard power?"
    assert chain.calls[-1]["history"] == [["Who coined soft power?", "Joseph Nye [1]."]]


def test_streaming_sends_pieces_then_citations_and_done(settings):
    client, _ = make_client(settings)
    with client.stream("POST", "/v1/chat/completions", json=ask_body(stream=True)) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert "[1]" in text and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["citations"][0]["source"] == "a.txt" and chunks[-1]["refused"] is False


def test_ask_returns_the_answer_json(settings):
    client, _ = make_client(settings)
    d = client.post("/v1/ask", json={"question": "Who coined soft power?"}).json()
    assert {"question", "answer", "refused", "citations", "retrieved", "timings_ms"} <= set(d)


@pytest.mark.parametrize("body, status", [
    ({"model": "test", "messages": []}, 422),
    ({"model": "test"}, 422),
    ({"model": "test", "messages": [{"role": "user", "content": "   "}]}, 400),
    ({"model": "test", "messages": [{"role": "assistant", "content": "hi"}]}, 400),
    ({"model": "test", "messages": [{"role": "wizard", "content": "hi"}]}, 422),
    ({"model": "nope", "messages": [{"role": "user", "content": "hi"}]}, 404),
    ({"model": "test", "messages": [{"role": "user", "content": "x" * 5000}]}, 400),
    ({"model": "test", "messages": [{"role": "user", "content": "hi"}], "mode": "psychic"}, 400),
    ({"model": "test", "messages": [{"role": "user", "content": "hi"}], "k": 0}, 422),
])
def test_bad_bodies_get_a_one_line_4xx(settings, body, status):
    client, _ = make_client(settings)
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and "Traceback" not in detail
    assert r.json()["error"]["message"] == detail


def test_not_json_at_all_is_a_4xx(settings):
    client, _ = make_client(settings)
    r = client.post("/v1/ask", content=b"\xff\x00 not json", headers={"content-type": "application/json"})
    assert r.status_code in (400, 422) and isinstance(r.json()["detail"], str)
    assert client.get("/v1/nowhere").json()["error"]["message"] == "Not Found"


def test_a_chain_failure_is_a_clear_503_without_traceback(settings):
    from rag.errors import BackendError

    client, _ = make_client(settings, FakeChain([], fail=BackendError("Chroma server at h:1 is unreachable")))
    r = client.post("/v1/ask", json={"question": "anything?"})
    assert r.status_code == 503 and "unreachable" in r.json()["detail"] and r.headers["retry-after"]


@pytest.mark.parametrize("header, keys, status", [
    (None, frozenset(), 200),  # loopback without keys
    (None, frozenset({"k1"}), 401),
    ("Bearer wrong", frozenset({"k1"}), 401),
    ("Basic k1", frozenset({"k1"}), 401),
    ("Bearer k1", frozenset({"k1", "k2"}), 200),
    ("bearer k2", frozenset({"k1", "k2"}), 200),
])
def test_auth_table(settings, header, keys, status):
    client, chain = make_client(settings, keys=keys)
    headers = {"Authorization": header} if header else {}
    r = client.post("/v1/ask", json={"question": "Who coined soft power?"}, headers=headers)
    assert r.status_code == status
    if status == 401:
        assert chain.calls == [] and r.headers["www-authenticate"] == "Bearer"  # nothing ran
    assert client.get("/healthz").status_code == 200  # health needs no key


def test_binding_off_loopback_needs_keys():
    from rag.errors import ConfigError

    check_binding("127.0.0.1", frozenset())
    check_binding("0.0.0.0", frozenset({"k"}))
    with pytest.raises(ConfigError, match="RAGBOT_API_KEYS"):
        check_binding("0.0.0.0", frozenset())
    assert keys_from_env({"RAGBOT_API_KEYS": " a, ,b "}) == {"a", "b"}
    assert not authorized("Bearer ", frozenset({"a"}))


def test_saturated_server_answers_503_with_retry_after(settings):
    release = threading.Event()
    started = threading.Event()

    class SlowChain(FakeChain):
        def stream(self, inputs):
            started.set()
            release.wait(10)
            yield from super().stream(inputs)

    client, _ = make_client(settings, SlowChain([FakeDoc("a.txt", SOFT)]), pending=1)
    first = threading.Thread(target=lambda: client.post("/v1/ask", json={"question": "Who coined soft power?"}))
    first.start()
    assert started.wait(10)
    r = client.post("/v1/ask", json={"question": "Who coined soft power?"})
    release.set()
    first.join(10)
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert client.post("/v1/ask", json={"question": "Who coined soft power?"}).status_code == 200


def test_admission_counts_in_and_out():
    a = Admission(2)
    with a.slot():
        with a.slot():
            with pytest.raises(Exception, match="busy"):
                a.enter()
    assert a.inside == 0


def test_upload_list_delete_through_the_api(settings):
    calls = []

    def fake_ingest(paths, s, on_file=None, on_skip=None):
        calls.append(paths)

    ui = RagbotUI(settings, lambda s: FakeChain([]), ingest_fn=fake_ingest, max_upload_bytes=1000)
    client = TestClient(create_api(ui.library), raise_server_exceptions=False)
    r = client.post("/v1/documents", files=[("files", ("../../etc/notes.txt", b"hello world", "text/plain"))])
    assert r.status_code == 200, r.text
    result = r.json()["results"][0]
    assert result["name"] == "notes.txt" and result["status"] == "added"
    assert (settings.corpus_dir and (__import__("pathlib").Path(settings.corpus_dir) / "notes.txt").is_file())
    too_big = client.post("/v1/documents", files=[("files", ("big.txt", b"x" * 2000, "text/plain"))])
    assert too_big.status_code == 413 and "limit" in too_big.json()["detail"]
    bad_type = client.post("/v1/documents", files=[("files", ("x.exe", b"MZ", "application/octet-stream"))])
    assert bad_type.json()["results"][0]["status"] == "rejected"
    assert client.post("/v1/documents").status_code == 422
    assert client.delete("/v1/documents/never.txt").status_code == 404
    assert client.get("/v1/documents").json() == {"documents": []}  # nothing was really indexed by the fake


def test_conversation_pairs_consecutive_user_messages():
    m = [chat.Message(role="user", content="a"), chat.Message(role="user", content="b"),
         chat.Message(role="assistant", content="c"), chat.Message(role="user", content="d")]
    assert chat.conversation(m) == ("d", [("a\nb", "c")])


def test_sse_gives_the_verified_text_when_it_differs_from_the_stream():
    answer = Answer("q", "q", "Verified [1].", False, "local")
    events = list(chat.sse_events(iter(["Raw draft", answer]), "m"))
    last = json.loads(events[-2][6:])
    assert last["replaces_text"] == "Verified [1]." and events[-1] == "data: [DONE]\n\n"


def test_questions_wait_for_the_first_start_indexing(settings, tmp_path):
    import time

    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text(SOFT)
    done = []

    def slow_ingest(paths, s, on_file=None, on_skip=None):
        time.sleep(0.3)
        done.append(paths)

    chain = FakeChain([FakeDoc("a.txt", SOFT)])
    ui = RagbotUI(settings, lambda s: chain, ingest_fn=slow_ingest)
    ui.library.start_first_index()
    client = TestClient(create_api(ui.library), raise_server_exceptions=False)
    assert client.get("/healthz").json()["indexing"] is True
    r = client.post("/v1/ask", json={"question": "Who coined soft power?"})
    assert r.status_code == 200 and done  # answered after the ingestion, not "the index is empty"


def test_a_changed_index_is_not_called_damaged(settings):
    from rag.retrieval.chroma import backend_error

    busy = str(backend_error(settings, RuntimeError("Error executing plan: Internal error: Error finding id")))
    assert "move it aside" not in busy and "try again" in busy
    damaged = str(backend_error(settings, RuntimeError("database disk image is malformed")))
    assert "damaged" in damaged and "move it aside" in damaged


def test_a_stream_the_client_leaves_gives_its_slot_back(settings):
    client, _ = make_client(settings, pending=1)
    with client.stream("POST", "/v1/chat/completions", json=ask_body(stream=True)) as r:
        next(r.iter_lines())  # read the first event, then hang up
    for _ in range(3):  # the one slot is free again each time
        assert client.post("/v1/ask", json={"question": "Who coined soft power?"}).status_code == 200
    assert client.app.state.admission.inside == 0


def test_forget_client_drops_only_the_stale_one(settings):
    from rag.retrieval import chroma as store

    store.forget_all_clients()
    first = store.open_client(settings, create=True)
    store.forget_client(settings, stale=object())  # another thread's view: not ours, nothing dropped
    assert store.cached_client(settings) is first
    store.forget_client(settings, stale=first)
    assert store.cached_client(settings) is None
    store.forget_all_clients()
