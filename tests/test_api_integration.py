"""``ragbot serve`` for real: a server process on loopback, the real index, encoder and Chroma, and
the official clients (openai, mcp), schemathesis fuzzing and a load of concurrent clients."""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import shutil
import statistics
import sys
import time

import httpx
import pytest

pytest.importorskip("fastapi")
openai = pytest.importorskip("openai")

from eval.chroma_server import ChromaServer  # noqa: E402
from eval.serve_process import ServeProcess  # noqa: E402
from tests.conftest import CORPUS  # noqa: E402

pytestmark = pytest.mark.integration

SOFT_Q = "Who coined the term soft power?"
UNANSWERABLE = "What is the boiling point of mercury on Mars?"


@pytest.fixture(scope="module")
def corpus_copy(tmp_path_factory):
    dest = tmp_path_factory.mktemp("serve") / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


@pytest.fixture(scope="module")
def server(corpus_copy):
    """One server with the page mounted: the page and the API share one index and one model."""
    with ServeProcess(corpus_copy, corpus_copy.with_name("chroma"), args=()) as s:
        yield s


def client(server, key="none"):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


def test_openai_client_gets_an_answer_with_citations(server):
    r = client(server).chat.completions.create(model="ragbot", messages=[{"role": "user", "content": SOFT_Q}])
    d = r.model_dump()
    assert "Nye" in r.choices[0].message.content and "[1]" in r.choices[0].message.content
    assert d["refused"] is False and d["citations"][0]["source"].endswith(".txt")
    c = d["citations"][0]
    text = (CORPUS / c["source"]).read_text()
    assert text[c["start"]:c["end"]] == c["quote"]  # the span points into the file


def test_openai_client_streams_the_answer(server):
    stream = client(server).chat.completions.create(
        model="ragbot", messages=[{"role": "user", "content": SOFT_Q}], stream=True)
    chunks = list(stream)
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    last = chunks[-1].model_dump()
    assert "Nye" in text and last["choices"][0]["finish_reason"] == "stop"
    assert last["citations"] and last["refused"] is False


def test_follow_up_uses_the_conversation(server):
    first = client(server).chat.completions.create(model="ragbot", messages=[{"role": "user", "content": SOFT_Q}])
    follow = client(server).chat.completions.create(model="ragbot", messages=[
        {"role": "user", "content": SOFT_Q},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "What does it refer to?"},
    ])
    d = follow.model_dump()
    assert d["refused"] is False
    assert any("attraction" in c["quote"] or "influence" in c["quote"] for c in d["citations"])


def test_unanswerable_is_refused_and_unknown_model_is_named(server):
    r = client(server).chat.completions.create(model="ragbot", messages=[{"role": "user", "content": UNANSWERABLE}])
    assert r.model_dump()["refused"] is True and r.model_dump()["citations"] == []
    with pytest.raises(openai.NotFoundError, match="'gpt-4o' is not a collection"):
        client(server).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": SOFT_Q}])
    assert [m.id for m in client(server).models.list()] == ["ragbot"]


def test_page_is_served_beside_the_api(server):
    r = httpx.get(f"{server.url}/", timeout=30)
    assert r.status_code == 200 and "gradio" in r.text.lower()
    assert httpx.get(f"{server.url}/docs", timeout=10).status_code == 200


def test_upload_list_delete_and_the_next_answer_reflects_it(server):
    q = "When is the zorblat festival held?"
    before = httpx.post(f"{server.url}/v1/ask", json={"question": q}, timeout=60).json()
    assert before["refused"] is True
    doc = b"The Zorblat Festival\n\nThe zorblat festival is held every April in the town of Quenton."
    r = httpx.post(f"{server.url}/v1/documents", files=[("files", ("zorblat.txt", doc, "text/plain"))], timeout=120)
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "added"
    listed = {d["source"] for d in httpx.get(f"{server.url}/v1/documents", timeout=30).json()["documents"]}
    assert "zorblat.txt" in listed
    after = httpx.post(f"{server.url}/v1/ask", json={"question": q}, timeout=60).json()
    assert after["refused"] is False and after["citations"][0]["source"] == "zorblat.txt"
    assert "April" in after["answer"]
    gone = httpx.delete(f"{server.url}/v1/documents/zorblat.txt", timeout=60)
    assert gone.status_code == 200 and gone.json()["chunks_removed"] >= 1
    again = httpx.post(f"{server.url}/v1/ask", json={"question": q}, timeout=60).json()
    assert again["refused"] is True


def _mcp_calls(target):
    from mcp import Client

    async def run():
        async with Client(target) as c:
            tools = {t.name for t in (await c.list_tools()).tools}
            found = await c.call_tool("search", {"query": "soft power Joseph Nye", "k": 3})
            asked = await c.call_tool("ask", {"question": SOFT_Q})
            docs = await c.read_resource("ragbot://documents")
            return tools, found, asked, docs

    return asyncio.run(run())


def _check_mcp(tools, found, asked, docs):
    assert {"search", "ask"} <= tools
    passages = found.structured_content["result"]
    assert len(passages) == 3 and {"source", "section", "start", "end", "score", "text"} <= set(passages[0])
    assert any("Nye" in p["text"] for p in passages)
    answer = asked.structured_content or json.loads(asked.content[0].text)
    assert answer["refused"] is False and "Nye" in answer["answer"] and answer["citations"]
    assert any(d["source"].endswith(".txt") for d in json.loads(docs.contents[0].text))


def test_mcp_over_http(server):
    _check_mcp(*_mcp_calls(f"{server.url}/mcp/"))


def test_mcp_over_stdio(corpus_copy, tmp_path):
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "rag.cli", "mcp"],
        env={"RAGBOT_CORPUS_DIR": str(corpus_copy), "RAGBOT_PERSIST_DIR": str(tmp_path / "chroma"),
             "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"},
    )
    _check_mcp(*_mcp_calls(params))


def test_api_keys_table_on_a_real_server(corpus_copy, tmp_path):
    with ServeProcess(corpus_copy, tmp_path / "chroma", env={"RAGBOT_API_KEYS": "k1,k2"}) as s:
        body = {"question": SOFT_Q}
        assert httpx.post(f"{s.url}/v1/ask", json=body, timeout=60).status_code == 401
        assert httpx.post(f"{s.url}/v1/ask", json=body, headers={"Authorization": "Bearer nope"}, timeout=60).status_code == 401
        assert httpx.post(f"{s.url}/mcp/", json={}, timeout=60).status_code == 401
        ok = httpx.post(f"{s.url}/v1/ask", json=body, headers={"Authorization": "Bearer k2"}, timeout=60)
        assert ok.status_code == 200 and ok.json()["refused"] is False
        with pytest.raises(openai.AuthenticationError):
            client(s, "nope").models.list()
        assert [m.id for m in client(s, "k1").models.list()] == ["ragbot"]


def test_off_loopback_without_keys_refuses_to_start(tmp_path):
    import subprocess

    r = subprocess.run([sys.executable, "-m", "rag.cli", "serve", "--host", "0.0.0.0", "--port", "1"],
                       capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert r.returncode != 0 and "RAGBOT_API_KEYS" in r.stderr and "Traceback" not in r.stderr


def test_schemathesis_finds_no_server_error(server):
    import schemathesis
    from hypothesis import HealthCheck, settings

    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    failures, calls = [], []
    from hypothesis import given

    for op in schema.get_all_operations():
        operation = op.ok()
        if operation.method.upper() == "DELETE":
            continue

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call(base_url=server.url, timeout=60)
            calls.append(operation.label)
            if response.status_code >= 500 and response.status_code != 503:
                failures.append((operation.label, response.status_code, response.text[:200]))

        check()
    assert failures == []
    assert len(set(calls)) >= 5 and len(calls) >= 60  # every operation but DELETE was really exercised


def test_load_twenty_clients_ten_questions_each(server):
    """Every request answered or cleanly refused with 503; each answer belongs to its own question."""
    questions = [SOFT_Q, "How does the essay define military diplomacy?", "What are the main tasks of a peacekeeping operation?",
                 UNANSWERABLE, "How many member states does NATO currently have?"]
    rss_before = server.rss_mb()

    def one_client(i: int) -> list[tuple[int, float, bool]]:
        out = []
        with httpx.Client(timeout=120) as http:
            for j in range(10):
                q = f"{questions[(i + j) % len(questions)]}"
                t0 = time.perf_counter()
                r = http.post(f"{server.url}/v1/ask", json={"question": q})
                ms = (time.perf_counter() - t0) * 1000
                if r.status_code == 200:
                    out.append((200, ms, r.json()["question"] == q))
                else:
                    assert r.status_code == 503 and r.headers.get("retry-after"), r.text
                    out.append((503, ms, True))
        return out

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = [r for rs in pool.map(one_client, range(20)) for r in rs]
    wall = time.perf_counter() - t0
    answered = [ms for code, ms, _ in results if code == 200]
    assert len(results) == 200 and all(own for _, _, own in results)
    assert answered, "every request was refused"
    print(f"\nload: 20 clients x 10 questions, {len(answered)} answered, {200 - len(answered)} refused with 503, "
          f"{len(answered) / wall:.1f} answers/s, p50 {statistics.median(answered):.0f} ms, "
          f"RSS {rss_before:.0f} -> {server.rss_mb():.0f} MB")


def test_serve_against_a_chroma_server_that_goes_down_and_comes_back(corpus_copy, tmp_path):
    chroma = ChromaServer(tmp_path / "chroma-server").start()
    try:
        env = {"RAGBOT_CHROMA_HOST": "127.0.0.1", "RAGBOT_CHROMA_PORT": str(chroma.port)}
        with ServeProcess(corpus_copy, tmp_path / "unused", env=env) as s:
            r = client(s).chat.completions.create(model="ragbot", messages=[{"role": "user", "content": SOFT_Q}])
            assert "Nye" in r.choices[0].message.content and r.model_dump()["citations"]
            chroma.stop()
            down = httpx.post(f"{s.url}/v1/ask", json={"question": SOFT_Q}, timeout=60)
            assert down.status_code == 503 and "Chroma server" in down.json()["detail"]
            assert "\n" not in down.json()["detail"] and down.headers["retry-after"]
            chroma = ChromaServer(tmp_path / "chroma-server", port=chroma.port).start()
            back = httpx.post(f"{s.url}/v1/ask", json={"question": SOFT_Q}, timeout=60)
            assert back.status_code == 200 and back.json()["refused"] is False  # nothing lost
    finally:
        chroma.stop()


def test_streamed_answer_from_the_local_gguf_model_is_verified(server):
    """mode=local through the API: the text streams as the model writes; the last chunk carries the
    verified answer's citations (and the verified text, when verification changed it)."""
    pytest.importorskip("llama_cpp")
    stream = client(server).chat.completions.create(
        model="ragbot", messages=[{"role": "user", "content": SOFT_Q}], stream=True, extra_body={"mode": "local"})
    chunks = list(stream)
    last = chunks[-1].model_dump()
    streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    final = last.get("replaces_text") or streamed
    assert last["choices"][0]["finish_reason"] == "stop"
    if not last["refused"]:
        assert last["citations"] and "[1]" in final


def test_a_running_server_sees_another_process_ingest(server, corpus_copy, tmp_path):
    """Embedded Chroma, two processes: `ragbot ingest` in a terminal while the server answers."""
    import os
    import subprocess

    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "quokka.txt").write_text("Quokkas\n\nThe quokka census on Rottnest Island counted 12,000 quokkas in 2024.\n")
    q = {"question": "How many quokkas did the census on Rottnest Island count?"}
    assert httpx.post(f"{server.url}/v1/ask", json=q, timeout=60).json()["refused"] is True
    env = {**os.environ, **{k: v for k, v in server.env.items() if k.startswith("RAGBOT_")}}
    subprocess.run([sys.executable, "-m", "rag.cli", "ingest", str(extra)], env=env, check=True,
                   capture_output=True, timeout=300)
    r = httpx.post(f"{server.url}/v1/ask", json=q, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["refused"] is False and r.json()["citations"][0]["source"] == "quokka.txt"
    ok = httpx.post(f"{server.url}/v1/ask", json={"question": SOFT_Q}, timeout=60).json()
    assert ok["refused"] is False  # the old files still answer
