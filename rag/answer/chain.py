"""The answer chain: condense -> retrieve -> gate -> answer (extractive or LLM) -> verify -> Answer.

Each step is a method from one frozen record of ``steps`` to the next, so a step can be tested,
timed and swapped alone; ``_run`` is the sequence.
"""
from __future__ import annotations

import re
import threading
import time
from importlib import resources
from typing import Any, Iterator

from langchain_core.messages import HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig

from ..errors import ConfigError, InputError, RagbotError
from ..gate import Gate, features, load_gate, vetoed
from ..retrieval.protocols import Retriever, Searcher, as_retriever
from ..settings import MODES, Settings
from ..types import Answer, Citation, Passage, ScoredSentence, ShortAnswer
from ..wording import WordingRules, load_wording
from .compose import compose, compose_claims, prompt_passages
from .condense import condense, is_follow_up
from .scoring import score_sentences
from .spans import NoSpans, SpanFinder, lead_with, load_spans, short_answer
from .selection import follow_on, opens_section, referenced_sections, section_leads, select
from .steps import Condensed, Decision, Draft, Request, Retrieved, Verified
from .verify import verify

LEAD_SENTENCES = 2  # a short answer is looked for in the answer's best-scored sentences
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
    return resources.files("rag.answer").joinpath("prompts/answer.txt").read_text()


def _ms(a: float, b: float) -> float:
    return (b - a) * 1000


class AnswerChain(Runnable[dict, Answer]):
    """A LangChain Runnable: ``invoke`` returns an Answer; ``stream`` yields text pieces, then the Answer."""

    def __init__(self, settings: Settings, retriever: Searcher, embeddings, gate: Gate, llms: dict | None = None,
                 wording: WordingRules | None = None, spans: SpanFinder | NoSpans | None = None):
        self.settings = settings
        self.retriever: Retriever = as_retriever(retriever)
        self.embeddings = embeddings
        self.gate = gate
        self.wording = wording or load_wording(settings.wording_rules)
        self.spans = spans or (load_spans(settings.span_file) if settings.short_answers else NoSpans())
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

    def llm(self, mode: str):
        """The chat model for a generative mode, built once."""
        with self._llm_lock:
            if mode not in self._llms:
                from .generators import build_llm

                self._llms[mode] = build_llm(self.settings.replace(mode=mode))
            return self._llms[mode]

    def _run(self, input: dict | str) -> Iterator[str | Answer]:
        draft = self.draft(self.decide(self.retrieve(self.condense(self.request(input)))))
        if not draft.answerable:
            yield REFUSAL
            yield self.finish(self.refuse(draft))
            return
        if draft.decision.retrieved.condensed.request.mode == "extractive":
            verified = self.extract(draft)
            yield verified.text
        else:
            verified = yield from self.generate(draft)
        yield self.finish(verified)

    # -- steps ------------------------------------------------------------------------------
    def request(self, input: dict | str) -> Request:
        """The input validated: a clear error for a bad mode, k, question or history."""
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
        return Request(question, tuple(clean_history(input.get("history"))), mode, k, t0)

    def condense(self, request: Request) -> Condensed:
        """A follow-up rewritten as a standalone question (only when it leans on the history)."""
        history = list(request.history)
        standalone = condense(request.question, history, self.wording)
        return Condensed(request, standalone, standalone if is_follow_up(request.question, history, self.wording) else "")

    def retrieve(self, condensed: Condensed) -> Retrieved:
        """The passages for the standalone question; a section the question names comes first, whatever else matches."""
        request, standalone = condensed.request, condensed.standalone
        passages = self.retriever.search(standalone, request.k)
        qvec = self.embeddings.encode([standalone])[0] if condensed.context else None  # a follow-up means its standalone form
        # Two named ("compare the foreign-policy section with the soft-power section"): from both.
        refs = referenced_sections(request.question, self.retriever.sections(), self.wording) if passages else []
        in_section: list[Passage] = []
        for ref in refs:
            in_section += self.retriever.section(*ref, query=qvec if qvec is not None else self.embeddings.encode([standalone])[0])
        if in_section:
            ids = {p.chunk_id for p in in_section}
            passages = in_section + [p for p in passages if p.chunk_id not in ids][: max(0, request.k - len(in_section))]
        return Retrieved(condensed, tuple(passages), tuple(refs), len(in_section), qvec, time.perf_counter())

    def decide(self, retrieved: Retrieved) -> Decision:
        """Every sentence scored against the question, and the gate's verdict on the evidence."""
        condensed = retrieved.condensed
        question, standalone, passages = condensed.request.question, condensed.standalone, list(retrieved.passages)
        scored = score_sentences(question, passages, self.embeddings, context=condensed.context, qvec=retrieved.qvec) if passages else []
        if retrieved.in_section:
            scored = [s for s in scored if s.passage < retrieved.in_section]
        # A follow-up's own words are vague by nature ('the second one'): judge the standalone form.
        own = standalone if condensed.context else question
        feats = features(standalone, passages, scored, self.retriever.vocabulary(), own=own, asked=question, wording=self.wording)
        ok, gate_score = self.gate.answerable(feats)
        support = {"gate_score": round(gate_score, 4), "gate_threshold": self.gate.threshold, "features": {k: round(v, 4) for k, v in feats.items()}}
        return Decision(retrieved, tuple(scored), ok and bool(scored), support, time.perf_counter())

    def draft(self, decision: Decision) -> Draft:
        """The sentences of an extractive answer; a follow-up that adds nothing new is refused here."""
        retrieved = decision.retrieved
        condensed = retrieved.condensed
        request, support, passages = condensed.request, dict(decision.support), list(retrieved.passages)
        if not decision.answerable:
            return Draft(decision, decision.scored, (), tuple(passages), False, support)
        scored = list(decision.scored)
        if condensed.context:
            scored = follow_on(scored, passages, request.history[-1][1])
        chosen, passages = self._select(condensed, scored, passages)
        if len(retrieved.sections) > 1:  # each section named has its say
            for ref in retrieved.sections:
                if not any((passages[c.passage].source, passages[c.passage].section) == ref for c in chosen):
                    chosen += [s for s in scored if (passages[s.passage].source, passages[s.passage].section) == ref][:1]
        answerable = True
        if condensed.context and self.wording.answer_kind(condensed.standalone) is None:
            # A follow-up that the documents answer only with what the conversation already
            # said ("Which specific resources?" after "competition for resources") is not
            # answered: at least one sentence of the answer must be mostly new.
            novelty = self.wording.novelty(list(request.history), request.question, [c.text for c in chosen])
            if novelty is not None:
                support["novelty"] = round(novelty, 4)
                answerable = not vetoed({"novelty": novelty})
        return Draft(decision, tuple(scored), tuple(chosen), tuple(passages), answerable, support)

    def _select(self, condensed: Condensed, scored: list[ScoredSentence], passages: list[Passage]) -> tuple[list[ScoredSentence], list[Passage]]:
        """The chosen sentences, and the passages they cite. A question that asks for several things,
        best answered by the sentence that opens a section, gets the section's paragraphs in turn:
        the list runs through them, and some were not among the retrieved."""
        question, standalone, w = condensed.request.question, condensed.standalone, self.wording
        best = scored[0]
        if w.asks_for_list(question) and opens_section(best, passages):
            p = passages[best.passage]
            section = self.retriever.section(p.source, p.section)
            if section:
                ids = {q.chunk_id: i for i, q in enumerate(passages)}
                extra = [q for q in section if q.chunk_id not in ids]
                passages = passages + extra
                ids.update({q.chunk_id: len(passages) - len(extra) + i for i, q in enumerate(extra)})
                chosen = section_leads(section, [ids[q.chunk_id] for q in section], w)
                if chosen:
                    return chosen, passages
        fits = (lambda text: w.answer_type_met(standalone, text) >= 1.0) if w.answer_kind(standalone) else None
        return select(scored, passages, question=question, fits=fits, wording=w), passages

    def refuse(self, draft: Draft) -> Verified:
        return Verified(draft, REFUSAL, (), refused=True, timings={"generate": 0.0, "verify": 0.0})

    def extract(self, draft: Draft) -> Verified:
        """The extractive answer: every sentence is a verbatim quote of the passage it cites."""
        text, cites, short = self._quote(draft)
        timings = {"generate": _ms(draft.decision.t_done, time.perf_counter()), "verify": 0.0}
        extra = {"sentences": len(cites), "supported": len(cites)}
        return Verified(draft, text, tuple(cites), extra=extra, timings=timings, short_answer=short)

    def _quote(self, draft: Draft) -> tuple[str, list[Citation], ShortAnswer | None]:
        """The chosen sentences quoted with their citations, led by the short answer when there is one."""
        text, cites = compose(list(draft.chosen), list(draft.passages))
        lead = [s.text for s in sorted(draft.chosen, key=lambda s: -s.score)[:LEAD_SENTENCES]]
        short = short_answer(self.spans, draft.decision.retrieved.condensed.standalone, cites, lead)
        return lead_with(short, text), cites, short

    def generate(self, draft: Draft) -> Iterator[str]:
        """Stream what the model writes, then keep only what the passages support (the generator's
        return value is the Verified answer); the extractive answer when nothing is left."""
        condensed = draft.decision.retrieved.condensed
        raw, notice, t_first = yield from self._stream_llm(draft, condensed)
        t_gen = time.perf_counter()
        timings = {"generate": _ms(draft.decision.t_done, t_gen)}
        if t_first is not None:
            timings["first_token"] = _ms(condensed.request.t0, t_first)
        kept: list[tuple[str, int, int, int]] = []
        n_sentences = 0
        if not notice:
            if "NOT FOUND" in raw.upper() and len(raw) < 40:
                notice = "The model found no answer in the passages; this is the extractive answer."
            else:
                kept, n_sentences = self._supported_claims(raw, draft)
                if not kept:
                    notice = "No sentence of the model's answer was supported by the passages; this is the extractive answer."
        timings["verify"] = _ms(t_gen, time.perf_counter())
        short = None
        if notice:
            text, cites, short = self._quote(draft)
            extra = {"generated": raw, "sentences": len(cites), "supported": len(cites)}
        else:
            text, cites = compose_claims(kept, list(draft.passages))
            extra = {"generated": raw, "sentences": n_sentences, "supported": len(kept)}
        return Verified(draft, text, tuple(cites), notice=notice, extra=extra, timings=timings, short_answer=short)

    def _stream_llm(self, draft: Draft, condensed: Condensed) -> Iterator[str]:
        """The model's pieces as they come; returns (text, notice when it failed, time of the first piece)."""
        mode = condensed.request.mode
        raw, notice, t_first = "", "", None
        try:
            passages = prompt_passages(list(draft.scored), list(draft.passages), self.settings.llm_passages)
            prompt = _prompt_template().format(passages=passages, question=condensed.standalone)
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
        return raw, notice, t_first

    def _supported_claims(self, raw: str, draft: Draft) -> tuple[list[tuple[str, int, int, int]], int]:
        """The model's sentences that a passage supports and that bear on the question; and how many it wrote."""
        checks = verify(raw, list(draft.passages), self.embeddings)
        # Supported is not enough: the supporting sentence must also bear on the question,
        # or a document that says "reply X" could have X kept, correctly cited.
        relevance = {(s.passage, s.start, s.end): s.score for s in draft.scored}
        floor = RELEVANCE_FLOOR * draft.scored[0].score
        kept = [
            (c.sentence, c.passage, c.quote_start, c.quote_end)
            for c in checks
            if c.passage is not None and relevance.get((c.passage, c.quote_start, c.quote_end), 0.0) >= floor
        ]
        return kept, len(checks)

    def finish(self, verified: Verified) -> Answer:
        """The Answer: text, citations, the passages handed to the answer step, timings and support figures."""
        draft = verified.draft
        retrieved = draft.decision.retrieved
        condensed = retrieved.condensed
        request = condensed.request
        timings = {"retrieve": _ms(request.t0, retrieved.t_done), "rank": _ms(retrieved.t_done, draft.decision.t_done), **verified.timings}
        timings["total"] = _ms(request.t0, time.perf_counter())
        return Answer(
            question=request.question,
            standalone_question=condensed.standalone,
            answer=verified.text,
            refused=verified.refused,
            mode=request.mode,
            citations=verified.citations,
            retrieved=draft.passages,
            timings_ms=timings,
            notice=verified.notice,
            support={**draft.support, **verified.extra},
            short_answer=verified.short_answer,
        )


def build_chain(settings: Settings | None = None, *, embeddings=None, retriever=None, llm=None, gate: Gate | None = None,
                wording: WordingRules | None = None, spans: SpanFinder | NoSpans | None = None) -> AnswerChain:
    """The answer chain for ``settings``: a LangChain Runnable. Nothing is loaded until first use."""
    from ..embeddings import SentenceEmbeddings
    from ..retrieval import build_retriever

    settings = settings or Settings()
    embeddings = embeddings or SentenceEmbeddings.for_settings(settings)
    retriever = retriever or build_retriever(settings, embeddings)
    gate = gate or load_gate(settings.gate_file)
    llms = {settings.mode: llm} if llm is not None and settings.mode != "extractive" else None
    return AnswerChain(settings, retriever, embeddings, gate, llms, wording, spans)
