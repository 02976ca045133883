"""CLI commands that live next to their packages; imported only when run."""
from __future__ import annotations


def cmd_eval(args, settings) -> int:
    from eval.cli import cmd_eval as run

    return run(args, settings)


def cmd_bench(args, settings) -> int:
    from eval.cli import cmd_bench as run

    return run(args, settings)


def cmd_ui(args, settings) -> int:
    from ui.app import cmd_ui as run

    return run(args, settings)
