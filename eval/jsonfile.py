"""Reading a JSON file a user named, with one clear line for each way it can go wrong."""
from __future__ import annotations

import json
from pathlib import Path

from rag.errors import InputError


def read_json(p: Path, what: str, invalid: str):
    """The parsed contents of ``p``; an InputError naming ``what`` it should be when it is
    missing or unreadable, and saying ``invalid`` (with the parser's reason) when it is not JSON."""
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{p}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read {what.removesuffix(' file')} ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: {invalid} ({exc.msg} at line {exc.lineno})") from None
