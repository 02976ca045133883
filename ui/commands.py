"""``ragbot ui``, ``ragbot serve`` and ``ragbot mcp`` (entry point ``ragbot.commands``); gradio, FastAPI
and mcp load only when one of them runs."""
from __future__ import annotations


def add_commands(sub, options) -> None:
    p = sub.add_parser("ui", help="serve the Gradio app")
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 7860)")
    options.answer(p)
    options.common(p)
    p.set_defaults(handler=cmd_ui)

    p = sub.add_parser("serve", help="the app, the HTTP API (OpenAI-compatible) and MCP in one process")
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1; others need RAGBOT_API_KEYS)")
    p.add_argument("--port", type=int, default=None, help="port (default 8765)")
    p.add_argument("--no-page", action="store_true", help="serve the API and MCP only, not the Gradio page")
    options.answer(p)
    options.common(p)
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("mcp", help="the MCP tools search and ask over stdio")
    options.answer(p)
    options.common(p)
    p.set_defaults(handler=cmd_mcp)


def cmd_ui(args, settings) -> int:
    from .app import cmd_ui as run

    return run(args, settings)


def cmd_serve(args, settings) -> int:
    from .api.serve import cmd_serve as run

    return run(args, settings)


def cmd_mcp(args, settings) -> int:
    from .api.serve import cmd_mcp as run

    return run(args, settings)
