"""The answer chain: understand -> retrieve -> evidence -> read -> decide -> draft -> answer -> Answer.

``AnswerChain.steps`` is the list of steps up to the draft, each a function from one flat ``Turn``
record (rag/answer/steps.py) to the next; the answer step (quoting, or a model's text checked
sentence by sentence) streams, so it follows the list. A step is swapped by replacing it in the
list; each is timed by its name.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import replace
from importlib import resources
from typing import Any, Iterator

from langchain_core.messages import HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig

from ..errors import ConfigError, InputError, RagbotError
from ..gate import Gate, features, load_gate, vetoed
from ..retrieval.protocols import Retriever, Searcher, as_retriever
from ..settings import MODES, Settings, check_k, check_refusal
from ..types import Answer, Citation, Passage, ScoredSentence, ShortAnswer
from ..wording import WordingRules, load_wording
from .compose import compose, compose_claims, prompt_passages
from .condense import condense, is_follow_up
from .decision import CollectionDecision
from .scoring import score_sentences
from .reader import Reader, ReaderGate, best_reading, load_reader, load_reader_gate, reading_features
from .rerank import rerank
from .spans import NoSpans, SpanFinder, lead_with, load_spans, short_answer
from .selection import follow_on, opens_section, referenced_sections, section_leads, select
from .steps import QuestionFacts, Step, Turn
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


def _led_by(first: ScoredSentence, sentences: list[ScoredSentence]) -> list[ScoredSentence]:
    """``first``, then the other sentences in order (the same sentence once, however re-scored)."""
    return [first, *(s for s in sentences if (s.passage, s.start) != (first.passage, first.start))]


def _decided(turn: Turn) -> float:
    """When the answer-or-refuse decision was made (a chain whose steps were swapped may lack one)."""
    return turn.marks.get("decide", max(turn.marks.values(), default=turn.t0))


class AnswerChain(Runnable[dict, Answer]):
    """A LangChain Runnable: ``invoke`` returns an Answer; ``stream`` yields text pieces, then the Answer."""

    def __init__(self, settings: Settings, retriever: Searcher, embeddings, gate: Gate, llms: dict | None = None,
                 wording: WordingRules | None = None, spans: SpanFinder | NoSpans | None = None,
                 reader: Reader | None = None, reader_gate: ReaderGate | None = None):
        self.settings = settings
        self.retriever: Retriever = as_retriever(retriever)
        self.embeddings = embeddings
        self.gate = gate
        self.wording = wording or load_wording(settings.wording_rules)
        self.spans = spans or (load_spans(settings.span_file) if settings.short_answers else NoSpans())
        self._llms: dict[str, Any] = dict(llms or {})
        self._llm_lock = threading.Lock()
        self.reader, self.reader_gate = reader, reader_gate
        if settings.answer_core == "reader":
            self.reader_gate = reader_gate or load_reader_gate(settings.reader_gate_file)
            self.reader = reader or load_reader(settings.reader_file, settings.n_threads)
        # the collection's own decision (`ragbot eval --calibrate`) when it has one, else the shipped one
        self.decisions = CollectionDecision(settings, self.reader_gate) if self.reader_gate is not None else None
        self.steps: list[Step] = [self.understand, self.retrieve, self.rerank, self.evidence, self.read, self.decide, self.draft]

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
        turn = self.request(input)
        for step in self.steps:
            turn = step(turn)
            turn = replace(turn, marks={**turn.marks, getattr(step, "__name__", "step"): time.perf_counter()})
        if not turn.answerable:
            yield REFUSAL
            yield self.finish(self.refuse(turn))
            return
        if turn.mode == "extractive":
            turn = self.extract(turn)
            yield turn.text
        else:
            turn = yield from self.generate(turn)
        yield self.finish(turn)

    # -- steps ------------------------------------------------------------------------------
    def request(self, input: dict | str) -> Turn:
        """The input validated: a clear error for a bad mode, k, question or history."""
        t0 = time.perf_counter()
        if isinstance(input, str):
            input = {"question": input}
        if not isinstance(input, dict):
            raise InputError("the chain takes {'question': ..., 'history': [...]} or a question string")
        mode = input.get("mode") or self.settings.mode
        if mode not in MODES:
            raise ConfigError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
        k = self.settings.k if input.get("k") is None else check_k(input["k"])
        refusal = check_refusal(input.get("refusal") or self.settings.refusal)
        question = clean_question(input.get("question"), self.settings.max_question_chars)
        return Turn(question, tuple(clean_history(input.get("history"))), mode, k, t0, refusal=refusal)

    def understand(self, turn: Turn) -> Turn:
        """What the wording rules say of the question, once: a follow-up made standalone, the
        kind of answer asked for, whether it asks for a list, the sections it names."""
        history, w = list(turn.history), self.wording
        standalone = condense(turn.question, history, w)
        return replace(turn, facts=QuestionFacts(
            standalone=standalone,
            follow_up=is_follow_up(turn.question, history, w),
            answer_kind=w.answer_kind(standalone),
            asks_for_list=w.asks_for_list(turn.question),
            sections=tuple(referenced_sections(turn.question, self.retriever.sections(), w)),
        ))

    def retrieve(self, turn: Turn) -> Turn:
        """The passages for the standalone question; a section the question names comes first, whatever else matches."""
        standalone = turn.standalone
        passages = self.retriever.search(standalone, self._depth(turn))  # more than k when the reader reranks them
        qvec = self.embeddings.encode([standalone])[0] if turn.context else None  # a follow-up means its standalone form
        # Two named ("compare the foreign-policy section with the soft-power section"): from both.
        in_section: list[Passage] = []
        if passages and turn.facts.sections:
            query = qvec if qvec is not None else self.embeddings.encode([standalone])[0]
            for ref in turn.facts.sections:
                in_section += self.retriever.section(*ref, query=query)
        if in_section:
            ids = {p.chunk_id for p in in_section}
            passages = in_section + [p for p in passages if p.chunk_id not in ids][: max(0, turn.k - len(in_section))]
        facts = turn.facts if passages else replace(turn.facts, sections=())
        return replace(turn, facts=facts, passages=tuple(passages), in_section=len(in_section), qvec=qvec)

    def rerank(self, turn: Turn) -> Turn:
        """Retrieval reordered by the reader (rag/answer/rerank.py): the first ``rerank_depth``
        passages are read and the ``k`` the reader and retrieval rank best kept, with their readings.
        Passages of a section the question names keep their places."""
        if turn.in_section or len(turn.passages) <= turn.k:
            return turn
        more = list(turn.passages)
        readings = self.reader.read(turn.standalone, [p.text for p in more])
        passages, readings = rerank(more, readings, turn.k)
        return replace(turn, passages=tuple(passages), readings=tuple(readings))

    def _depth(self, turn: Turn) -> int:
        """How many passages to retrieve: ``rerank_depth`` when the reader reranks them, else ``k``."""
        depth = self.settings.rerank_depth
        return depth if self.reader is not None and self.reader_gate is not None and depth > turn.k else turn.k

    def evidence(self, turn: Turn) -> Turn:
        """Every sentence scored against the question, the evidence features and the evidence gate's verdict."""
        question, standalone, passages = turn.question, turn.standalone, list(turn.passages)
        scored = score_sentences(question, passages, self.embeddings, context=turn.context, qvec=turn.qvec) if passages else []
        if turn.in_section:
            scored = [s for s in scored if s.passage < turn.in_section]
        # A follow-up's own words are vague by nature ('the second one'): judge the standalone form.
        own = standalone if turn.context else question
        feats = features(standalone, passages, scored, self.retriever.vocabulary(), own=own, asked=question, wording=self.wording)
        ok, gate_score = self.gate.answerable(feats)
        support = {"gate_score": round(gate_score, 4), "gate_threshold": self.gate.threshold, "features": {k: round(v, 4) for k, v in feats.items()}}
        return replace(turn, scored=tuple(scored), evidence=feats, evidence_score=gate_score, support=support,
                       answerable=ok and bool(scored))

    def read(self, turn: Turn) -> Turn:
        """The reader's reading of the first passages (when ragbot answers with the reader)."""
        if self.reader is None or self.reader_gate is None or not turn.scored:
            return turn
        if turn.readings:  # read already to rerank: the first passages' readings are kept
            return replace(turn, readings=turn.readings[: self.reader_gate.passages])
        texts = [p.text for p in turn.passages[: self.reader_gate.passages]]
        return replace(turn, readings=tuple(self.reader.read(turn.standalone, texts)))

    def decide(self, turn: Turn) -> Turn:
        """Answer or refuse: the reader's fitted decision over its readings (and the evidence
        gate's score) when there are readings; the evidence gate's verdict otherwise."""
        if not turn.readings:
            return turn
        read = reading_features(list(turn.readings), turn.evidence_score)
        gate, whose = self.decisions.current()
        ok, score = gate.answerable({**turn.evidence, **read}, turn.refusal)
        confidence = gate.probability(score)
        # The reader decides: its score is the gate score that reports and curves read.
        support = {**turn.support, "evidence_gate_score": turn.support["gate_score"], "gate_score": round(score, 4),
                   "gate_threshold": gate.threshold_for(turn.refusal), "refusal": turn.refusal, "decision": whose,
                   "refusal_levels": {name: round(float(v["threshold"]), 6) for name, v in gate.levels.items()},
                   "reader": {k: round(v, 4) for k, v in read.items()}}
        return replace(turn, answerable=ok and bool(turn.scored), support=support,
                       confidence=None if confidence is None else round(confidence, 4))

    def draft(self, turn: Turn) -> Turn:
        """The sentences of an extractive answer; a follow-up that adds nothing new is refused here."""
        if not turn.answerable:
            return turn
        facts, support, passages = turn.facts, dict(turn.support), list(turn.passages)
        scored = list(turn.scored)
        if turn.context:
            scored = follow_on(scored, passages, turn.history[-1][1])
        chosen, passages = self._select(turn, scored, passages)
        if len(facts.sections) > 1:  # each section named has its say
            for ref in facts.sections:
                if not any((passages[c.passage].source, passages[c.passage].section) == ref for c in chosen):
                    chosen += [s for s in scored if (passages[s.passage].source, passages[s.passage].section) == ref][:1]
        answerable = True
        if turn.context and facts.answer_kind is None:
            # A follow-up that the documents answer only with what the conversation already
            # said ("Which specific resources?" after "competition for resources") is not
            # answered: at least one sentence of the answer must be mostly new.
            novelty = self.wording.novelty(list(turn.history), turn.question, [c.text for c in chosen])
            if novelty is not None:
                support["novelty"] = round(novelty, 4)
                answerable = not vetoed({"novelty": novelty})
        holder = self._span_sentence(turn)
        if holder is not None:  # the quote that holds the reader's span leads, and leads a model's prompt
            chosen, scored = _led_by(holder, chosen), _led_by(holder, scored)
        return replace(turn, scored=tuple(scored), chosen=tuple(chosen), passages=tuple(passages),
                       answerable=answerable, support=support)

    def _select(self, turn: Turn, scored: list[ScoredSentence], passages: list[Passage]) -> tuple[list[ScoredSentence], list[Passage]]:
        """The chosen sentences, and the passages they cite. A question that asks for several things,
        best answered by the sentence that opens a section, gets the section's paragraphs in turn:
        the list runs through them, and some were not among the retrieved."""
        w, facts = self.wording, turn.facts
        best = scored[0]
        if facts.asks_for_list and opens_section(best, passages):
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
        fits = (lambda text: w.answer_type_met(facts.standalone, text) >= 1.0) if facts.answer_kind else None
        return select(scored, passages, question=turn.question, fits=fits, wording=w), passages

    def _span_sentence(self, turn: Turn) -> ScoredSentence | None:
        """The sentence (or table row) that holds the reader's span, if the reader read any."""
        best = best_reading(list(turn.readings))
        if best is None:
            return None
        return next((s for s in turn.scored if s.passage == best.passage and s.start <= best.start < s.end), None)

    def refuse(self, turn: Turn) -> Turn:
        return replace(turn, text=REFUSAL, citations=(), refused=True, timings={"generate": 0.0, "verify": 0.0})

    def extract(self, turn: Turn) -> Turn:
        """The extractive answer: every sentence is a verbatim quote of the passage it cites."""
        text, cites, short = self._quote(turn)
        timings = {"generate": _ms(_decided(turn), time.perf_counter()), "verify": 0.0}
        support = {**turn.support, "sentences": len(cites), "supported": len(cites)}
        return replace(turn, text=text, citations=tuple(cites), support=support, timings=timings, short_answer=short)

    def _quote(self, turn: Turn) -> tuple[str, list[Citation], ShortAnswer | None]:
        """The chosen sentences quoted with their citations, led by the short answer when there is one."""
        lead = self._span_sentence(turn) if self.reader_gate is not None else None
        text, cites = compose(list(turn.chosen), list(turn.passages), lead)
        if self.reader_gate is not None:
            short = self._reader_span(turn, cites)
        else:
            lead = [s.text for s in sorted(turn.chosen, key=lambda s: -s.score)[:LEAD_SENTENCES]]
            short = short_answer(self.spans, turn.standalone, cites, lead)
        return lead_with(short, text), cites, short

    def _reader_span(self, turn: Turn, cites: list[Citation]) -> ShortAnswer | None:
        """The reader's span as the short answer, when it is sure enough and lies in a cited quote."""
        best = best_reading(list(turn.readings))
        if best is None or best.margin < self.reader_gate.span_threshold:
            return None
        p = turn.passages[best.passage]
        a = p.source_span(best.start, best.end)[0]
        for c in cites:
            if c.chunk_id == p.chunk_id and c.start <= a < c.end:
                text = p.text[best.start : min(best.end, p.text_offset(c.end))].rstrip(" .,;:")
                if text:
                    return ShortAnswer(text, c.n, *p.source_span(best.start, best.start + len(text)), round(best.margin, 4))
        return None

    def generate(self, turn: Turn) -> Iterator[str]:
        """Stream what the model writes, then keep only what the passages support (the generator's
        return value is the answered Turn); the extractive answer when nothing is left."""
        raw, notice, t_first = yield from self._stream_llm(turn)
        t_gen = time.perf_counter()
        timings = {"generate": _ms(_decided(turn), t_gen)}
        if t_first is not None:
            timings["first_token"] = _ms(turn.t0, t_first)
        kept: list[tuple[str, int, int, int]] = []
        n_sentences = 0
        if not notice:
            if "NOT FOUND" in raw.upper() and len(raw) < 40:
                notice = "The model found no answer in the passages; this is the extractive answer."
            else:
                kept, n_sentences = self._supported_claims(raw, turn)
                if not kept:
                    notice = "No sentence of the model's answer was supported by the passages; this is the extractive answer."
        timings["verify"] = _ms(t_gen, time.perf_counter())
        short = None
        if notice:
            text, cites, short = self._quote(turn)
            extra = {"generated": raw, "sentences": len(cites), "supported": len(cites)}
        else:
            text, cites = compose_claims(kept, list(turn.passages))
            extra = {"generated": raw, "sentences": n_sentences, "supported": len(kept)}
        return replace(turn, text=text, citations=tuple(cites), notice=notice, support={**turn.support, **extra},
                       timings=timings, short_answer=short)

    def _stream_llm(self, turn: Turn) -> Iterator[str]:
        """The model's pieces as they come; returns (text, notice when it failed, time of the first piece)."""
        mode = turn.mode
        raw, notice, t_first = "", "", None
        try:
            passages = prompt_passages(list(turn.scored), list(turn.passages), self.settings.llm_passages)
            prompt = _prompt_template().format(passages=passages, question=turn.standalone)
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

    def _supported_claims(self, raw: str, turn: Turn) -> tuple[list[tuple[str, int, int, int]], int]:
        """The model's sentences that a passage supports and that bear on the question; and how many it wrote."""
        checks = verify(raw, list(turn.passages), self.embeddings)
        # Supported is not enough: the supporting sentence must also bear on the question,
        # or a document that says "reply X" could have X kept, correctly cited.
        relevance = {(s.passage, s.start, s.end): s.score for s in turn.scored}
        floor = RELEVANCE_FLOOR * turn.scored[0].score
        kept = [
            (c.sentence, c.passage, c.quote_start, c.quote_end)
            for c in checks
            if c.passage is not None and relevance.get((c.passage, c.quote_start, c.quote_end), 0.0) >= floor
        ]
        return kept, len(checks)

    def finish(self, turn: Turn) -> Answer:
        """The Answer: text, citations, the passages handed to the answer step, timings and support figures."""
        retrieved, decided = turn.marks.get("retrieve", turn.t0), _decided(turn)
        timings = {"retrieve": _ms(turn.t0, retrieved), "rank": _ms(retrieved, decided), **turn.timings}
        timings["total"] = _ms(turn.t0, time.perf_counter())
        return Answer(
            question=turn.question,
            standalone_question=turn.standalone,
            answer=turn.text,
            refused=turn.refused,
            mode=turn.mode,
            citations=turn.citations,
            retrieved=turn.passages,
            timings_ms=timings,
            notice=turn.notice,
            support=turn.support,
            short_answer=turn.short_answer,
            confidence=turn.confidence,
        )


def build_chain(settings: Settings | None = None, *, embeddings=None, retriever=None, llm=None, gate: Gate | None = None,
                wording: WordingRules | None = None, spans: SpanFinder | NoSpans | None = None,
                reader: Reader | None = None, reader_gate: ReaderGate | None = None) -> AnswerChain:
    """The answer chain for ``settings``: a LangChain Runnable. Nothing is loaded until first use."""
    from ..embeddings import SentenceEmbeddings
    from ..retrieval import build_retriever

    settings = settings or Settings()
    embeddings = embeddings or SentenceEmbeddings.for_settings(settings)
    retriever = retriever or build_retriever(settings, embeddings)
    gate = gate or load_gate(settings.gate_file)
    llms = {settings.mode: llm} if llm is not None and settings.mode != "extractive" else None
    return AnswerChain(settings, retriever, embeddings, gate, llms, wording, spans, reader, reader_gate)
