"""``ragbot ui``, ``ragbot serve`` and ``ragbot mcp`` (entry point ``ragbot.commands``); gradio, FastAPI
and mcp load only when one of them runs."""
from __future__ import annotations

import sys

HOST_HELP = "bind address (default 127.0.0.1)"


def add_commands(sub, options) -> None:
    def command(name: str, help: str, handler, *arguments: tuple[tuple, dict], description: str | None = None) -> None:
        p = sub.add_parser(name, help=help, description=description)
        for args, kwargs in arguments:
            p.add_argument(*args, **kwargs)
        options.answer(p)
        options.common(p)
        p.set_defaults(handler=handler)

    command("ui", "the Gradio app (default http://127.0.0.1:7860)", cmd_ui,
            (("--host",), {"default": None, "help": HOST_HELP}),
            (("--port",), {"type": int, "default": None, "help": "port (default 7860)"}),
            description="Serve the Gradio app. It answers from the index (default data/chroma under the current folder) "
                        "and, on first start with an empty index, indexes data/corpus (env RAGBOT_CORPUS_DIR), where "
                        "its uploads go too. See docs/app.md.")
    command("serve", "the app, the HTTP API (OpenAI-compatible) and MCP in one process", cmd_serve,
            (("--host",), {"default": None, "help": HOST_HELP + "; any other needs RAGBOT_API_KEYS"}),
            (("--port",), {"type": int, "default": None, "help": "port (default 8765)"}),
            (("--no-page",), {"action": "store_true", "help": "serve the API and MCP only, not the Gradio page"}),
            description="The Gradio page at /, the HTTP API under /v1 and MCP at /mcp/ in one process (default "
                        "http://127.0.0.1:8765), over the index (default data/chroma under the current folder); on first "
                        "start with an empty index it indexes data/corpus (env RAGBOT_CORPUS_DIR). See docs/api.md.")
    command("mcp", "the MCP tools search and ask over stdio", cmd_mcp,
            description="The MCP tools search and ask, and the documents as resources, over stdio, from the index "
                        "(default data/chroma under the current folder). See docs/api.md.")
    keys = sub.add_parser("keys", help="scoped API keys in the key file ($RAGBOT_API_KEYS_FILE or --file)")
    keys.add_argument("--file", default=None, help="the key file (default: $RAGBOT_API_KEYS_FILE)")
    actions = keys.add_subparsers(dest="keys_action", required=True)
    add = actions.add_parser("add", help="add a key and print it once (only its hash is stored)")
    add.add_argument("name")
    add.add_argument("--collections", required=True, help="comma-separated collections it opens, or '*' for all")
    add.add_argument("--read-only", action="store_true", help="ask, search and list only: no upload or delete")
    actions.add_parser("list", help="the keys' names and scopes (never the keys)")
    remove = actions.add_parser("remove", help="revoke a key")
    remove.add_argument("name")
    options.common(keys)
    keys.set_defaults(handler=cmd_keys)


def cmd_ui(args, settings) -> int:
    from .app import cmd_ui as run

    return run(args, settings)


def cmd_serve(args, settings) -> int:
    from .api.serve import cmd_serve as run

    return run(args, settings)


def cmd_mcp(args, settings) -> int:
    from .api.serve import cmd_mcp as run

    return run(args, settings)


def cmd_keys(args, settings) -> int:
    import os
    from pathlib import Path

    from rag.errors import ConfigError

    from .api import keys

    path = args.file or os.environ.get("RAGBOT_API_KEYS_FILE")
    if not path:
        raise ConfigError("name the key file: --file PATH or RAGBOT_API_KEYS_FILE")
    path = Path(path).expanduser()
    if args.keys_action == "add":
        names = [c.strip() for c in args.collections.split(",") if c.strip()]
        token = keys.add_key(path, args.name, names, write=not args.read_only)
        print(token)
        print(f"key {args.name!r} added to {path}: {'read-only' if args.read_only else 'read and write'}, "
              f"collections {', '.join(names)}; this is the only time it is shown", file=sys.stderr)
    elif args.keys_action == "remove":
        keys.remove_key(path, args.name)
        print(f"key {args.name!r} removed from {path}", file=sys.stderr)
    else:
        for scope in keys.read_key_file(path).scopes():
            opens = "*" if scope.collections is None else ",".join(sorted(scope.collections))
            print(f"{scope.name}\t{opens}\t{'read-write' if scope.write else 'read-only'}")
    return 0
