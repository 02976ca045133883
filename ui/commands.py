"""``ragbot ui``, ``ragbot serve`` and ``ragbot mcp`` (entry point ``ragbot.commands``); gradio, FastAPI
and mcp load only when one of them runs."""
from __future__ import annotations

HOST_HELP = "bind address (default 127.0.0.1)"


def add_commands(sub, options) -> None:
    def command(name: str, help: str, handler, *arguments: tuple[tuple, dict]) -> None:
        p = sub.add_parser(name, help=help)
        for args, kwargs in arguments:
            p.add_argument(*args, **kwargs)
        options.answer(p)
        options.common(p)
        p.set_defaults(handler=handler)

    command("ui", "serve the Gradio app", cmd_ui,
            (("--host",), {"default": None, "help": HOST_HELP}),
            (("--port",), {"type": int, "default": None, "help": "port (default 7860)"}))
    command("serve", "the app, the HTTP API (OpenAI-compatible) and MCP in one process", cmd_serve,
            (("--host",), {"default": None, "help": HOST_HELP + "; any other needs RAGBOT_API_KEYS"}),
            (("--port",), {"type": int, "default": None, "help": "port (default 8765)"}),
            (("--no-page",), {"action": "store_true", "help": "serve the API and MCP only, not the Gradio page"}))
    command("mcp", "the MCP tools search and ask over stdio", cmd_mcp)


def cmd_ui(args, settings) -> int:
    from .app import cmd_ui as run

    return run(args, settings)


def cmd_serve(args, settings) -> int:
    from .api.serve import cmd_serve as run

    return run(args, settings)


def cmd_mcp(args, settings) -> int:
    from .api.serve import cmd_mcp as run

    return run(args, settings)
