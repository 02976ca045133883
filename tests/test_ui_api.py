"""The app served on 127.0.0.1 in-process with a fake chain, called through gradio_client.

A real server on a port and a real client: integration (it also imports gradio, 5 s of the fast
suite's start)."""
from __future__ import annotations

import pytest

pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

from rag.settings import Settings  # noqa: E402
from ui.app import create_app, launch_app  # noqa: E402
from ui.fakes import FakeChain, FakeDoc  # noqa: E402

from .conftest import free_port  # noqa: E402

# Gradio's queue uses pandas in ways pandas 3 deprecates; not ours to fix.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword).*"),
]

SOFT = (
    "Soft Power\n\nSoft power, a term coined by Joseph Nye, refers to attraction rather than coercion.\n\n"
    "Peacekeeping missions are often led by the United Nations."
)


class RecordingIngest:
    """Stands in for ingestion: records the files it was handed."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, paths, settings, on_file=None, on_skip=None):
        self.paths.extend(str(p) for p in paths)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui_api")
    corpus = tmp / "corpus"
    corpus.mkdir()
    (corpus / "soft.txt").write_text(SOFT)
    settings = Settings(persist_dir=str(tmp / "chroma"), corpus_dir=str(corpus))
    chain = FakeChain([FakeDoc("soft.txt", SOFT, "Soft Power")])
    ingest = RecordingIngest()
    demo = create_app(settings, lambda s: chain, feedback_path=tmp / "feedback.jsonl", ingest_on_start=False,
                      ingest_fn=ingest, max_upload_bytes=1000)
    port = free_port()
    launch_app(demo, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True, max_upload_bytes=1000)
    try:
        yield {"url": f"http://127.0.0.1:{port}/", "chain": chain, "corpus": corpus, "ingest": ingest, "demo": demo}
    finally:
        demo.close()


def client(url: str, **kw):
    return gradio_client.Client(url, verbose=False, analytics_enabled=False, download_files=False, **kw)


def test_binds_to_loopback(served):
    assert served["demo"].server_name == "127.0.0.1"


def test_ask_returns_the_answer_and_its_sources(served):
    c = client(served["url"])
    box, messages, panel = c.predict("Who coined soft power?", "extractive", 4, api_name="/ask")
    assert box == ""
    answer = messages[-1]["content"][0]["text"] if isinstance(messages[-1]["content"], list) else messages[-1]["content"]
    assert "Joseph Nye" in answer and 'class="rb-cite">[1]' in answer
    assert "soft.txt" in panel and '<mark class="rb-quote">Soft power, a term coined by Joseph Nye' in panel
    assert 'class="rb-doc"' in panel  # the passage in its document, loaded from the corpus folder
    assert served["chain"].calls[-1]["k"] == 4


def test_each_client_session_keeps_its_own_history(served):
    chain = served["chain"]
    first, second = client(served["url"]), client(served["url"])
    first.predict("Who coined soft power?", "extractive", 5, api_name="/ask")
    first.predict("What does it refer to?", "extractive", 5, api_name="/ask")
    assert chain.calls[-1]["history"] and chain.calls[-1]["history"][0][0] == "Who coined soft power?"
    second.predict("Who leads peacekeeping missions?", "extractive", 5, api_name="/ask")
    assert chain.calls[-1]["history"] == []


def test_empty_question_changes_nothing(served):
    calls = len(served["chain"].calls)
    box, messages, _ = client(served["url"]).predict("   ", "extractive", 5, api_name="/ask")
    assert messages == [] and len(served["chain"].calls) == calls


def test_upload_through_the_api(served, tmp_path):
    good = tmp_path / "zorbland facts.txt"
    good.write_text("The capital of Zorbland is Quillhaven.")
    bad = tmp_path / "tool.exe"
    bad.write_bytes(b"MZ\x00\x01")
    c = client(served["url"])
    files = [gradio_client.handle_file(str(good)), gradio_client.handle_file(str(bad))]
    try:
        result = c.predict(files, False, api_name="/upload")
    except Exception as exc:  # Gradio itself may refuse the .exe before the handler sees it
        assert "exe" in str(exc).lower() or "type" in str(exc).lower()
        result = c.predict([gradio_client.handle_file(str(good))], False, api_name="/upload")
    else:
        assert "not supported" in result[0]
    report = result[0]
    assert "zorbland\\_facts\\.txt" in report
    stored = served["corpus"] / "zorbland_facts.txt"
    assert stored.read_text() == "The capital of Zorbland is Quillhaven."
    assert str(stored.resolve()) in served["ingest"].paths
    assert not (served["corpus"] / "tool.exe").exists()


def test_oversize_upload_is_refused(served, tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("x" * 5000)
    c = client(served["url"])
    with pytest.raises(Exception, match="(?i)size|large|limit"):
        c.predict([gradio_client.handle_file(str(big))], False, api_name="/upload")
    assert not (served["corpus"] / "big.txt").exists()


def test_login_from_the_environment(tmp_path):
    settings = Settings(persist_dir=str(tmp_path / "chroma"), corpus_dir=str(tmp_path))
    demo = create_app(settings, lambda s: FakeChain([FakeDoc("a.txt", SOFT)]), ingest_on_start=False,
                      feedback_path=tmp_path / "fb.jsonl")
    port = free_port()
    launch_app(demo, host="127.0.0.1", port=port, auth=("ann", "s3cret"), prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        with pytest.raises(Exception):
            client(url)
        with pytest.raises(Exception):
            client(url, auth=("ann", "wrong"))
        _, messages, _ = client(url, auth=("ann", "s3cret")).predict("Who coined soft power?", "extractive", 5, api_name="/ask")
        assert messages
    finally:
        demo.close()
