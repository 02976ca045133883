"""OpenAI-compatible chat completions over the answer chain.

``model`` names a collection; the messages become a question and the ``[user, assistant]`` history
the chain condenses follow-ups with. The reply keeps its ``[n]`` markers; ``citations`` and
``refused`` ride beside the standard fields, where OpenAI clients ignore them.
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.errors import InputError
from rag.types import Answer


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = "text"
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """The fields ragbot reads; the others OpenAI clients send (temperature, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=200, description="the collection to answer from")
    messages: list[Message] = Field(min_length=1, max_length=200)
    stream: bool = False
    mode: str | None = Field(default=None, description="ragbot extension: answer mode")
    k: int | None = Field(default=None, ge=1, le=50, description="ragbot extension: passages")
    refusal: str | None = Field(default=None, description="ragbot extension: how strict refusal is (strict, balanced, lenient)")


def conversation(messages: list[Message]) -> tuple[str, list[tuple[str, str]]]:
    """The last user message as the question; earlier user/assistant pairs as the history."""
    turns = [(m.role, m.text()) for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user" or not turns[-1][1].strip():
        raise InputError("the last message must be a user message with the question")
    history: list[tuple[str, str]] = []
    pending: str | None = None
    for role, text in turns[:-1]:
        if role == "user":
            pending = text if pending is None else f"{pending}\n{text}"
        elif pending is not None:
            history.append((pending, text))
            pending = None
    return turns[-1][1], history


def extras(answer: Answer) -> dict:
    """What ragbot adds to a completion: citations as in the answer JSON, the refusal flag and the confidence."""
    return {
        "citations": [c.to_dict() for c in answer.citations],
        "refused": answer.refused,
        "confidence": answer.confidence,
        "short_answer": answer.short_answer.to_dict() if answer.short_answer else None,
        "notice": answer.notice,
    }


def completion(answer: Answer, model: str) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": answer.answer},
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        **extras(answer),
    }


def _chunk(cid: str, model: str, delta: dict, finish: str | None = None, **more: Any) -> str:
    payload = {
        "id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **more,
    }
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def sse_events(parts: Iterator[str | Answer], model: str) -> Iterator[str]:
    """Server-sent events for a streamed answer: the role, the text pieces, then a last chunk that
    carries the finish reason with the citations, and ``[DONE]``.

    A generative answer is verified after it is written; when verification changes the text, the
    last chunk's ``content`` (and ``replaces_text``) gives the whole verified answer.
    """
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    yield _chunk(cid, model, {"role": "assistant", "content": ""})
    sent = ""
    answer: Answer | None = None
    for part in parts:
        if isinstance(part, Answer):
            answer = part
        elif part:
            sent += part
            yield _chunk(cid, model, {"content": part})
    if answer is None:
        raise RuntimeError("the answer chain finished without an answer")
    delta: dict = {}
    changed = answer.answer != sent
    if changed:
        delta = {"content": answer.answer if not sent else ""}
    yield _chunk(cid, model, delta, "stop", replaces_text=answer.answer if changed and sent else None, **extras(answer))
    yield "data: [DONE]\n\n"
