"""``ragbot ui``: the app's subcommand (entry point ``ragbot.commands``); gradio loads only when it runs."""
from __future__ import annotations


def add_commands(sub, options) -> None:
    p = sub.add_parser("ui", help="serve the Gradio app")
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 7860)")
    options.answer(p)
    options.common(p)
    p.set_defaults(handler=cmd_ui)


def cmd_ui(args, settings) -> int:
    from .app import cmd_ui as run

    return run(args, settings)
