"""``ragbot serve`` (page + HTTP API + MCP over HTTP, one process) and ``ragbot mcp`` (MCP over stdio)."""
from __future__ import annotations

import contextlib
import sys

from rag.errors import InputError
from rag.settings import Settings

from ..handlers import RagbotUI
from ..service import Library

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def build_server_app(settings: Settings, *, host: str = DEFAULT_HOST, api_keys=frozenset(),
                     with_page: bool = True, ui: RagbotUI | None = None):
    """The whole ASGI app: API, MCP at ``/mcp/`` and (``with_page``) the Gradio page at ``/``."""
    from .mcp_tools import build_mcp
    from .routes import create_api

    demo = None
    if with_page:
        from ..app import create_app

        demo = create_app(settings, ingest_on_start=True)
        ui = demo.ragbot
    ui = ui or RagbotUI(settings)
    app = create_api(ui.library, api_keys=api_keys, max_pending=settings.max_pending)
    mcp = build_mcp(ui.library, app.state.admission)
    from fastapi.responses import RedirectResponse

    @app.api_route("/mcp", methods=["GET", "POST", "DELETE"], include_in_schema=False)
    async def mcp_slash():  # before the page's catch-all mount answers it
        return RedirectResponse("/mcp/", status_code=307)

    app.mount("/mcp", mcp.streamable_http_app(streamable_http_path="/", stateless_http=True, json_response=True, host=host))

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        async with mcp.session_manager.run():
            yield

    app.router.lifespan_context = lifespan
    if demo is not None:
        app = _mount_page(app, demo)
    return app, ui


def _mount_page(app, demo):
    from ..app import _gradio
    from ..theme import CSS, make_theme

    gr = _gradio()
    demo.queue(default_concurrency_limit=1)
    logins = demo.ragbot_logins  # the same users, and the same scopes, as the app's own login
    return gr.mount_gradio_app(
        app, demo, path="", auth=logins.check if logins else None, max_file_size=demo.ragbot.library.max_upload_bytes,
        show_error=False, ssr_mode=False, pwa=False, mcp_server=False, footer_links=[], theme=make_theme(), css=CSS,
    )


def cmd_serve(args, settings: Settings) -> int:
    """Serve until interrupted; first-start indexing runs in the background, questions wait for it."""
    import uvicorn

    from .auth import check_binding, is_loopback
    from .keys import KeyRing, Logins

    host = getattr(args, "host", None) or DEFAULT_HOST
    port = int(getattr(args, "port", None) or DEFAULT_PORT)
    if not 1 <= port <= 65535:
        raise InputError(f"port must be between 1 and 65535, got {port}")
    keys = KeyRing.from_env()
    check_binding(host, keys)
    with_page = not getattr(args, "no_page", False)
    if with_page and not is_loopback(host) and not Logins.from_env():
        print(f"ragbot: the page is not served on {host} without a login; set RAGBOT_UI_USER and "
              "RAGBOT_UI_PASSWORD, or RAGBOT_API_KEYS_FILE (sign in with a key's name and the key), to serve "
              "it too (the API and MCP are served)", file=sys.stderr)
        with_page = False
    app, ui = build_server_app(settings, host=host, api_keys=keys, with_page=with_page)
    ui.library.start_first_index()
    print(f"ragbot: serving on http://{host}:{port} (API /v1, MCP /mcp/, docs /docs"
          f"{', page /' if with_page else ''})", file=sys.stderr, flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    except OSError as exc:
        raise InputError(f"cannot serve on {host}:{port}: {exc.strerror or exc}; choose another --port or --host") from exc
    return 0


def cmd_mcp(args, settings: Settings) -> int:
    """The MCP tools over stdio (stdout carries the protocol; messages go to stderr)."""
    import anyio

    from .keys import CALLER, FULL
    from .mcp_tools import build_mcp

    library = Library(settings)
    library.start_first_index()
    CALLER.set(FULL)  # stdio: the user who started it, with full access
    anyio.run(build_mcp(library).run_stdio_async)
    return 0
