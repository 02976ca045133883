"""Scoped API keys on a real ``ragbot serve`` process: every cell of key x route x collection over
real HTTP and the official MCP client, keys made with ``ragbot keys add``, and schemathesis with a
scoped key finding no route that shows another collection's text.

The server serves the collection "staff" (the sample essay) beside a collection "public" (one small
file about a harbour), all in one index."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import httpx
import pytest

pytest.importorskip("fastapi")

from eval.serve_process import ServeProcess  # noqa: E402
from tests.conftest import CORPUS, ROOT  # noqa: E402

pytestmark = pytest.mark.integration

PUBLIC_TEXT = "Lindqvist Harbor\n\nThe garrison of Lindqvist Harbor numbered 1,350 soldiers in the winter of 1820.\n"
STAFF_WORD = "Nye"  # in the essay, never in the public file
ADMIN = "admin-token-plain"


def _ragbot(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", **env})


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    import shutil

    tmp = tmp_path_factory.mktemp("keys")
    corpus, public = tmp / "corpus", tmp / "public"
    shutil.copytree(CORPUS, corpus)
    public.mkdir()
    (public / "harbour.txt").write_text(PUBLIC_TEXT)
    env = {"RAGBOT_PERSIST_DIR": str(tmp / "chroma"), "RAGBOT_API_KEYS_FILE": str(tmp / "keys.toml")}
    assert _ragbot("ingest", str(public), "--collection", "public", env=env).returncode == 0
    tokens = {}
    for name, args in {"public-ro": ("--collections", "public", "--read-only"),
                       "staff-rw": ("--collections", "staff,public"),
                       "all-ro": ("--collections", "*", "--read-only")}.items():
        made = _ragbot("keys", "add", name, *args, env=env)
        assert made.returncode == 0, made.stderr
        tokens[name] = made.stdout.strip()
    assert "public-ro\tpublic\tread-only" in _ragbot("keys", "list", env=env).stdout
    tokens["admin"] = ADMIN
    with ServeProcess(corpus, tmp / "chroma", env={**env, "RAGBOT_COLLECTION": "staff", "RAGBOT_API_KEYS": ADMIN}) as s:
        yield s, tokens, tmp


def _headers(token: str | None) -> dict:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _status(s, token, method: str, path: str, **kwargs) -> int:
    return httpx.request(method, f"{s.url}{path}", headers=_headers(token), timeout=120, **kwargs).status_code


# (key, route, collection) -> expected HTTP status. "staff" is the served collection; uploads and
# removals go to its folder, so a write key asking to change "public" over HTTP gets 400.
ASK = ("POST", "/v1/ask")
CHAT = ("POST", "/v1/chat/completions")
LIST = ("GET", "/v1/documents")
UPLOAD = ("POST", "/v1/documents")
DELETE = ("DELETE", "/v1/documents/nope.txt")
TABLE = {
    "public-ro": {ASK: {"public": 200, "staff": 404}, CHAT: {"public": 200, "staff": 404}, LIST: {"public": 200, "staff": 404},
                  UPLOAD: {"public": 403, "staff": 404}, DELETE: {"public": 403, "staff": 404}},
    "staff-rw": {ASK: {"public": 200, "staff": 200}, CHAT: {"public": 200, "staff": 200}, LIST: {"public": 200, "staff": 200},
                 UPLOAD: {"public": 400, "staff": 200}, DELETE: {"public": 400, "staff": 404}},
    "all-ro": {ASK: {"public": 200, "staff": 200}, CHAT: {"public": 200, "staff": 200}, LIST: {"public": 200, "staff": 200},
               UPLOAD: {"public": 403, "staff": 403}, DELETE: {"public": 403, "staff": 403}},
    "admin": {ASK: {"public": 200, "staff": 200}, CHAT: {"public": 200, "staff": 200}, LIST: {"public": 200, "staff": 200},
              UPLOAD: {"public": 400, "staff": 200}, DELETE: {"public": 400, "staff": 404}},
    None: {route: {"public": 401, "staff": 401} for route in (ASK, CHAT, LIST, UPLOAD, DELETE)},
    "wrong": {route: {"public": 401, "staff": 401} for route in (ASK, CHAT, LIST, UPLOAD, DELETE)},
}
MODELS = {"public-ro": ["public"], "staff-rw": ["staff", "public"], "all-ro": ["staff", "public"], "admin": ["staff", "public"]}


def _call(s, token, route, collection) -> int:
    method, path = route
    if route == ASK:
        return _status(s, token, method, path, json={"question": "How many soldiers were at Lindqvist Harbor?",
                                                       "collection": collection})
    if route == CHAT:
        return _status(s, token, method, path, json={"model": collection, "messages": [
            {"role": "user", "content": "How many soldiers were at Lindqvist Harbor?"}]})
    if route == UPLOAD:
        return _status(s, token, method, path, params={"collection": collection},
                       files={"files": ("note.txt", b"A short note about nothing in particular.", "text/plain")})
    return _status(s, token, method, path, params={"collection": collection})


def test_every_cell_of_the_key_table(served):
    s, tokens, _ = served
    wrong = []
    for key, routes in TABLE.items():
        token = tokens.get(key, key)
        for route, by_collection in routes.items():
            for collection, expected in by_collection.items():
                got = _call(s, token, route, collection)
                if got != expected:
                    wrong.append((key, " ".join(route), collection, expected, got))
    assert wrong == []


def test_models_list_only_what_a_key_may_read(served):
    s, tokens, _ = served
    for key, expected in MODELS.items():
        got = httpx.get(f"{s.url}/v1/models", headers=_headers(tokens[key]), timeout=60).json()
        assert [m["id"] for m in got["data"]] == expected, key


def test_a_hidden_collection_looks_like_a_missing_one(served):
    s, tokens, _ = served
    hidden = httpx.post(f"{s.url}/v1/ask", headers=_headers(tokens["public-ro"]), timeout=60,
                        json={"question": "Who coined soft power?", "collection": "staff"}).json()["detail"]
    missing = httpx.post(f"{s.url}/v1/ask", headers=_headers(tokens["public-ro"]), timeout=60,
                         json={"question": "Who coined soft power?", "collection": "nowhere"}).json()["detail"]
    assert "staff" not in missing and hidden.endswith("known: public") and hidden.replace("staff", "X") == missing.replace("nowhere", "X")


def test_answers_quote_only_the_collection_asked(served):
    s, tokens, _ = served
    answer = httpx.post(f"{s.url}/v1/ask", headers=_headers(tokens["public-ro"]), timeout=120,
                        json={"question": "Who coined the term soft power?", "collection": "public"}).json()
    assert STAFF_WORD not in json.dumps(answer)
    assert all(c["source"] == "harbour.txt" for c in answer["citations"])


def _mcp(s, token, calls):
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def run():
        async with httpx2.AsyncClient(headers=_headers(token), timeout=120) as http:
            async with Client(streamable_http_client(f"{s.url}/mcp/", http_client=http)) as c:
                out = []
                for kind, name, arguments in calls:
                    if kind == "tool":
                        out.append(await c.call_tool(name, arguments))
                    else:
                        try:
                            out.append(await c.read_resource(name))
                        except Exception as exc:  # noqa: BLE001 - a refused resource is an MCP error
                            out.append(exc)
                return out

    return asyncio.run(run())


def test_mcp_tools_and_resources_keep_to_the_key(served):
    s, tokens, _ = served
    calls = [("tool", "search", {"query": "soldiers harbour soft power Nye", "collection": "public"}),
             ("tool", "search", {"query": "soft power Nye", "collection": "staff"}),
             ("tool", "ask", {"question": "Who coined the term soft power?", "collection": "staff"}),
             ("resource", "ragbot://documents", None)]
    public_search, staff_search, staff_ask, documents = _mcp(s, tokens["public-ro"], calls)
    assert not public_search.is_error and all(p["source"] == "harbour.txt" for p in public_search.structured_content["result"])
    assert staff_search.is_error and "not a collection here" in staff_search.content[0].text
    assert staff_ask.is_error and STAFF_WORD not in staff_ask.content[0].text
    assert isinstance(documents, Exception)  # the served collection is "staff": hidden from this key
    public_search, staff_search, staff_ask, documents = _mcp(s, tokens["staff-rw"], calls)
    assert not staff_search.is_error and any(STAFF_WORD in p["text"] for p in staff_search.structured_content["result"])
    assert not staff_ask.is_error and not isinstance(documents, Exception)
    with pytest.raises(Exception):
        _mcp(s, "wrong", calls[:1])


def test_schemathesis_with_a_scoped_key_never_shows_the_hidden_collection(served):
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    s, tokens, _ = served
    schema = schemathesis.openapi.from_url(f"{s.url}/openapi.json")
    leaks, errors, calls = [], [], []
    for op in schema.get_all_operations():
        operation = op.ok()

        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call(base_url=s.url, headers=_headers(tokens["public-ro"]), timeout=120)
            calls.append(operation.label)
            if STAFF_WORD in response.text or "political-impact-of-military-diplomacy" in response.text:
                leaks.append((operation.label, response.status_code, response.text[:200]))
            if response.status_code >= 500 and response.status_code != 503:
                errors.append((operation.label, response.status_code, response.text[:200]))

        check()
    assert leaks == [] and errors == []
    assert len(set(calls)) >= 5
