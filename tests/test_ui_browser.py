"""The real app in real headless Chromium: first-start ingestion, a cited answer, upload, feedback, removal.

Uses Debian's ``chromium`` package driven by Playwright (never ``playwright install``). Set
``RAGBOT_SCREENSHOT=docs/screenshot.png`` to also write the README screenshot.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from .conftest import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword).*"),
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
REPO = Path(__file__).resolve().parents[1]
UPLOAD = (
    "Zorbland Notes\n\n"
    "The capital of Zorbland is Quillhaven, a harbour city founded by beekeepers in 1742. "
    "Its archive once held a page reading <img src=x onerror=alert('xss')><script>alert('xss')</script> in full.\n"
)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    from rag.settings import Settings
    from ui.app import create_app, launch_app

    tmp = tmp_path_factory.mktemp("ui_browser")
    corpus = tmp / "corpus"
    shutil.copytree(REPO / "data" / "corpus", corpus)
    settings = Settings.from_env(env={}, persist_dir=str(tmp / "chroma"), corpus_dir=str(corpus), mode="extractive")
    demo = create_app(settings, feedback_path=tmp / "feedback.jsonl")  # the real chain, an empty index
    port = free_port()
    launch_app(demo, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield {"url": f"http://127.0.0.1:{port}/", "tmp": tmp, "corpus": corpus}
    finally:
        demo.close()


def ask(page, question: str, turns: int) -> None:
    page.fill("#rb-question textarea", question)
    page.press("#rb-question textarea", "Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#rb-chat .message-row').length >= 2 * n"
        " && !document.querySelector('#rb-sources').innerText.includes('Searching')",
        arg=turns,
        timeout=60_000,
    )


def test_ask_cite_upload_feedback_and_remove_in_a_real_browser(browser, app_url, tmp_path):
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    external: list[str] = []
    dialogs: list[str] = []
    page.route(
        "**/*",
        lambda route: route.continue_()
        if route.request.url.startswith(app_url["url"])
        else (external.append(route.request.url), route.abort()),
    )
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.set_default_timeout(30_000)

    # First start with an empty index: the corpus is ingested with visible progress.
    page.goto(app_url["url"])
    page.wait_for_function("document.body.innerText.includes('First start')", timeout=20_000)
    page.wait_for_function("document.querySelector('#rb-status').innerText.includes('passages')", timeout=120_000)
    assert "1 file" in page.inner_text("#rb-status")

    # A cited answer, its passage with the quote marked, and the passage in its document.
    ask(page, "Who coined the term soft power?", 1)
    assert "Joseph Nye" in page.locator("#rb-chat .message-row").nth(1).inner_text()
    assert page.locator("#rb-chat .rb-cite").count() >= 1
    card = page.locator("#rb-sources .rb-source").first
    assert card.locator(".rb-file").inner_text() == "political-impact-of-military-diplomacy.txt"
    assert "Joseph Nye" in card.locator("mark.rb-quote").first.inner_text()
    card.locator("summary").click()
    assert "Joseph Nye" in card.locator(".rb-doc mark.rb-quote").first.inner_text()
    assert card.locator(".rb-doc .rb-span").is_visible()
    if os.environ.get("RAGBOT_SCREENSHOT"):
        target = Path(os.environ["RAGBOT_SCREENSHOT"])
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target))

    # Upload a document with a distinctive fact (and hostile markup), then ask about it.
    upload = tmp_path / "zorbland notes.txt"
    upload.write_text(UPLOAD)
    page.get_by_role("tab", name="Documents").click()
    page.locator("#rb-upload input[type=file]").set_input_files(str(upload))
    page.wait_for_function("document.querySelector('#rb-report').innerText.includes('Added')", timeout=60_000)
    assert "zorbland_notes.txt" in page.inner_text("#rb-report")
    assert "zorbland_notes.txt" in page.inner_text("#rb-files")
    assert (app_url["corpus"] / "zorbland_notes.txt").read_text() == UPLOAD

    page.get_by_role("tab", name="Ask").click()
    ask(page, "What is the capital of Zorbland?", 2)
    assert "Quillhaven" in page.locator("#rb-chat .message-row").nth(3).inner_text()
    assert "zorbland_notes.txt" in page.inner_text("#rb-sources")
    # The hostile markup is shown as text and never becomes an element.
    assert "<img src=x onerror=alert('xss')>" in page.inner_text("#rb-sources")
    assert page.locator("#rb-sources img, #rb-sources script, #rb-chat img").count() == 0
    assert dialogs == []

    # Thumbs up on the second answer is stored with its question, answer and citations.
    likes = page.locator("#rb-chat button[aria-label=Like]")
    assert likes.count() == 2  # one per answer, none on questions
    likes.last.click()
    feedback = app_url["tmp"] / "feedback.jsonl"
    for _ in range(50):
        if feedback.exists() and feedback.read_text().strip():
            break
        page.wait_for_timeout(100)
    record = json.loads(feedback.read_text().splitlines()[-1])
    assert record["rating"] == "up" and record["question"] == "What is the capital of Zorbland?"
    assert "Quillhaven" in record["answer"] and record["citations"][0]["source"] == "zorbland_notes.txt"

    shot = tmp_path / "ragbot.png"
    page.screenshot(path=str(shot), full_page=True)

    # Removing the uploaded file takes it out of the index and the corpus folder.
    page.get_by_role("tab", name="Documents").click()
    page.locator("#rb-remove-choice input").click()
    page.get_by_role("option", name="zorbland_notes.txt").click()
    page.click("#rb-remove")
    page.wait_for_function("document.querySelector('#rb-report').innerText.includes('Removed')")
    assert "zorbland_notes.txt" not in page.inner_text("#rb-files")
    assert not (app_url["corpus"] / "zorbland_notes.txt").exists()
    assert shot.stat().st_size > 10_000
    assert external == [], f"the page tried to reach the internet: {external}"
    page.close()


def _harbours_and_mines(tmp_path):
    """Two collections of one small file each in one index; returns their settings (no collection)."""
    from ingest.pipeline import ingest
    from rag.settings import Settings

    base = Settings.from_env(env={}, persist_dir=str(tmp_path / "chroma"), mode="extractive")
    for name, text in (("harbours", "The northern harbour pier was opened in 1871 by the port authority."),
                       ("mines", "The copper mine at Falun closed in 1992 after a thousand years of mining.")):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.txt").write_text(text)
        ingest([tmp_path / name], base.replace(collection=name))
    return base


def test_the_document_set_chooser_switches_files_and_answers(browser, tmp_path):
    from ui.app import create_app, launch_app

    base = _harbours_and_mines(tmp_path)
    settings = base.replace(collection="harbours", corpus_dir=str(tmp_path / "harbours"))
    demo = create_app(settings, feedback_path=tmp_path / "feedback.jsonl", examples=[])
    port = free_port()
    launch_app(demo, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    try:
        page.set_default_timeout(30_000)
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_function("(document.querySelector('#rb-status')?.innerText || '').includes('passages')")
        page.locator("#rb-collection input").click()
        page.get_by_role("option", name="mines").click()
        page.wait_for_function("(document.querySelector('#rb-status')?.innerText || '').includes('1 file')")
        page.get_by_role("tab", name="Documents").click()
        page.wait_for_function("(document.querySelector('#rb-files')?.innerText || '').includes('mines.txt')")
        assert "harbours.txt" not in page.inner_text("#rb-files")
        page.get_by_role("tab", name="Ask").click()
        ask(page, "When did the copper mine at Falun close?", 1)
        assert "1992" in page.locator("#rb-chat .message-row").nth(1).inner_text()
        assert "mines.txt" in page.inner_text("#rb-sources")
    finally:
        page.close()
        demo.close()


def test_a_signed_in_key_sees_only_its_document_sets(browser, tmp_path):
    """A login with a read-only key of the key file: only its set is offered and answered from, and
    an upload is refused without touching the index."""
    from ui.api.keys import Logins, add_key
    from ui.app import create_app, launch_app

    base = _harbours_and_mines(tmp_path)
    keys = tmp_path / "keys.toml"
    token = add_key(keys, "mines-reader", ["mines"], write=False)
    logins = Logins.from_env({"RAGBOT_API_KEYS_FILE": str(keys)})
    settings = base.replace(collection="harbours", corpus_dir=str(tmp_path / "harbours"))
    demo = create_app(settings, feedback_path=tmp_path / "feedback.jsonl", examples=[], logins=logins)
    port = free_port()
    launch_app(demo, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True, auth=logins.check)
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    try:
        page.set_default_timeout(30_000)
        page.goto(f"http://127.0.0.1:{port}/")
        page.locator("input[type=text]").first.fill("mines-reader")
        page.locator("input[type=password]").fill(token)
        page.get_by_role("button", name="Login").click()
        page.wait_for_function("(document.querySelector('#rb-status')?.innerText || '').includes('1 file')")
        page.get_by_role("tab", name="Documents").click()
        page.wait_for_function("(document.querySelector('#rb-files')?.innerText || '').includes('mines.txt')")
        assert "harbours.txt" not in page.inner_text("#rb-files")
        page.get_by_role("tab", name="Ask").click()
        ask(page, "When did the copper mine at Falun close?", 1)
        assert "1992" in page.locator("#rb-chat .message-row").nth(1).inner_text()
        assert "harbours" not in page.inner_text("#rb-sources")
        page.get_by_role("tab", name="Documents").click()
        upload = tmp_path / "new.txt"
        upload.write_text("A note that must not be indexed.")
        page.set_input_files("#rb-upload input[type=file]", str(upload))
        page.wait_for_function("(document.querySelector('#rb-report')?.innerText || '').includes('Not allowed')")
        assert not (tmp_path / "harbours" / "new.txt").exists()
    finally:
        page.close()
        demo.close()
