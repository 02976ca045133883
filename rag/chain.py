"""The answer chain: condense -> retrieve -> gate -> answer (extractive or LLM) -> verify -> Answer."""
from __future__ import annotations

import re
import threading
import time
from importlib import resources
from typing import Any, Iterator

from langchain_core.messages import HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig

from .condense import condense, is_follow_up
from .errors import BackendError, ConfigError, InputError, RagbotError
from .extractive import (
    ScoredSentence,
    asks_for_list,
    follow_on,
    opens_section,
    referenced_sections,
    score_sentences,
    section_leads,
    select,
)
from .gate import NOVELTY_MIN, Gate, answer_kind, answer_type_met, features, load_gate, says_new
from .settings import MODES, Settings
from .types import Answer, Citation, Passage
from .verify import verify

RELEVANCE_FLOOR = 0.5  # a kept claim's quote scores at least this share of the best sentence's score
REFUSAL = "The documents don't say: none of the passages I found answers this question."
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_question(raw: Any, max_chars: int) -> str:
    """The question as text, or an InputError that says what is wrong with it."""
    if not isinstance(raw, str):
        raise InputError(f"the question must be text, got {type(raw).__name__}")
    text = raw.encode("utf-16", "surrogatepass").decode("utf-16", "replace")  # lone surrogates -> U+FFFD
    text = " ".join(_CONTROL.sub(" ", text).split())
    if not text:
        raise InputError("the question is empty: type a question")
    if len(text) > max_chars:
        raise InputError(f"the question is too long ({len(text):,} characters; the limit is {max_chars:,})")
    return text


def clean_history(raw: Any) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, (list, tuple)):
        raise InputError("history must be a list of [user, assistant] pairs")
    out = []
    for turn in raw:
        if not isinstance(turn, (list, tuple)) or len(turn) != 2:
            raise InputError("history must be a list of [user, assistant] pairs")
        user, assistant = turn
        out.append((str(user or ""), str(assistant or "")))
    return out[-6:]  # the recent turns are what a follow-up leans on


def _prompt_template() -> str:
    return resources.files("rag").joinpath("prompts/answer.txt").read_text()


class AnswerChain(Runnable[dict, Answer]):
    """A LangChain Runnable: ``invoke`` returns an Answer; ``stream`` yields text pieces, then the Answer."""

    def __init__(self, settings: Settings, retriever, embeddings, gate: Gate, llms: dict | None = None):
        self.settings = settings
        self.retriever = retriever
        self.embeddings = embeddings
        self.gate = gate
        self._llms: dict[str, Any] = dict(llms or {})
        self._llm_lock = threading.Lock()

    # -- Runnable ---------------------------------------------------------------------------
    def invoke(self, input: dict | str, config: RunnableConfig | None = None, **kwargs) -> Answer:
        answer = None
        for part in self._run(input):
            if isinstance(part, Answer):
                answer = part
        assert answer is not None
        return answer

    def stream(self, input: dict | str, config: RunnableConfig | None = None, **kwargs) -> Iterator[str | Answer]:
        yield from self._run(input)

    # -- steps ------------------------------------------------------------------------------
    def llm(self, mode: str):
        """The chat model for a generative mode, built once."""
        with self._llm_lock:
            if mode not in self._llms:
                from .generators import build_llm

                self._llms[mode] = build_llm(self.settings.replace(mode=mode))
            return self._llms[mode]

    def _extract(self, question: str, scored: list[ScoredSentence], passages: list[Passage], fits) -> tuple[list[ScoredSentence], list[Passage]]:
        """The sentences of an extractive answer, and the passages they cite. A question that asks
        for several things, best answered by the sentence that opens a section, gets the section's
        paragraphs in turn: the list runs through them, and some were not among the retrieved."""
        best = scored[0]
        if asks_for_list(question) and hasattr(self.retriever, "section") and opens_section(best, passages):
            p = passages[best.passage]
            section = self.retriever.section(p.source, p.section)
            if section:
                ids = {q.chunk_id: i for i, q in enumerate(passages)}
                extra = [q for q in section if q.chunk_id not in ids]
                passages = passages + extra
                ids.update({q.chunk_id: len(passages) - len(extra) + i for i, q in enumerate(extra)})
                chosen = section_leads(section, [ids[q.chunk_id] for q in section])
                if chosen:
                    return chosen, passages
        return select(scored, passages, question=question, fits=fits), passages

    def _run(self, input: dict | str) -> Iterator[str | Answer]:
        t0 = time.perf_counter()
        if isinstance(input, str):
            input = {"question": input}
        if not isinstance(input, dict):
            raise InputError("the chain takes {'question': ..., 'history': [...]} or a question string")
        mode = input.get("mode") or self.settings.mode
        if mode not in MODES:
            raise ConfigError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
        k = input.get("k")
        k = self.settings.k if k is None else int(k)
        if not 1 <= k <= 50:
            raise ConfigError(f"k must be between 1 and 50, got {k}")
        question = clean_question(input.get("question"), self.settings.max_question_chars)
        history = clean_history(input.get("history"))
        standalone = condense(question, history)
        context = standalone if is_follow_up(question, history) else ""

        passages = self.retriever.search(standalone, k)
        qvec = self.embeddings.encode([standalone])[0] if context else None  # a follow-up means its standalone form
        # "In the section on X, ...": the answer comes from that section, whatever else matches.
        # Two named ("compare the foreign-policy section with the soft-power section"): from both.
        refs = referenced_sections(question, self.retriever.sections()) if passages and hasattr(self.retriever, "sections") else []
        in_section: list[Passage] = []
        for ref in refs:
            in_section += self.retriever.section(*ref, query=qvec if qvec is not None else self.embeddings.encode([standalone])[0])
        if in_section:
            ids = {p.chunk_id for p in in_section}
            passages = in_section + [p for p in passages if p.chunk_id not in ids][: max(0, k - len(in_section))]
        t_ret = time.perf_counter()
        scored = score_sentences(question, passages, self.embeddings, context=context, qvec=qvec) if passages else []
        if in_section:
            scored = [s for s in scored if s.passage < len(in_section)]
        vocabulary = self.retriever.vocabulary() if hasattr(self.retriever, "vocabulary") else None
        # A follow-up's own words are vague by nature ('the second one'): judge the standalone form.
        feats = features(standalone, passages, scored, vocabulary, own=standalone if context else question, asked=question)
        ok, gate_score = self.gate.answerable(feats)
        fits = (lambda text: answer_type_met(standalone, text) >= 1.0) if answer_kind(standalone) else None
        support = {"gate_score": round(gate_score, 4), "gate_threshold": self.gate.threshold, "features": {k_: round(v, 4) for k_, v in feats.items()}}
        t_gate = time.perf_counter()
        timings = {"retrieve": (t_ret - t0) * 1000, "rank": (t_gate - t_ret) * 1000}

        def finish(text: str, refused: bool, cites: list[Citation], notice: str = "", extra: dict | None = None) -> Answer:
            timings["total"] = (time.perf_counter() - t0) * 1000
            return Answer(
                question=question,
                standalone_question=standalone,
                answer=text,
                refused=refused,
                mode=mode,
                citations=tuple(cites),
                retrieved=tuple(passages),
                timings_ms=timings,
                notice=notice,
                support={**support, **(extra or {})},
            )

        chosen: list[ScoredSentence] = []
        if ok and scored:
            if context:
                scored = follow_on(scored, passages, history[-1][1])
            chosen, passages = self._extract(question, scored, passages, fits)
            if len(refs) > 1:  # each section named has its say
                for ref in refs:
                    if not any((passages[c.passage].source, passages[c.passage].section) == ref for c in chosen):
                        chosen += [s for s in scored if (passages[s.passage].source, passages[s.passage].section) == ref][:1]
            if context and answer_kind(standalone) is None:
                # A follow-up that the documents answer only with what the conversation already
                # said ("Which specific resources?" after "competition for resources") is not
                # answered: at least one sentence of the answer must be mostly new.
                novelty = max((says_new(history, question, c.text) for c in chosen), default=0.0)
                support["novelty"] = round(novelty, 4)
                if novelty < NOVELTY_MIN:
                    ok = False
        if not ok or not scored:
            yield REFUSAL
            timings.setdefault("generate", 0.0)
            timings.setdefault("verify", 0.0)
            yield finish(REFUSAL, True, [])
            return

        def extract() -> tuple[str, list[Citation]]:
            return compose(chosen, passages)

        if mode == "extractive":
            text, cites = extract()
            timings["generate"] = (time.perf_counter() - t_gate) * 1000
            timings["verify"] = 0.0  # every sentence is a verbatim quote of the passage it cites
            yield text
            yield finish(text, False, cites, extra={"sentences": len(cites), "supported": len(cites)})
            return

        # Generative: stream what the model writes, then keep only what the passages support.
        notice = ""
        raw = ""
        t_first = None
        try:
            prompt = _prompt_template().format(passages=prompt_passages(scored, passages, self.settings.llm_passages), question=standalone)
            for chunk in self.llm(mode).stream([HumanMessage(content=prompt)]):
                piece = str(chunk.content)
                if not piece:
                    continue
                if t_first is None:
                    t_first = time.perf_counter()
                raw += piece
                yield piece
        except RagbotError as exc:
            notice = f"The {mode} model is unavailable ({exc}); this is the extractive answer."
        except Exception as exc:  # a server that dies or times out mid-stream
            notice = f"The {mode} model failed ({type(exc).__name__}: {' '.join(str(exc).split())[:160]}); this is the extractive answer."
        t_gen = time.perf_counter()
        timings["generate"] = (t_gen - t_gate) * 1000
        if t_first is not None:
            timings["first_token"] = (t_first - t0) * 1000

        kept: list[tuple[str, int, int, int]] = []
        n_sentences = 0
        if not notice:
            if "NOT FOUND" in raw.upper() and len(raw) < 40:
                notice = "The model found no answer in the passages; this is the extractive answer."
            else:
                checks = verify(raw, passages, self.embeddings)
                n_sentences = len(checks)
                # Supported is not enough: the supporting sentence must also bear on the question,
                # or a document that says "reply X" could have X kept, correctly cited.
                relevance = {(s.passage, s.start, s.end): s.score for s in scored}
                floor = RELEVANCE_FLOOR * scored[0].score
                kept = [
                    (c.sentence, c.passage, c.quote_start, c.quote_end)
                    for c in checks
                    if c.passage is not None and relevance.get((c.passage, c.quote_start, c.quote_end), 0.0) >= floor
                ]
                if not kept:
                    notice = "No sentence of the model's answer was supported by the passages; this is the extractive answer."
        timings["verify"] = (time.perf_counter() - t_gen) * 1000
        if notice:
            text, cites = extract()
            yield finish(text, False, cites, notice, {"generated": raw, "sentences": len(cites), "supported": len(cites)})
            return
        text, cites = compose_claims(kept, passages)
        yield finish(text, False, cites, extra={"generated": raw, "sentences": n_sentences, "supported": len(kept)})


def prompt_passages(scored: list[ScoredSentence], passages: list[Passage], limit: int = 3, per_passage: int = 3) -> str:
    """The passages as the model sees them: the ``limit`` best, each cut to its most relevant
    sentences in reading order. A short prompt is what makes a small CPU model answer quickly, and
    gives it less to wander off with. ``[n]`` keeps the passage's number, so citations map back."""
    best: dict[int, list[ScoredSentence]] = {}
    for s in scored:
        if s.passage in best or len(best) < limit:
            picks = best.setdefault(s.passage, [])
            if len(picks) < per_passage:
                picks.append(s)
    blocks = []
    for pi in sorted(best):
        text = " ".join(" ".join(s.text.split()) for s in sorted(best[pi], key=lambda s: s.start))
        blocks.append(f"[{pi + 1}] {text}")
    return "\n\n".join(blocks)


def _citation(n: int, p: Passage, qs: int, qe: int) -> Citation:
    return Citation(
        n=n,
        chunk_id=p.chunk_id,
        source=p.source,
        section=p.section,
        quote=p.text[qs:qe],
        start=p.start + qs,
        end=p.start + qe,
        score=p.score,
        passage=p.text,
    )


def compose(chosen: list[ScoredSentence], passages: list[Passage]) -> tuple[str, list[Citation]]:
    """An extractive answer: the chosen sentences in reading order, each with its own [n]."""
    chosen = sorted(chosen, key=lambda s: (passages[s.passage].source, passages[s.passage].start + s.start))
    return compose_claims([(s.text, s.passage, s.start, s.end) for s in chosen], passages)


def compose_claims(claims: list[tuple[str, int, int, int]], passages: list[Passage]) -> tuple[str, list[Citation]]:
    """Join sentences, numbering one citation per distinct supporting quote."""
    cites: list[Citation] = []
    numbers: dict[tuple[int, int, int], int] = {}
    parts = []
    for sentence, pi, qs, qe in claims:
        key = (pi, qs, qe)
        if key not in numbers:
            numbers[key] = len(cites) + 1
            cites.append(_citation(numbers[key], passages[pi], qs, qe))
        body = sentence.strip()
        if "\n" in body:  # a quoted list keeps its lines
            parts.append(f"{body}\n[{numbers[key]}]")
        else:
            if body and body[-1] not in ".!?":
                body += "."
            parts.append(f"{body[:-1]} [{numbers[key]}]{body[-1]}" if body[-1] in ".!?" else f"{body} [{numbers[key]}]")
    return " ".join(parts), cites


_chain_cache: dict[tuple, AnswerChain] = {}


def build_chain(settings: Settings | None = None, *, embeddings=None, retriever=None, llm=None, gate: Gate | None = None) -> AnswerChain:
    """The answer chain for ``settings``: a LangChain Runnable. Nothing is loaded until first use."""
    from .embeddings import SentenceEmbeddings
    from .retrieval import build_retriever

    settings = settings or Settings()
    embeddings = embeddings or SentenceEmbeddings(settings.embedding_model, settings.embedding_backend, settings.embed_batch_size)
    retriever = retriever or build_retriever(settings, embeddings)
    gate = gate or load_gate(settings.gate_file)
    llms = {settings.mode: llm} if llm is not None and settings.mode != "extractive" else None
    return AnswerChain(settings, retriever, embeddings, gate, llms)
