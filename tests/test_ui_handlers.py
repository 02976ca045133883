"""The UI's handlers with a fake chain: escaping, refusals, uploads, feedback, per-session state."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import BackendError, ConfigError, InputError
from rag.settings import Settings
from rag.types import Answer, Citation, Passage
from ui.api.auth import is_loopback as _is_loopback
from ui.api.keys import FULL, NOBODY, Logins
from ui.fakes import FakeChain, FakeDoc
from ui.handlers import RagbotUI
from ui.render import answer_markdown, escape_md, sources_html
from ui.session import Session
from ui.uploads import sanitize_filename, store_upload
from .conftest import tags_of

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "<iframe src=javascript:alert(1)></iframe>",
    "[click](javascript:alert(1))",
    "<a href='javascript:alert(1)'>x</a>",
]
# The only tags ragbot itself puts into answers and the sources panel.
OWN_TAGS = {"div", "span", "mark", "sup", "strong", "p", "details", "summary"}



class Notes:
    """Collects what the UI would show as toasts."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def __call__(self, level: str, message: str) -> None:
        self.items.append((level, message))

    def text(self) -> str:
        return " | ".join(m for _, m in self.items)


SOFT = "Soft Power\n\nSoft power, a term coined by Joseph Nye, refers to attraction rather than coercion.\n\nPeacekeeping is led by the United Nations."


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    return Settings(persist_dir=str(tmp_path / "chroma"), corpus_dir=str(corpus))


def make_ui(settings: Settings, chain: FakeChain, tmp_path: Path, **kw) -> tuple[RagbotUI, Notes]:
    notes = Notes()
    ui = RagbotUI(settings, lambda s: chain, feedback_path=tmp_path / "fb" / "feedback.jsonl", notify=notes, **kw)
    return ui, notes


def run(ui: RagbotUI, question: str, session: Session, mode=None, k=None, refusal=None):
    """Drain the streaming handler; return every yielded update and the last one."""
    outs = list(ui.ask(question, session, mode, k, refusal=refusal))
    return outs, outs[-1]


# -- escaping -------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_document_text_is_escaped_in_chat_and_sources(settings, tmp_path, payload):
    text = f"Soft power, a term coined by Joseph Nye {payload} means attraction."
    (Path(settings.corpus_dir) / "evil.txt").write_text(text)
    ui, _ = make_ui(settings, FakeChain([FakeDoc("evil.txt", text, f"Section {payload}")]), tmp_path)
    _, (_, messages, panel, session) = run(ui, "Who coined soft power?", Session())
    assert session.turns[-1].answer.citations, "the fake chain should have cited the hostile passage"
    assert payload in session.turns[-1].answer.answer  # the hostile text really is in the answer
    chat = messages[-1]["content"]
    for html in (chat, panel):
        tags, attrs = tags_of(html)
        assert tags <= OWN_TAGS, tags - OWN_TAGS
        assert not {"onerror", "onload", "href", "src"} & attrs
    assert "javascript:" not in chat.replace("javascript\\:", "")  # no live link survives Markdown
    assert 'class="rb-doc"' in panel  # the context view was rendered (from the corpus file) and escaped too
    assert "&lt;" in panel or "javascript" in payload


def test_refused_answer_with_hostile_retrieved_passages_is_escaped():
    p = Passage("c1", "x.txt", "<b>sec</b>", "<script>alert(1)</script> text", 0, 30)
    answer = Answer("q", "q", "<img src=x onerror=alert(1)>", True, "extractive", (), (p,))
    tags, _ = tags_of(sources_html(answer))
    assert tags <= OWN_TAGS
    tags, _ = tags_of(answer_markdown(answer.answer, refused=True))
    assert tags <= OWN_TAGS


def test_context_marks_the_quote_in_the_document():
    doc = "Intro. " + "filler words here. " * 50 + "The <quote> sentence. " + "tail text. " * 50
    start = doc.index("The <quote>")
    quote = "The <quote> sentence."
    p = Passage("c1", "d.txt", "S", doc[start - 19 : start + len(quote)], start - 19, start + len(quote))
    c = Citation(1, "c1", "d.txt", "S", quote, start, start + len(quote), 0.5, p.text)
    html = sources_html(Answer("q", "q", "The quote sentence [1].", False, "extractive", (c,), (p,)), lambda _: doc)
    assert '<mark class="rb-quote">The &lt;quote&gt; sentence.</mark>' in html
    assert 'class="rb-span"' in html and "…" in html  # a window of the document, not all of it


def test_context_reports_a_changed_document():
    c = Citation(1, "c1", "d.txt", "", "Gone sentence.", 0, 14, 0.5, "Gone sentence.")
    html = sources_html(Answer("q", "q", "Gone sentence [1].", False, "extractive", (c,), ()), lambda _: "new text")
    assert "changed since it was indexed" in html


def test_escape_md_neutralises_markdown():
    assert escape_md("*a* _b_ [c](d) $$x$$ # h") == "\\*a\\* \\_b\\_ \\[c\\]\\(d\\) \\$\\$x\\$\\$ \\# h"


def test_markers_become_badges_and_several_passages_of_one_file_share_a_card():
    p = Passage("c1", "d.txt", "S", "One. Two.", 0, 9)
    c1 = Citation(1, "c1", "d.txt", "S", "One.", 0, 4, 0.5, p.text)
    c2 = Citation(2, "c1", "d.txt", "S", "Two.", 5, 9, 0.5, p.text)
    md = answer_markdown("One [1]. Two [2].")
    assert md == 'One<sup class="rb-cite">[1]</sup>\\. Two<sup class="rb-cite">[2]</sup>\\.'
    html = sources_html(Answer("q", "q", "One [1]. Two [2].", False, "extractive", (c1, c2), (p,)))
    assert html.count('class="rb-source"') == 1
    assert '<mark class="rb-quote">One.</mark><sup class="rb-cite">[1]</sup>' in html
    assert '<mark class="rb-quote">Two.</mark><sup class="rb-cite">[2]</sup>' in html


# -- refusals, notices, errors ----------------------------------------------------------------


def test_refusal_is_rendered_differently_from_an_answer(settings, tmp_path):
    ui, _ = make_ui(settings, FakeChain([FakeDoc("a.txt", SOFT)], min_overlap=1), tmp_path)
    _, (_, messages, panel, session) = run(ui, "Zygomorphic quasars?", Session())
    assert session.turns[-1].answer.refused
    assert "rb-refusal-msg" in messages[-1]["content"] and "Not found in the documents" in messages[-1]["content"]
    assert 'class="rb-refusal"' in panel and "rb-quote" not in panel
    _, (_, messages, panel, _) = run(ui, "Who coined soft power?", Session())
    assert "rb-refusal" not in messages[-1]["content"] and "rb-refusal" not in panel
    assert "rb-cite" in messages[-1]["content"] and "Joseph Nye" in panel


def test_fallback_notice_is_shown(settings, tmp_path):
    notice = "The local model is unavailable (no GGUF); this is the extractive answer."
    ui, _ = make_ui(settings, FakeChain([FakeDoc("a.txt", SOFT)], notice=notice), tmp_path)
    _, (_, messages, panel, _) = run(ui, "Who coined soft power?", Session(), mode="local")
    assert "rb-notice-msg" in messages[-1]["content"] and escape_md(notice) in messages[-1]["content"]
    assert 'class="rb-notice"' in panel


@pytest.mark.parametrize(
    "error, shown",
    [
        (BackendError("Chroma server at 127.0.0.1:9 is unreachable; start it"), "Chroma server at 127.0.0.1:9 is unreachable"),
        (RuntimeError("secret internals\nTraceback (most recent call last)"), "internal error (RuntimeError)"),
    ],
)
def test_backend_failure_becomes_a_message_not_a_traceback(settings, tmp_path, error, shown):
    ui, notes = make_ui(settings, FakeChain([], fail=error), tmp_path)
    _, (box, messages, panel, session) = run(ui, "Who coined soft power?", Session())
    assert escape_md(shown) in messages[-1]["content"] and shown in panel and shown in notes.text()
    assert "rb-error-msg" in messages[-1]["content"]
    assert "Traceback" not in messages[-1]["content"] + panel + notes.text()
    assert box == "Who coined soft power?"  # the question is kept for a retry
    assert session.history() == []  # a failed turn is not history for the next question


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_warns_without_calling_the_chain(settings, tmp_path, question):
    chain = FakeChain([FakeDoc("a.txt", SOFT)])
    ui, notes = make_ui(settings, chain, tmp_path)
    outs, (_, messages, _, session) = run(ui, question, Session())
    assert len(outs) == 1 and messages == [] and session.turns == ()
    assert chain.calls == [] and notes.items == [("warning", "Type a question first.")]


def test_bad_k_becomes_a_message(settings, tmp_path):
    ui, notes = make_ui(settings, FakeChain([FakeDoc("a.txt", SOFT)]), tmp_path)
    _, (_, messages, _, _) = run(ui, "Who coined soft power?", Session(), k=99)
    assert escape_md("k must be between 1 and 50, got 99") in messages[-1]["content"]


def test_answer_streams_before_it_is_final(settings, tmp_path):
    ui, _ = make_ui(settings, FakeChain([FakeDoc("a.txt", SOFT)]), tmp_path)
    outs, _ = run(ui, "Who coined soft power?", Session())
    partial = [o[1][-1]["content"] for o in outs[1:-1]]
    assert len(partial) >= 3 and partial[0] != partial[-1]
    assert all(o[3].turns == () for o in outs[:-1])  # the session changes only once the answer is final


# -- sessions -------------------------------------------------------------------------------


def test_sessions_keep_their_own_history_and_settings(settings, tmp_path):
    chain = FakeChain([FakeDoc("a.txt", SOFT)])
    ui, _ = make_ui(settings, chain, tmp_path)
    alice, bob = Session(), Session()
    _, (_, _, _, alice) = run(ui, "Who coined soft power?", alice, mode="extractive", k=3, refusal="strict")
    _, (_, _, _, bob) = run(ui, "Who leads peacekeeping?", bob, k=7)
    _, (_, _, _, alice) = run(ui, "What does it refer to?", alice, k=3, refusal="strict")
    assert chain.calls[0] == {"question": "Who coined soft power?", "history": [], "mode": "extractive", "k": 3,
                              "refusal": "strict"}
    assert chain.calls[1]["history"] == [] and chain.calls[1]["k"] == 7 and chain.calls[1]["refusal"] == "balanced"
    assert chain.calls[2]["history"] == [["Who coined soft power?", alice.turns[0].answer.answer]]
    assert [t.question for t in alice.turns] == ["Who coined soft power?", "What does it refer to?"]
    assert [t.question for t in bob.turns] == ["Who leads peacekeeping?"]


def test_session_is_immutable_and_maps_messages_to_turns(settings, tmp_path):
    ui, _ = make_ui(settings, FakeChain([FakeDoc("a.txt", SOFT)]), tmp_path)
    start = Session()
    _, (_, messages, _, after) = run(ui, "Who coined soft power?", start)
    assert start.turns == () and len(after.turns) == 1
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert after.turn_at(1) is after.turns[0] and after.turn_at(2) is None and after.turn_at("x") is None


def test_clicking_an_earlier_answer_shows_its_sources(settings, tmp_path):
    ui, _ = make_ui(settings, FakeChain([FakeDoc("a.txt", SOFT)]), tmp_path)
    _, (_, _, _, first) = run(ui, "Who coined soft power?", Session())
    _, (_, _, _, second) = run(ui, "Which organization leads peacekeeping?", Session())
    s = first.add(second.turns[0])
    assert "Joseph Nye" in ui.sources_for(s, 1) and "United Nations" in ui.sources_for(s, 3)


# -- feedback -------------------------------------------------------------------------------


def test_feedback_is_appended_as_json_lines(settings, tmp_path):
    ui, notes = make_ui(settings, FakeChain([FakeDoc("a.txt", SOFT)]), tmp_path)
    _, (_, _, _, s) = run(ui, "Who coined soft power?", Session(), k=4)
    ui.feedback(s, 1, True)
    ui.feedback(s, [1], False)
    lines = (tmp_path / "fb" / "feedback.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["rating"] for r in records] == ["up", "down"]
    r = records[0]
    assert r["question"] == "Who coined soft power?" and "Joseph Nye" in r["answer"] and r["k"] == 4
    assert r["citations"][0]["source"] == "a.txt" and "Joseph Nye" in r["citations"][0]["quote"]
    assert ("info", "Thanks for the feedback.") in notes.items


def test_feedback_on_a_failed_turn_writes_nothing(settings, tmp_path):
    ui, _ = make_ui(settings, FakeChain([], fail=BackendError("down")), tmp_path)
    _, (_, _, _, s) = run(ui, "q?", Session())
    assert ui.feedback(s, 1, True) is None and ui.feedback(s, 9, True) is None
    assert not (tmp_path / "fb" / "feedback.jsonl").exists()


# -- uploads --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, safe",
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\win.ini.md", "win.ini.md"),
        ("/abs/path/report.TXT", "report.txt"),
        ("ｆｕｌｌ／ｗｉｄｔｈ.txt", "width.txt"),  # fullwidth solidus is a path separator after NFKC
        ("re\u200bsume\u0301.md", "resumé.md"),  # zero-width space dropped, accent composed
        ("日本語 ファイル.md", "日本語_ファイル.md"),
        ("evil\u202etxt.exe", "eviltxt.exe"),  # the bidi override that disguises .exe is removed
        (".hidden.txt", "hidden.txt"),
        ("x..y...txt", "x.y.txt"),
        ("<script>.html", "script.html"),
        ("na\x00me\x1f.txt", "name.txt"),
        ("CON.txt", "document_CON.txt"),
        ("....txt", "document.txt"),
        ("", "document"),
    ],
)
def test_sanitize_filename(raw, safe):
    assert sanitize_filename(raw) == safe


def test_sanitize_filename_bounds_length():
    name = sanitize_filename("é" * 400 + ".pdf")
    assert name.endswith(".pdf") and len(name.encode()) <= 120


@pytest.mark.parametrize("raw", ["../../etc/passwd", "../../x.txt", "a/../../b.md", "ｆｕｌｌ／．．／x.txt", "..\\evil.docx"])
def test_upload_stays_inside_the_corpus_folder(tmp_path, raw):
    corpus = tmp_path / "deep" / "corpus"
    src = tmp_path / "src.bin"
    src.write_text("hello")
    try:
        stored = store_upload(src, raw, corpus)
    except InputError as exc:
        assert "not supported" in str(exc)  # no allowed suffix: refused, nothing written
        assert not corpus.exists() or not any(corpus.iterdir())
        return
    assert stored.path.parent == corpus.resolve() and stored.path.read_text() == "hello"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(["src.bin", stored.name])


def test_upload_never_overwrites_an_unrelated_file(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_text("original")
    new = tmp_path / "notes.txt"
    new.write_text("different")
    first = store_upload(new, "notes.txt", corpus)
    assert (first.name, first.status) == ("notes-2.txt", "added") and first.requested == "notes.txt"
    assert (corpus / "notes.txt").read_text() == "original"
    again = store_upload(new, "notes.txt", corpus)  # the same bytes again: nothing new
    assert (again.name, again.status) == ("notes-2.txt", "unchanged")
    replaced = store_upload(new, "notes.txt", corpus, replace=True)
    assert (replaced.name, replaced.status) == ("notes.txt", "replaced")
    assert (corpus / "notes.txt").read_text() == "different"
    assert sorted(p.name for p in corpus.iterdir()) == ["notes-2.txt", "notes.txt"]


def test_upload_does_not_follow_a_symlink_in_the_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    target = tmp_path / "secret.txt"
    target.write_text("secret")
    (corpus / "a.txt").symlink_to(target)
    src = tmp_path / "up.txt"
    src.write_text("upload")
    stored = store_upload(src, "a.txt", corpus, replace=True)
    assert stored.name == "a-2.txt" and target.read_text() == "secret"


class FakeIngest:
    def __init__(self, skip: dict[str, str] | None = None):
        self.calls: list[list[str]] = []
        self.skip = skip or {}

    def __call__(self, paths, settings, on_file=None, on_skip=None):
        from ingest.types import Skipped

        self.calls.append(list(paths))
        files = [f for p in paths for f in (sorted(Path(p).iterdir()) if Path(p).is_dir() else [Path(p)])]
        for i, f in enumerate(files, 1):
            if on_file:
                on_file(i, len(files), f.name)
            if f.name in self.skip and on_skip:
                on_skip(Skipped(str(f), self.skip[f.name]))


@pytest.mark.parametrize(
    "name, content, limit, message",
    [
        ("tool.exe", b"MZ\x00\x01", 1000, "file type .exe is not supported"),
        ("noext", b"text", 1000, "file type (none) is not supported"),
        ("big.pdf", b"x" * 2001, 2000, "over the"),
        ("empty.txt", b"", 1000, "the file is empty"),
    ],
)
def test_bad_uploads_are_rejected_with_a_message(settings, tmp_path, name, content, limit, message):
    ingest = FakeIngest()
    ui, notes = make_ui(settings, FakeChain([]), tmp_path, max_upload_bytes=limit, ingest_fn=ingest)
    up = tmp_path / "up"
    up.mkdir()
    (up / name).write_bytes(content)
    report = ui.upload([str(up / name)])
    assert "Rejected" in report and escape_md(message) in report and message in notes.text()
    assert ingest.calls == [] and list(Path(settings.corpus_dir).iterdir()) == []


def test_upload_stores_and_ingests_and_reports(settings, tmp_path):
    ingest = FakeIngest(skip={"broken.pdf": "corrupt PDF (bad xref)"})
    ui, notes = make_ui(settings, FakeChain([]), tmp_path, ingest_fn=ingest)
    up = tmp_path / "up"
    up.mkdir()
    (up / "My Notes.txt").write_text("Zorbland's capital is Quillhaven.")
    (up / "broken.pdf").write_bytes(b"%PDF-1.4 nonsense")
    seen = []
    report = ui.upload([str(up / "My Notes.txt"), {"path": str(up / "broken.pdf")}], progress=lambda f, d: seen.append(d))
    corpus = Path(settings.corpus_dir).resolve()
    assert ingest.calls == [[str(corpus / "My_Notes.txt"), str(corpus / "broken.pdf")]]
    assert "**Added:** My\\_Notes\\.txt" in report
    assert escape_md("broken.pdf: corrupt PDF") in report and "corrupt PDF" in notes.text()
    assert sorted(p.name for p in corpus.iterdir()) == ["My_Notes.txt"]  # the unreadable upload is not kept
    assert seen and "My_Notes.txt" in seen[0]


def test_upload_with_nothing_chosen_warns(settings, tmp_path):
    ui, notes = make_ui(settings, FakeChain([]), tmp_path, ingest_fn=FakeIngest())
    assert "Choose" in ui.upload([]) and notes.items


# -- first start, file list, removal ---------------------------------------------------------


def test_first_start_ingests_the_corpus_with_progress(settings, tmp_path):
    ingest = FakeIngest()
    ui, _ = make_ui(settings, FakeChain([]), tmp_path, ingest_fn=ingest)
    assert "no documents" in ui.ensure_index() and ingest.calls == []
    (Path(settings.corpus_dir) / "a.txt").write_text(SOFT)
    seen = []
    ui.ensure_index(progress=lambda f, d: seen.append((f, d)))
    assert ingest.calls == [[settings.corpus_dir]]
    assert all(d.startswith("First start: ") for _, d in seen) and any("a.txt" in d for _, d in seen)
    assert not Path(settings.persist_dir).exists()  # looking at the index did not create one


def _fake_index(settings: Settings, rows: list[tuple[str, str]]) -> None:
    from rag.retrieval import chroma as store

    collection = store.open_collection(settings, create=True, embedder_id="test")
    ids = [f"id{i}" for i in range(len(rows))]
    metas = [{"source": src, "root": root} for src, root in rows]
    store.upsert(collection, ids, [[1.0, 0.0, float(i)] for i in range(len(rows))], ["text"] * len(rows), metas)


def test_list_and_remove_files(settings, tmp_path):
    corpus = Path(settings.corpus_dir)
    (corpus / "a.txt").write_text("A")
    (corpus / "b.txt").write_text("B")
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("keep me")
    root = str(corpus.resolve())
    _fake_index(settings, [("a.txt", root), ("a.txt", root), ("b.txt", root), ("../elsewhere.txt", str(tmp_path))])
    ui, notes = make_ui(settings, FakeChain([]), tmp_path)
    assert ui.library.list_files() == [("../elsewhere.txt", 1), ("a.txt", 2), ("b.txt", 1)]
    assert ui.files_view()[0] == "**Index:** 3 files, 4 passages."
    report = ui.remove("a.txt")
    assert "**Removed:** a\\.txt from the index (2 passages) and deleted its file" in report
    assert not (corpus / "a.txt").exists() and (corpus / "b.txt").exists()
    report = ui.remove("../elsewhere.txt")  # chunks go; a file outside the corpus folder is never deleted
    assert "(1 passage)" in report and "deleted" not in report and outside.read_text() == "keep me"
    assert "not in the index" in ui.remove("nope.txt") and "not in the index" in notes.text()
    assert "Choose a file" in ui.remove(None)
    assert ui.library.list_files() == [("b.txt", 1)]


def test_document_text_never_leaves_the_roots(settings, tmp_path):
    (tmp_path / "secret.txt").write_text("secret")
    (Path(settings.corpus_dir) / "ok.txt").write_text("fine text")
    ui, _ = make_ui(settings, FakeChain([]), tmp_path)
    ok = Citation(1, "x", "ok.txt", "", "fine", 0, 4)
    evil = Citation(1, "x", "../secret.txt", "", "secret", 0, 6)
    assert ui.document(ok).text == "fine text" and ui.document(evil) is None


# -- launch settings ----------------------------------------------------------------------------


@pytest.mark.parametrize("env, required", [
    ({}, False),
    ({"RAGBOT_UI_USER": "ann", "RAGBOT_UI_PASSWORD": "pw"}, True),
    ({"RAGBOT_UI_USER": "", "RAGBOT_UI_PASSWORD": ""}, False),
])
def test_logins_from_env(env, required):
    logins = Logins.from_env(env)
    assert bool(logins) is required
    assert logins.check("ann", "pw") is required and not logins.check("ann", "nope")
    assert logins.scope(None) == (NOBODY if required else FULL)  # a login is asked for: no user, no access


@pytest.mark.parametrize("env", [{"RAGBOT_UI_USER": "ann"}, {"RAGBOT_UI_PASSWORD": "pw"}])
def test_auth_needs_both_user_and_password(env):
    with pytest.raises(ConfigError, match="set both RAGBOT_UI_USER and RAGBOT_UI_PASSWORD"):
        Logins.from_env(env)


def test_key_file_logins_carry_their_scopes(tmp_path):
    from ui.api.keys import add_key

    path = tmp_path / "keys.toml"
    public = add_key(path, "public-site", ["public"], write=False)
    staff = add_key(path, "staff", ["staff", "public"], write=True)
    logins = Logins.from_env({"RAGBOT_API_KEYS_FILE": str(path), "RAGBOT_UI_USER": "ann", "RAGBOT_UI_PASSWORD": "pw"})
    assert logins.check("public-site", public) and logins.check("staff", staff) and logins.check("ann", "pw")
    assert not logins.check("public-site", staff) and not logins.check("staff", "pw") and not logins.check("nobody", public)
    scope = logins.scope("public-site")
    assert scope.reads("public") and not scope.reads("staff") and not scope.writes("public")
    assert logins.scope("staff").writes("staff") and logins.scope("ann") == FULL and logins.scope("mallory") == NOBODY


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("192.168.1.5", False)])
def test_is_loopback(host, loopback):
    assert _is_loopback(host) is loopback


def test_importing_the_ui_is_cheap():
    code = "import sys, ui.app, ui.handlers; print(sorted(m for m in ('gradio', 'chromadb', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
