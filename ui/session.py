"""One browser session's conversation: immutable, held in a ``gr.State`` (never in a global)."""
from __future__ import annotations

from dataclasses import dataclass, replace

from rag.types import Answer

from .render import answer_markdown, escape_md


@dataclass(frozen=True)
class Turn:
    """A question and what came back: an Answer, or an error message."""

    question: str
    answer: Answer | None = None
    error: str = ""
    k: int = 0
    partial: str = ""  # streamed text while the answer is being produced
    collection: str | None = None  # the document set it was asked of (None: the served one)

    @property
    def pending(self) -> bool:
        return self.answer is None and not self.error

    def assistant_markdown(self) -> str:
        if self.error:
            return answer_markdown(self.error, error=True)
        if self.answer is None:
            return answer_markdown(self.partial, pending=True)
        a = self.answer
        return answer_markdown(a.answer, refused=a.refused, notice=a.notice, short=a.short_answer.text if a.short_answer else "",
                               confidence=a.confidence)


@dataclass(frozen=True)
class Session:
    """The turns of one conversation, oldest first."""

    turns: tuple[Turn, ...] = ()

    def add(self, turn: Turn) -> "Session":
        return replace(self, turns=self.turns + (turn,))

    def history(self) -> list[list[str]]:
        """Earlier ``[user, assistant]`` pairs for the chain; failed turns are left out."""
        return [[t.question, t.answer.answer] for t in self.turns if t.answer is not None]

    def messages(self, pending: Turn | None = None) -> list[dict]:
        """The chat as Gradio messages: two a turn (user, assistant), so message i belongs to turn i // 2."""
        out: list[dict] = []
        for t in self.turns + ((pending,) if pending is not None else ()):
            out.append({"role": "user", "content": escape_md(t.question)})
            out.append({"role": "assistant", "content": t.assistant_markdown()})
        return out

    def turn_at(self, message_index) -> Turn | None:
        """The turn a chat message index (as in like/select events) belongs to."""
        if isinstance(message_index, (list, tuple)):
            message_index = message_index[0] if message_index else None
        try:
            i = int(message_index) // 2
        except (TypeError, ValueError):
            return None
        return self.turns[i] if 0 <= i < len(self.turns) else None
