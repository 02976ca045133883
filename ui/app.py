"""The Gradio app: ``create_app`` builds it (testable, nothing launched), ``launch_app``/``cmd_ui`` serve it.

Gradio is imported inside these functions only, so importing ``ui.app`` costs nothing.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

from rag.errors import InputError
from rag.settings import MODES, REFUSAL_LEVELS, Settings

from .api.auth import is_loopback
from .api.keys import Logins
from .handlers import RagbotUI
from .render import sources_html
from .session import Session
from .uploads import ALLOWED_SUFFIXES, MAX_UPLOAD_BYTES

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
SHIPPED_CORPUS_FILE = "political-impact-of-military-diplomacy.txt"
SHIPPED_EXAMPLES = [
    "Who coined the term soft power?",
    "How does the essay define military diplomacy?",
    "What are the main tasks of a peacekeeping operation?",
    "How do bilateral military engagements differ from multilateral ones?",
    "How many member states does NATO currently have?",
]
MODE_HELP = {
    "extractive": "extractive: quotes the best sentences (no language model, fastest)",
    "local": "local: a small GGUF model on this machine",
    "ollama": "ollama: a model served by Ollama",
    "openai": "openai: any OpenAI-compatible server",
}
REFUSAL_HELP = {  # each level is named by the share of answerable questions it refuses on dev
    "strict": "strict: refuses whatever it is unsure of (about 15% of answerable questions too)",
    "balanced": "balanced (about 8%)",
    "lenient": "lenient: answers unless clearly not in the documents (about 3%)",
}


def _gradio():
    """Import gradio with its telemetry off (the app must not phone home)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import gradio as gr

    return gr


def default_examples(settings: Settings) -> list[str]:
    """Example questions, when the shipped sample corpus is the one being served."""
    return SHIPPED_EXAMPLES if (Path(settings.corpus_dir) / SHIPPED_CORPUS_FILE).is_file() else []


def create_app(
    settings: Settings,
    chain_factory: Callable[[Settings], object] | None = None,
    *,
    feedback_path: str | Path | None = None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    examples: list[str] | None = None,
    ingest_on_start: bool = True,
    ask_concurrency: int = 2,
    ingest_fn: Callable | None = None,
    logins: Logins | None = None,
):
    """Build the ragbot Blocks app without launching it. ``logins`` (default: from the environment)
    say what each signed-in user may read and change."""
    gr = _gradio()
    logins = logins if logins is not None else Logins.from_env()

    def notify(level: str, message: str) -> None:
        (gr.Info if level == "info" else gr.Warning)(message)

    ui = RagbotUI(
        settings,
        chain_factory,
        feedback_path=feedback_path or os.environ.get("RAGBOT_FEEDBACK_FILE") or "data/feedback.jsonl",
        max_upload_bytes=max_upload_bytes,
        notify=notify,
        ingest_fn=ingest_fn,
    )
    examples = default_examples(settings) if examples is None else examples

    with gr.Blocks(title="ragbot", analytics_enabled=False) as demo:
        c = SimpleNamespace(session=gr.State(Session()))
        _build_header(gr, c, settings.collection)
        with gr.Tabs():
            with gr.Tab("Ask", id="ask", elem_id="rb-tab-ask"):
                _build_ask_tab(gr, c, settings, examples)
            with gr.Tab("Documents", id="documents", elem_id="rb-tab-docs"):
                _build_documents_tab(gr, c, max_upload_bytes)
        _wire_ask_events(gr, ui, c, ask_concurrency, logins)
        _wire_document_events(gr, ui, c, demo, ingest_on_start, logins)

    demo.ragbot, demo.ragbot_logins = ui, logins  # for tests, launching and embedding applications
    return demo


def _build_header(gr, c: SimpleNamespace, collection: str) -> None:
    """The title block and the index status line."""
    gr.HTML(
        '<div id="rb-header"><h1>ragbot</h1>'
        "<p>Answers from your documents, each claim linked to the passage that supports it.</p></div>",
        padding=False,
        elem_id="rb-header-block",
    )
    with gr.Row(equal_height=True):
        c.status = gr.Markdown("**Index:** checking…", elem_id="rb-status")
        # Document sets made with `ragbot ingest --collection NAME`; questions and the file list follow it.
        c.collection = gr.Dropdown(choices=[collection], value=collection, label="Document set", scale=0,
                                   min_width=220, visible=False, elem_id="rb-collection")


def _build_ask_tab(gr, c: SimpleNamespace, settings: Settings, examples: list[str]) -> None:
    """The conversation column (chat, question, examples, settings) and the sources column."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            c.chatbot = gr.Chatbot(
                label="Conversation",
                show_label=False,
                elem_id="rb-chat",
                height=540,
                layout="bubble",
                feedback_options=("Like", "Dislike"),
                latex_delimiters=[],
                buttons=["copy"],
                placeholder="Ask a question about the documents. Answers cite their sources as [1], [2], …",
            )
            with gr.Row(equal_height=True):
                c.question = gr.Textbox(
                    placeholder="Ask a question about your documents…",
                    show_label=False,
                    lines=1,
                    max_lines=4,
                    scale=6,
                    autofocus=True,
                    elem_id="rb-question",
                )
                c.ask_btn = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="rb-ask")
            if examples:
                gr.Examples(examples=[[q] for q in examples], inputs=[c.question], label="Example questions")
            with gr.Row():
                c.clear_btn = gr.Button(
                    "New conversation", size="sm", variant="secondary", scale=0, min_width=160, elem_id="rb-clear"
                )
            _build_answer_settings(gr, c, settings)
        with gr.Column(scale=2, min_width=320):
            gr.Markdown("### Sources", elem_id="rb-sources-title")
            c.sources = gr.HTML(sources_html(None), elem_id="rb-sources", padding=False)


def _build_answer_settings(gr, c: SimpleNamespace, settings: Settings) -> None:
    """The per-session answer mode, k and refusal level."""
    with gr.Accordion("Answer settings (this session only)", open=False):
        c.mode = gr.Dropdown(
            choices=[(MODE_HELP.get(m, m), m) for m in MODES],
            value=settings.mode,
            label="Answer mode",
            elem_id="rb-mode",
        )
        c.k = gr.Slider(
            minimum=1, maximum=max(20, settings.k), step=1, value=settings.k,
            label="Passages handed to the answer step (k)", elem_id="rb-k",
        )
        c.refusal = gr.Radio(
            choices=[(REFUSAL_HELP.get(level, level), level) for level in REFUSAL_LEVELS],
            value=settings.refusal,
            label="How readily to say the documents don't answer",
            elem_id="rb-refusal",
        )


def _build_documents_tab(gr, c: SimpleNamespace, max_upload_bytes: int) -> None:
    """The upload column and the indexed-files column."""
    mb = max_upload_bytes / (1024 * 1024)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            c.upload = gr.File(
                label=f"Add documents ({' '.join(ALLOWED_SUFFIXES)}; up to {mb:.0f} MB each)",
                file_count="multiple",
                file_types=list(ALLOWED_SUFFIXES),
                type="filepath",
                elem_id="rb-upload",
            )
            c.replace = gr.Checkbox(
                value=False,
                label="Replace a file with the same name (otherwise the upload is renamed)",
                elem_id="rb-replace",
            )
            c.report = gr.Markdown(elem_id="rb-report")
        with gr.Column(scale=3, min_width=360):
            c.files_table = gr.Dataframe(
                headers=["File", "Passages"],
                datatype=["str", "number"],
                value=[],
                interactive=False,
                label="Indexed files",
                elem_id="rb-files",
            )
            with gr.Row(equal_height=True):
                c.to_remove = gr.Dropdown(choices=[], value=None, label="File to remove", scale=3, elem_id="rb-remove-choice")
                c.remove_btn = gr.Button("Remove from index", variant="secondary", scale=1, min_width=150, elem_id="rb-remove")
            c.refresh_btn = gr.Button("Refresh list", size="sm", elem_id="rb-refresh")


def _with_request(gr, fn):
    """``fn`` with its ``request`` parameter typed, so Gradio passes the signed-in user's request."""
    fn.__annotations__ = {**fn.__annotations__, "request": gr.Request}
    return fn


def _wire_ask_events(gr, ui: RagbotUI, c: SimpleNamespace, ask_concurrency: int, logins: Logins) -> None:
    """Asking, feedback, picking an answer to show its sources, and a new conversation."""

    def ask(q, sess, mode_value, k_value, refusal_value, collection, request=None):
        target = collection or ui.settings.collection
        if not logins.scope(getattr(request, "username", None)).reads(target):
            ui.notify("warning", f"This login cannot ask the document set {target!r}.")
            yield q, sess.messages() if isinstance(sess, Session) else [], sources_html(None), sess
            return
        yield from ui.ask(q, sess, mode_value, k_value, collection, refusal_value)

    _with_request(gr, ask)

    gr.on(
        triggers=[c.ask_btn.click, c.question.submit],
        fn=ask,
        inputs=[c.question, c.session, c.mode, c.k, c.refusal, c.collection],
        outputs=[c.question, c.chatbot, c.sources, c.session],
        api_name="ask",
        concurrency_limit=ask_concurrency,
        concurrency_id="ask",
        show_progress="minimal",
    )

    def on_like(sess, data):
        ui.feedback(sess, data.index, data.liked)

    # Real classes, not strings: Gradio finds event-data parameters by their resolved type hints.
    on_like.__annotations__ = {"data": gr.LikeData}

    c.chatbot.like(on_like, inputs=[c.session], outputs=None, api_visibility="undocumented")

    def on_select(sess, data):
        return ui.sources_for(sess, data.index)

    on_select.__annotations__ = {"data": gr.SelectData}

    c.chatbot.select(on_select, inputs=[c.session], outputs=[c.sources], api_visibility="undocumented")

    def new_conversation():
        return Session(), [], sources_html(None), ""

    cleared = [c.session, c.chatbot, c.sources, c.question]
    c.clear_btn.click(new_conversation, outputs=cleared, api_visibility="undocumented")
    c.chatbot.clear(new_conversation, outputs=cleared, api_visibility="undocumented")


def _wire_document_events(gr, ui: RagbotUI, c: SimpleNamespace, demo, ingest_on_start: bool, logins: Logins) -> None:
    """Upload, remove, refresh, the document-set chooser, and the index check when the page loads;
    changes to the index one at a time ("index"). A signed-in user sees only the sets it may read."""
    files_view = [c.status, c.files_table, c.to_remove]

    def files_outputs(status_line: str | None = None, collection: str | None = None, request=None):
        if not logins.scope(getattr(request, "username", None)).reads(collection or ui.settings.collection):
            return "**Index:** no document set here is open to this login.", [], gr.update(choices=[], value=None)
        line, rows = ui.files_view(collection)
        return status_line or line, rows, gr.update(choices=[r[0] for r in rows], value=None)

    def on_collection(collection, request=None):
        # A new conversation: earlier turns' sources are in the other set.
        return (*files_outputs(collection=collection, request=request), Session(), [], sources_html(None))

    c.collection.input(_with_request(gr, on_collection), inputs=[c.collection],
                       outputs=[*files_view, c.session, c.chatbot, c.sources], api_visibility="undocumented")
    _wire_index_changes(gr, ui, c, files_view, files_outputs, logins)

    def refresh(collection=None, request=None):
        return files_outputs(collection=collection, request=request)

    c.refresh_btn.click(_with_request(gr, refresh), inputs=[c.collection], outputs=files_view, api_name="list_files")

    def on_load(request=None, progress=gr.Progress()):
        line = ui.ensure_index(progress=lambda f, d: progress(f, desc=d)) if ingest_on_start else None
        names = logins.scope(getattr(request, "username", None)).visible(ui.collections())
        chooser = gr.update(choices=names, value=names[0] if names else None, visible=len(names) > 1)
        return (*files_outputs(line, names[0] if names else None, request), chooser)

    _with_request(gr, on_load)

    demo.load(
        on_load,
        outputs=[*files_view, c.collection],
        api_visibility="undocumented",
        concurrency_id="index",
        concurrency_limit=1,
    )


def _wire_index_changes(gr, ui: RagbotUI, c: SimpleNamespace, files_view: list, files_outputs: Callable,
                        logins: Logins) -> None:
    """Uploads and removals: they change the served set, so the chooser goes back to it. A login
    that may not change the served set is told so and nothing runs."""
    served = gr.update(value=ui.settings.collection)

    def back_to_served(collection):
        """The chooser back on the served set; a conversation held with another set starts anew."""
        if not collection or collection == ui.settings.collection:
            return served, gr.skip(), gr.skip(), gr.skip()
        return served, Session(), [], sources_html(None)

    switched = [c.collection, c.session, c.chatbot, c.sources]

    def may_change(request) -> bool:
        return logins.scope(getattr(request, "username", None)).writes(ui.settings.collection)

    refused = "**Not allowed:** this login may read the documents but not change them."

    def on_upload(files, replace_value, collection, request=None, progress=gr.Progress()):
        if not may_change(request):
            return (refused, *files_outputs(collection=collection, request=request), None, *[gr.skip()] * 4)
        text = ui.upload(files, bool(replace_value), progress=lambda f, d: progress(f, desc=d))
        return (text, *files_outputs(), None, *back_to_served(collection))

    _with_request(gr, on_upload)

    c.upload.upload(
        on_upload,
        inputs=[c.upload, c.replace, c.collection],
        outputs=[c.report, *files_view, c.upload, *switched],
        api_name="upload",
        concurrency_id="index",
        concurrency_limit=1,
    )

    def on_remove(source, collection, request=None):
        if not may_change(request):
            return (refused, *files_outputs(collection=collection, request=request), *[gr.skip()] * 4)
        text = ui.remove(source)
        return (text, *files_outputs(), *back_to_served(collection))

    _with_request(gr, on_remove)

    c.remove_btn.click(
        on_remove,
        inputs=[c.to_remove, c.collection],
        outputs=[c.report, *files_view, *switched],
        api_name="remove_file",
        concurrency_id="index",
        concurrency_limit=1,
    )


def launch_app(
    demo,
    *,
    host: str = DEFAULT_HOST,
    port: int | None = DEFAULT_PORT,
    auth=None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
):
    """Serve an app from ``create_app`` with ragbot's theme, limits and privacy settings."""
    _gradio()
    from .theme import CSS, make_theme

    demo.queue(default_concurrency_limit=1)
    return demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        auth_message="ragbot: sign in to continue." if auth else None,
        max_file_size=max_upload_bytes,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        share=False,
        inbrowser=False,
        show_error=False,  # messages come from handlers; never send tracebacks to the page
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
        run_history=False,
        footer_links=[],
        theme=make_theme(),
        css=CSS,
    )


def cmd_ui(args, settings: Settings) -> int:
    """``ragbot ui [--host H] [--port P]``: serve the app until interrupted."""
    host = getattr(args, "host", None) or DEFAULT_HOST
    port = getattr(args, "port", None) or DEFAULT_PORT
    if not 1 <= int(port) <= 65535:
        raise InputError(f"port must be between 1 and 65535, got {port}")
    logins = Logins.from_env()
    if not is_loopback(host) and not logins:
        print(
            f"ragbot: warning: serving on {host} without a login; set RAGBOT_UI_USER and RAGBOT_UI_PASSWORD, "
            "or sign in with scoped keys (RAGBOT_API_KEYS_FILE: the key's name and the key)",
            file=sys.stderr,
        )
    demo = create_app(settings, logins=logins)
    demo.ragbot.library.start_first_index()  # questions asked meanwhile wait for it
    try:
        launch_app(demo, host=host, port=int(port), auth=logins.check if logins else None)
    except OSError as exc:
        raise InputError(
            f"cannot serve on {host}:{port}: the port is in use or the address is not available; "
            "choose another with --port or --host"
        ) from exc
    return 0
