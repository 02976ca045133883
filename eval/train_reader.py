"""Train the extractive reader that ships with ragbot: ``python -m eval.train_reader`` (``ragbot train reader``).

The packaged all-MiniLM-L6-v2 is fine-tuned as a reader: given a question and one passage it gives
a start and an end score to every passage token (the short answer), and an answerability score
(does this passage hold the answer at all). The data is ``../shared/datasets/squad-train``
(87,377 crowd-written questions on 442 Wikipedia articles, none of them a benchmark article):

* a positive is the question against a window of its paragraph that holds the gold answer, cut
  along sentences to 300-800 characters, the size of the chunks ragbot retrieves;
* a negative is the question against a passage that is on topic but lacks the answer, as a
  retriever hands one to a reader when the documents do not hold the fact: the other paragraph of
  the same article that shares most words with the question (a lexical retriever's first wrong
  pick), or the question's own paragraph with the sentences that hold the answer cut out;
* an adversarial negative is the positive's passage against a question changed so that the passage
  no longer answers it, the way SQuAD 2.0's unanswerable questions were written: a name, year or
  number of the question that the passage holds swapped for another of the same kind from the
  article that the passage does not hold, or (when the question has none) a negation.

Recipe v3 is a second stage on a v2 checkpoint (``--start-from``): SQuAD 2.0's own unanswerable
``dev`` questions (``../shared/benchmarks/squad2``, crowd-written to look answerable by a paragraph
of their article) against windows of the two ``dev`` paragraphs a lexical retriever ranks first,
mixed with ``REPLAY`` times as many pairs from the end of the first stage's list (read from the
``--start-from`` checkpoint's folder), which a first stage that trained on fewer than
``len - REPLAY * negatives`` pairs never saw.

Training runs for a budget (``--max-hours``) in the background, writes a checkpoint outside the
repository every few minutes (``--work``, default ``~/.cache/ragbot/train-reader``) and resumes
from the last one when started again with the same arguments. ``--export`` writes the model that
ragbot ships: an int8 ONNX graph (``rag/data/reader.onnx``), quantized by onnxruntime's own
quantizer; the tokenizer is the embedding package's own. The reader's thresholds are fitted
afterwards on the ``dev`` splits (``python -m eval.fit_reader``).
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path

from rag.answer.reader import question_windows, tokenizer  # the reader's own tokens and windows

ROOT = Path(__file__).resolve().parent.parent
SQUAD_TRAIN = ROOT.parent / "shared" / "datasets" / "squad-train" / "train.jsonl.gz"
WORK = Path(os.environ.get("RAGBOT_CACHE_DIR", Path.home() / ".cache" / "ragbot")) / "train-reader"
OUT = ROOT / "rag" / "data" / "reader.onnx"
# How negatives are made. v1 (the reader shipped first): a third of the time the own paragraph
# without the answer's sentences, else a retrieval negative. v2: kinds drawn by NEGATIVE_KINDS,
# changed questions among them. v3: a second stage after v2 (the shipped reader: see the model card).
RECIPES = ("v1", "v2", "v3", "v6", "v10", "v11")
REPLAY = 3  # v3: v2 pairs replayed per SQuAD 2.0 dev negative
FIRST_STAGE = 100_000  # pairs of the v2 list the shipped first stage trained on
MORE = 30_000  # v6: v2 pairs after those, which no stage saw
WRITTEN_UNANSWERABLE = ROOT.parent / "shared" / "datasets" / "squad-train-unanswerable" / "unanswerable.jsonl.gz"
WRITTEN = 12_000  # v10: written unanswerable questions, each beside an answerable one of its paragraph
UNSEEN = 12_000  # v10: v2 pairs after v6's, which no stage saw
MANUALS_TRAIN = ROOT.parent / "shared" / "datasets" / "manuals-train"
MANUALS_REPEAT = 2  # v11: each manuals pair twice (13,000 pairs beside v10's 38,000)
WINDOW = (300, 800)  # characters of a training passage: ragbot's chunks are at most 800
NEGATIVE_KINDS = (("retrieved", 0.4), ("cut", 0.25), ("changed", 0.35))  # shares of each negative kind
_YEAR = r"(?<![\w-])(?:1[0-9]{3}|20[0-9]{2})s?(?![\w-])"
_NUMBER = r"(?<![\w-])(?!(?:1[0-9]{3}|20[0-9]{2})s?(?![\w-]))[0-9][0-9,.]*(?![\w-])"  # not a year
# a name inside a sentence (after a lower-case word or a comma), so that sentence-initial words are not names
_NAME = r"(?<=[a-z,;] )[A-Z][\w'-]+(?:\s+(?:of\s+|de\s+)?[A-Z][\w'-]+)*"
_MENTION_KINDS = {"year": re.compile(_YEAR), "number": re.compile(_NUMBER), "name": re.compile(_NAME)}
# an auxiliary a negation can follow without moving the subject ("has been" -> "has not been")
_AUXILIARY = re.compile(r"\b(?:is|was|are|were|has|have|had)(?= (?:the|a|an|been|[a-z]+ed|[a-z]+en|[a-z]+ing)\b)")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


@dataclass(frozen=True)
class Example:
    """One training pair: ``answer`` is ``(start, end)`` in ``passage`` or ``None`` for a negative."""

    question: str
    passage: str
    answer: tuple[int, int] | None


def sentences(text: str) -> list[tuple[int, int]]:
    """Rough sentence spans of a paragraph (training windows only need plausible cuts)."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if b > a]


def window_around(text: str, a: int, b: int, size: int, rng: random.Random) -> tuple[int, int]:
    """A run of whole sentences of ``text`` that covers ``[a, b)`` and grows at random sides
    while it stays within ``size`` characters."""
    spans = sentences(text)
    first = max(i for i, (s, _) in enumerate(spans) if s <= a) if spans[0][0] <= a else 0
    last = min((i for i, (_, e) in enumerate(spans) if e >= b), default=len(spans) - 1)
    lo, hi = first, last
    while True:
        grow = [side for side, ok in (("l", lo > 0), ("r", hi < len(spans) - 1)) if ok]
        rng.shuffle(grow)
        for side in grow:
            nlo, nhi = (lo - 1, hi) if side == "l" else (lo, hi + 1)
            if spans[nhi][1] - spans[nlo][0] <= size:
                lo, hi = nlo, nhi
                break
        else:
            return spans[lo][0], spans[hi][1]


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


def holds_answer(passage: str, answers: list[str]) -> bool:
    p = f" {_norm(passage)} "
    return any(f" {_norm(a)} " in p for a in answers if _norm(a))


def load_paragraphs(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


def nearest_other_paragraphs(paragraphs: list[dict]) -> dict[str, list[int]]:
    """For each question id, the other paragraphs of its article ranked by TF-IDF similarity to
    the question (a lexical retriever's ranking)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    by_title: dict[str, list[int]] = {}
    for i, p in enumerate(paragraphs):
        by_title.setdefault(p["title"], []).append(i)
    ranked: dict[str, list[int]] = {}
    for idx in by_title.values():
        vec = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit([paragraphs[i]["context"] for i in idx])
        docs = vec.transform([paragraphs[i]["context"] for i in idx])
        qas = [(i, qa) for i in idx for qa in paragraphs[i]["qas"]]
        if not qas:
            continue
        sims = (vec.transform([qa["question"] for _, qa in qas]) @ docs.T).toarray()
        for row, (own, qa) in zip(sims, qas):
            order = [idx[j] for j in row.argsort()[::-1] if idx[j] != own]
            ranked[qa["id"]] = order[:5]
    return ranked


def build_examples(paragraphs: list[dict], seed: int, recipe: str = "v1") -> list[Example]:
    """One positive per question and one negative, shuffled. Recipe v1: the own paragraph without
    the answer's sentences a third of the time (when it allows), else a retrieval negative. v2: a
    kind drawn by ``NEGATIVE_KINDS`` (a kind the question or paragraph does not allow falls back to
    a retrieval negative)."""
    rng = random.Random(seed)
    ranked = nearest_other_paragraphs(paragraphs)
    mentions = article_mentions(paragraphs)
    kinds, shares = zip(*NEGATIVE_KINDS)
    out: list[Example] = []
    for p in paragraphs:
        text = p["context"]
        for qa in p["qas"]:
            answers = [a["text"] for a in qa["answers"]]
            gold = qa["answers"][0]
            a, b = gold["answer_start"], gold["answer_start"] + len(gold["text"])
            s, e = window_around(text, a, b, rng.randint(*WINDOW), rng)
            positive = Example(qa["question"], text[s:e], (a - s, b - s))
            out.append(positive)
            if recipe == "v1":
                cut = _without_answer(qa, text, (a, b), answers) if rng.random() < 1 / 3 else None
                negative = cut or _retrieved(qa, answers, paragraphs, ranked, rng)
                if negative is not None:
                    out.append(negative)
                continue
            kind = rng.choices(kinds, shares)[0]
            negative = None
            if kind == "changed":
                negative = changed_question(positive, mentions[p["title"]], rng)
            elif kind == "cut":
                negative = _without_answer(qa, text, (a, b), answers)
            negative = negative or _retrieved(qa, answers, paragraphs, ranked, rng)
            if negative is not None:
                out.append(negative)
    rng.shuffle(out)
    return out


def squad2_dev_negatives(bench: Path, seed: int) -> list[Example]:
    """SQuAD 2.0's unanswerable ``dev`` questions, each against a window of the two ``dev``
    paragraphs that share most words with it (TF-IDF), a window that holds the sentence that
    shares most (grown to 300-800 characters on random sides; a longer sentence stays whole)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from .golden import load_golden
    from .squad2 import paragraphs as split_paragraphs

    rng = random.Random(seed)
    dev = load_golden([bench / "questions.jsonl"], "dev")
    articles = sorted({src for case in dev for src in case.sources})
    paras = [p for a in articles for p in split_paragraphs((bench / "articles" / a).read_text(encoding="utf-8"))[1:]]
    questions = [case.question for case in dev if not case.answerable]
    vec = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit(paras)
    asked = vec.transform(questions)
    sims = (asked @ vec.transform(paras).T).toarray()
    out = []
    for i, (question, row) in enumerate(zip(questions, sims)):
        for j in row.argsort()[::-1][:2]:
            text = paras[j]
            spans = sentences(text) or [(0, len(text))]
            shared = (vec.transform([text[a:b] for a, b in spans]) @ asked[i].T).toarray()[:, 0]
            a, b = spans[int(shared.argmax())]
            s, e = window_around(text, a, b, rng.randint(*WINDOW), rng)
            out.append(Example(question, text[s:e], None))
    return out


def stage_examples(first_stage: list[Example], bench: Path, seed: int) -> list[Example]:
    """Recipe v3: the SQuAD 2.0 dev negatives and ``REPLAY`` times as many pairs from the end of the
    first stage's list, shuffled."""
    negatives = squad2_dev_negatives(bench, seed)
    out = negatives + first_stage[-REPLAY * len(negatives):]
    random.Random(seed).shuffle(out)
    return out


def more_examples(first_stage: list[Example], bench: Path, seed: int) -> list[Example]:
    """Recipe v6, a third stage: ``MORE`` pairs of the first stage's list that no stage trained on
    (after its first ``FIRST_STAGE``; v3 replayed the list's end), with the SQuAD 2.0 dev negatives
    again so that the second stage's lesson is not washed out, shuffled."""
    negatives = squad2_dev_negatives(bench, seed)
    if FIRST_STAGE + MORE > len(first_stage) - REPLAY * len(negatives):
        raise SystemExit(f"recipe v6 needs {FIRST_STAGE + MORE} pairs before the {REPLAY * len(negatives)} "
                         f"that v3 replayed, and the v2 list has {len(first_stage)}")
    out = negatives + first_stage[FIRST_STAGE : FIRST_STAGE + MORE]
    random.Random(seed).shuffle(out)
    return out


def written_examples(paragraphs: list[dict], written: Path, count: int, seed: int) -> list[Example]:
    """Recipe v10's new pairs: ``count`` written unanswerable questions (a seeded draw), each against a
    window of its paragraph around the span a careless reader would give, and beside each an
    answerable question of the same paragraph against a window around its answer, so the reader
    learns the difference on the same text rather than a difference of passages."""
    rng = random.Random(seed)
    by_key = {(p["title"], p["paragraph"]): p for p in paragraphs}
    with gzip.open(written, "rt") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rng.shuffle(rows)
    out: list[Example] = []
    for row in rows:
        if len(out) >= 2 * count:
            break
        p = by_key.get((row["title"], row["paragraph"]))
        if p is None or not p["qas"] or not row.get("plausible_answers"):
            continue
        text = p["context"]
        plausible = row["plausible_answers"][0]
        a = plausible["answer_start"]
        s, e = window_around(text, a, a + len(plausible["text"]), rng.randint(*WINDOW), rng)
        out.append(Example(row["question"], text[s:e], None))
        qa = rng.choice(p["qas"])
        gold = qa["answers"][0]
        a, b = gold["answer_start"], gold["answer_start"] + len(gold["text"])
        s, e = window_around(text, a, b, rng.randint(*WINDOW), rng)
        out.append(Example(qa["question"], text[s:e], (a - s, b - s)))
    return out


def written_stage_examples(first_stage: list[Example], paragraphs: list[dict], bench: Path, seed: int,
                           written: int = WRITTEN, unseen: int = UNSEEN) -> list[Example]:
    """Recipe v10, a stage after v6: the written unanswerable questions with their paragraphs'
    answerable ones (``written_examples``), ``unseen`` pairs of the first stage's list that no stage
    trained on (after v6's), and the SQuAD 2.0 dev negatives again, shuffled."""
    negatives = squad2_dev_negatives(bench, seed)
    begin = FIRST_STAGE + MORE
    if begin + unseen > len(first_stage) - REPLAY * len(negatives):
        raise SystemExit(f"recipe v10 needs {unseen} unseen pairs after {begin}, and the v2 list has {len(first_stage)}")
    out = written_examples(paragraphs, WRITTEN_UNANSWERABLE, written, seed) + negatives + first_stage[begin : begin + unseen]
    random.Random(seed).shuffle(out)
    return out


def manuals_examples(folder: Path, seed: int) -> list[Example]:
    """Recipe v11's manuals pairs (``../shared/datasets/manuals-train``), on the chunks ragbot's own
    ingestion makes of each document (reflowed, an option's entry a chunk): an answerable question
    against the chunk that holds its short answer (the span mapped into the chunk's reflowed
    text), and, half the time, against the chunk of its document that shares most words with it
    and lacks the answer; an unanswerable question (an option the page lacks, a default it never
    states) against the two chunks that share most words with it."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from ingest.chunking import split_document
    from ingest.loaders import load
    from rag.origin import text_offset

    rng = random.Random(seed)
    rows = [json.loads(line) for line in (folder / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    by_doc: dict[str, list[dict]] = {}
    for row in rows:
        by_doc.setdefault(row["sources"][0], []).append(row)
    out: list[Example] = []
    for name, questions in sorted(by_doc.items()):
        chunks = split_document(load(folder / "docs" / name, name))
        if len(chunks) < 2:
            continue
        texts = [f"{c.section}\n{c.text}" for c in chunks]
        vec = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit(texts)
        sims = (vec.transform([q["question"] for q in questions]) @ vec.transform(texts).T).toarray()
        for q, row in zip(questions, sims):
            ranked = [int(i) for i in row.argsort()[::-1]]
            if not q["answerable"]:
                out += [Example(q["question"], chunks[i].text, None) for i in ranked[:2]]
                continue
            a, b = q["answer_span"]["start"], q["answer_span"]["end"]
            holder = next((c for c in chunks if c.start <= a and b <= c.end), None)
            if holder is None:
                continue
            s, e = text_offset(holder.origin, a, holder.start), text_offset(holder.origin, b - 1, holder.start) + 1
            if not holder.text[s:e].strip():
                continue
            out.append(Example(q["question"], holder.text, (s, e)))
            if rng.random() < 0.5:
                other = next((chunks[i] for i in ranked if not (chunks[i].start <= a < chunks[i].end)), None)
                if other is not None:
                    out.append(Example(q["question"], other.text, None))
    return out


def article_mentions(paragraphs: list[dict]) -> dict[str, dict[str, set[str]]]:
    """Per article, the names, years and numbers its paragraphs mention, by kind."""
    out: dict[str, dict[str, set[str]]] = {}
    for p in paragraphs:
        found = out.setdefault(p["title"], {kind: set() for kind in _MENTION_KINDS})
        for kind, pattern in _MENTION_KINDS.items():
            found[kind].update(m.group().strip(",.") for m in pattern.finditer(p["context"]))
    return out


def changed_question(positive: Example, mentions: dict[str, set[str]], rng: random.Random) -> Example | None:
    """The positive's passage against its question changed so the passage no longer answers it:
    a mention the passage holds swapped for one of the same kind from the article that the passage
    lacks, else a negation after the first auxiliary verb; ``None`` when neither applies."""
    question, passage = positive.question, _norm(positive.passage)
    held = f" {passage} "
    candidates = []
    for kind, pattern in _MENTION_KINDS.items():
        for m in pattern.finditer(question):
            mention = m.group().strip(",.")
            if mention and f" {_norm(mention)} " in held:
                others = sorted(o for o in mentions[kind] if _norm(o) and f" {_norm(o)} " not in held)
                if others:
                    candidates.append((m.start(), m.start() + len(mention), others))
    if candidates:
        a, b, others = rng.choice(candidates)
        return Example(question[:a] + rng.choice(others) + question[b:], positive.passage, None)
    auxiliary = _AUXILIARY.search(question)
    if auxiliary and " not " not in f" {question.lower()} " and "n't" not in question:
        at = auxiliary.end()
        return Example(question[:at] + " not" + question[at:], positive.passage, None)
    return None


def _without_answer(qa, text, span, answers) -> Example | None:
    """The question's own paragraph with the sentences that hold the answer cut out."""
    rest = [(s, e) for s, e in sentences(text) if e <= span[0] or s >= span[1]]
    before = " ".join(text[s:e] for s, e in rest if e <= span[0])
    after = " ".join(text[s:e] for s, e in rest if s >= span[1])
    passage = max((before, after), key=len)
    if len(passage) >= 150 and not holds_answer(passage, answers):
        return Example(qa["question"], passage[: WINDOW[1]], None)
    return None


def _retrieved(qa, answers, paragraphs, ranked, rng) -> Example | None:
    """A window of the article's paragraph a lexical retriever ranks first (or second) that lacks
    the answer."""
    for j in ranked.get(qa["id"], [])[: 1 + (rng.random() < 0.3)][::-1]:
        other = paragraphs[j]["context"]
        if holds_answer(other, answers):
            continue
        mid = rng.randrange(len(other))
        s, e = window_around(other, mid, mid, rng.randint(*WINDOW), rng)
        return Example(qa["question"], other[s:e], None)
    return None


# --- the model ------------------------------------------------------------------------------


def base_model_path() -> Path:
    from rag.embeddings import resolve_model_path

    return resolve_model_path("all-MiniLM-L6-v2")


def make_model(path: Path | None = None):
    """The encoder with a span head (start, end per token) and an answerability head on [CLS]."""
    import torch
    from transformers import AutoModel

    class Reader(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder
            hidden = encoder.config.hidden_size
            self.span = torch.nn.Linear(hidden, 2)
            self.answerable = torch.nn.Linear(hidden, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):
            states = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            start, end = self.span(states).unbind(-1)
            return start, end, self.answerable(states[:, 0]).squeeze(-1)

    return Reader(AutoModel.from_pretrained(str(path or base_model_path())))


def encode(tok, question: str, passage: str, max_length: int):
    """``[CLS] question [SEP] passage [SEP]`` as the reader reads it (its first window, the passage
    cut to ``max_length`` tokens): token ids, token types, and each passage token's character
    offsets in ``passage`` (``None`` for the others)."""
    _, ids, types, offsets = question_windows(tok, question, passage, max_length=max_length)[0]
    return ids, types, offsets


def labels(offsets, answer: tuple[int, int] | None) -> tuple[int, int] | None:
    """Token positions of an answer's first and last characters, ``(0, 0)`` for no answer, or
    ``None`` when the answer was cut off."""
    if answer is None:
        return 0, 0
    a, b = answer
    start = next((i for i, o in enumerate(offsets) if o and o[0] <= a < o[1]), None)
    end = next((i for i, o in enumerate(offsets) if o and o[0] < b <= o[1]), None)
    if start is None or end is None or end < start:
        return None
    return start, end


def starting_weights(path: Path) -> dict:
    """The weights a later stage starts from: a checkpoint's, or a shipped int8 ONNX reader's
    (``weights_from_onnx``), so that a stage can follow the shipped reader on a machine that no
    longer holds its checkpoint."""
    import torch

    if path.suffix == ".onnx":
        return weights_from_onnx(path)
    return torch.load(path, weights_only=False)["model"]


def weights_from_onnx(path: Path) -> dict:
    """The reader's weights read back from an ONNX graph that ``export`` wrote, dequantized
    (int8 weights times their per-channel scale). The graph names most weights by export order
    ("onnx::MatMul_123"), not by parameter: the same architecture is exported once more in float
    and each of its initializers matched to the parameter it holds by value, which gives the
    name of every parameter in the shipped graph."""
    import tempfile

    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    model = make_model()
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    with tempfile.TemporaryDirectory() as tmp:
        graph = export_float(model, Path(tmp) / "float.onnx")
        fresh = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(graph)).graph.initializer}
    where: dict[str, tuple[str, bool]] = {}  # graph name -> (parameter, stored transposed)
    for name, value in fresh.items():
        for key, param in state.items():
            p = param.numpy()
            if p.shape == value.shape and np.array_equal(p, value):
                where[name] = (key, False)
            elif p.ndim == 2 and p.T.shape == value.shape and np.array_equal(p.T, value):
                where[name] = (key, True)
    shipped = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}

    def value(name: str):
        if name in shipped:
            return shipped[name].astype(np.float32)
        q = shipped[f"{name}_quantized"].astype(np.float32)
        scale, zero = shipped[f"{name}_scale"], shipped[f"{name}_zero_point"].astype(np.float32)
        shape = [1] * q.ndim  # onnxruntime quantizes a MatMul's weight per output channel: the last axis
        if scale.size > 1:
            shape[-1] = scale.size
        return (q - zero.reshape(shape)) * scale.reshape(shape)

    loaded, used = set(), set()
    for name, (key, transposed) in where.items():
        if name in shipped or f"{name}_quantized" in shipped:
            v = value(name)
            state[key] = torch.from_numpy(np.ascontiguousarray(v.T if transposed else v))
            loaded.add(key)
            used.add(name)
    # a parameter the float graph holds otherwise (a head exported as Gemm there, MatMul here): the
    # one unused weight of its transposed shape
    spare = {n[: -len("_quantized")] if n.endswith("_quantized") else n for n in shipped
             if not n.endswith(("_scale", "_zero_point"))} - used
    for key in [k for k in state if k not in loaded and state[k].ndim == 2]:
        fits = [n for n in spare if value(n).shape == tuple(state[key].shape[::-1])]
        if len(fits) == 1:
            state[key] = torch.from_numpy(np.ascontiguousarray(value(fits[0]).T))
            loaded.add(key)
            spare.discard(fits[0])
    missing = [k for k in state if k not in loaded and not k.endswith("position_ids") and ".pooler." not in k]  # the pooler feeds no output
    if missing:
        raise SystemExit(f"{path}: no weights found for {len(missing)} parameters (first: {missing[0]})")
    return state


# --- training -------------------------------------------------------------------------------


def examples_file(work: Path, data: Path, seed: int, recipe: str = "v1", first_stage: Path | None = None) -> Path:
    """The shuffled examples, built once per data file and seed, then read back on resume. Recipes
    v3 and v6 read the v2 list of the earlier stage's folder ``first_stage`` (built there if missing)."""
    target = work / (f"examples-seed{seed}.jsonl.gz" if recipe == "v1" else f"examples-{recipe}-seed{seed}.jsonl.gz")
    if not target.exists():
        work.mkdir(parents=True, exist_ok=True)
        if recipe in ("v3", "v6", "v10", "v11"):
            from .datasets import benchmark_dir

            if recipe == "v11":  # v10's list with the manuals pairs
                built = read_examples(examples_file(work, data, seed, "v10")) + manuals_examples(MANUALS_TRAIN, seed) * MANUALS_REPEAT
                random.Random(seed).shuffle(built)
            elif recipe == "v10":  # the v2 list is rebuilt (same data, same seed) where stage 1 kept it
                v2 = read_examples(examples_file(WORK.parent / "train-reader-v2", data, seed, "v2"))
                built = written_stage_examples(v2, load_paragraphs(data), benchmark_dir("squad2"), seed)
            else:
                if first_stage is None:
                    raise SystemExit(f"recipe {recipe} is a later stage: give --start-from, the earlier stage's checkpoint")
                stage = stage_examples if recipe == "v3" else more_examples
                built = stage(read_examples(examples_file(first_stage, data, seed, "v2")), benchmark_dir("squad2"), seed)
        else:
            built = build_examples(load_paragraphs(data), seed, recipe)
        tmp = target.with_suffix(".tmp")
        with gzip.open(tmp, "wt") as f:
            for ex in built:
                f.write(json.dumps([ex.question, ex.passage, ex.answer]) + "\n")
        os.replace(tmp, target)
    return target


def read_examples(path: Path) -> list[Example]:
    with gzip.open(path, "rt") as f:
        return [Example(q, p, tuple(a) if a else None) for q, p, a in map(json.loads, f)]


def batches(examples: list[Example], tok, max_length: int, batch: int, seed: int) -> list[list[int]]:
    """Example indices in batches of similar length (less padding), the batches in a seeded order."""
    lengths = [len(tok.encode(e.question, e.passage).ids) for e in examples]
    out = []
    pool = batch * 64
    for k in range(0, len(examples), pool):
        idx = sorted(range(k, min(k + pool, len(examples))), key=lengths.__getitem__)
        out += [idx[i : i + batch] for i in range(0, len(idx), batch)]
    random.Random(seed + 1).shuffle(out)
    return out


def tensors(items: list[Example], tok, max_length: int):
    """Padded inputs and labels of a batch; examples whose answer was cut off are left out."""
    import torch

    rows = []
    for ex in items:
        ids, types, offsets = encode(tok, ex.question, ex.passage, max_length)
        lab = labels(offsets, ex.answer)
        if lab is not None:
            rows.append((ids, types, offsets, lab, ex.answer is not None))
    width = max(len(r[0]) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    types, mask, allowed = torch.zeros_like(ids), torch.zeros_like(ids), torch.zeros(len(rows), width, dtype=torch.bool)
    for i, (tid, ty, offsets, _, _) in enumerate(rows):
        ids[i, : len(tid)] = torch.tensor(tid)
        types[i, : len(ty)] = torch.tensor(ty)
        mask[i, : len(tid)] = 1
        allowed[i, 0] = True
        allowed[i, : len(offsets)] |= torch.tensor([o is not None for o in offsets])
    starts = torch.tensor([r[3][0] for r in rows])
    ends = torch.tensor([r[3][1] for r in rows])
    has = torch.tensor([float(r[4]) for r in rows])
    return ids, mask, types, allowed, starts, ends, has


def loss_of(model, batch):
    import torch.nn.functional as F

    ids, mask, types, allowed, starts, ends, has = batch
    start, end, answerable = model(ids, mask, types)
    start = start.masked_fill(~allowed, -1e4)
    end = end.masked_fill(~allowed, -1e4)
    span = (F.cross_entropy(start, starts) + F.cross_entropy(end, ends)) / 2
    return span + F.binary_cross_entropy_with_logits(answerable, has)


def save_checkpoint(work: Path, model, optimizer, scheduler, step: int, log: dict) -> None:
    import torch

    tmp = work / "checkpoint.pt.tmp"
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "step": step, "log": log}, tmp)
    os.replace(tmp, work / "checkpoint.pt")


def train(args) -> Path:
    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    work = Path(args.work).expanduser()
    start_from = Path(args.start_from).expanduser() if args.start_from else None
    first_stage = start_from.parent if start_from else None
    examples = read_examples(examples_file(work, Path(args.data), args.seed, args.recipe, first_stage))
    examples = examples[args.skip : args.skip + args.examples]
    tok = tokenizer()
    plan = batches(examples, tok, args.max_length, args.batch, args.seed)
    model = make_model()
    checkpoint = work / "checkpoint.pt"
    if start_from and not checkpoint.exists():  # a later stage: the earlier's weights, a fresh optimizer and schedule
        model.load_state_dict(starting_weights(start_from))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, int(0.05 * len(plan)))
    schedule = lambda s: min((s + 1) / warmup, max(0.0, (len(plan) - s) / (len(plan) - warmup)))  # noqa: E731
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    step, log = 0, {"seconds": 0.0, "examples": 0, "recipe": args.recipe}
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        if state["log"].get("recipe", args.recipe) != args.recipe:
            raise SystemExit(f"{checkpoint} is a recipe {state['log']['recipe']} run, not {args.recipe}: give another --work")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, log = state["step"], state["log"]
        print(f"resuming at step {step} of {len(plan)}", flush=True)
    model.train()
    began, last_save, recent = time.monotonic(), time.monotonic(), []
    budget = args.max_hours * 3600
    while step < len(plan) and time.monotonic() - began < budget:
        t0 = time.monotonic()
        batch = tensors([examples[i] for i in plan[step]], tok, args.max_length)
        loss = loss_of(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        step += 1
        log["seconds"] += time.monotonic() - t0
        log["examples"] += len(batch[0])
        recent.append(float(loss.detach()))
        if step % 50 == 0 or step == len(plan):
            print(json.dumps({"step": step, "of": len(plan), "loss": round(sum(recent) / len(recent), 4),
                              "examples_per_s": round(log["examples"] / log["seconds"], 2),
                              "lr": scheduler.get_last_lr()[0]}), flush=True)
            recent = []
        if time.monotonic() - last_save > args.checkpoint_minutes * 60:
            save_checkpoint(work, model, optimizer, scheduler, step, log)
            last_save = time.monotonic()
    save_checkpoint(work, model, optimizer, scheduler, step, log)
    print(f"stopped at step {step} of {len(plan)} ({log['examples']} examples, {log['seconds'] / 3600:.2f} h)", flush=True)
    return checkpoint


# --- export ---------------------------------------------------------------------------------


def export_float(model, graph: Path) -> Path:
    """The model as a float ONNX graph (inputs as the encoder's; outputs start and end logits per
    token and the answerability logit)."""
    import warnings

    import torch

    from rag.encoders import OPSET

    names = ["input_ids", "attention_mask", "token_type_ids"]
    dummy = torch.ones(2, 8, dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (dummy, dummy, torch.zeros_like(dummy)), str(graph), input_names=names,
                          output_names=["start_logits", "end_logits", "answerable_logit"],
                          dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names},
                                        "start_logits": {0: "batch", 1: "tokens"},
                                        "end_logits": {0: "batch", 1: "tokens"}, "answerable_logit": {0: "batch"}},
                          opset_version=OPSET, dynamo=False)
    return graph


def export(checkpoint: Path, out: Path) -> Path:
    """The checkpoint as an int8 ONNX graph (inputs as the encoder's; outputs start and end logits
    per token and the answerability logit), written atomically."""
    import tempfile

    import torch

    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = make_model()
    model.load_state_dict(torch.load(checkpoint, weights_only=False)["model"])
    with tempfile.TemporaryDirectory() as tmp:
        graph = export_float(model, Path(tmp) / "reader.onnx")
        # int8 weights for the matrix products and the word-embedding table (Gather): 23 MB, not 90
        quantize_dynamic(str(graph), str(out), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul", "Gather"], extra_options={"MatMulConstBOnly": True})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SQUAD_TRAIN), help="squad-train's train.jsonl.gz")
    parser.add_argument("--work", default=str(WORK), help="checkpoints and built examples (outside the repository)")
    parser.add_argument("--examples", type=int, default=90_000, help="training pairs, positives and negatives together")
    parser.add_argument("--max-hours", type=float, default=8.0, help="stop (with a checkpoint) after this long; run again to resume")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=8e-5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", type=int, default=0,
                        help="pairs at the list's start to leave out: a stage after an earlier run of the same recipe "
                        "trains on the pairs that run did not see (with --start-from its checkpoint)")
    parser.add_argument("--recipe", choices=RECIPES, default="v1",
                        help="how negatives are made: v1 (the first reader), v2 (adds changed questions) or v3 "
                             "(a second stage after v2: SQuAD 2.0's unanswerable dev questions; v2 then v3 is the shipped reader) "
                             "or v6 (a third stage after v3: v2 pairs no stage saw, with v3's negatives again) "
                             "or v10 (a stage after v6: the written unanswerable questions of squad-train-unanswerable) "
                             "or v11 (v10 with the manuals-train questions on ragbot's own chunks of their pages)")
    parser.add_argument("--start-from", default=None,
                        help="a checkpoint whose weights this run starts from (recipe v3: v2's; v6: v3's), "
                             "or a reader's .onnx file (v10: the shipped rag/data/reader.onnx)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--checkpoint-minutes", type=float, default=10.0)
    parser.add_argument("--export", action="store_true", help="write the last checkpoint as the shipped int8 ONNX model and stop")
    parser.add_argument("--out", default=str(OUT), help="where --export writes (default: the packaged rag/data/reader.onnx)")
    args = parser.parse_args(argv)
    if args.export:
        print(export(Path(args.work).expanduser() / "checkpoint.pt", Path(args.out)))
        return 0
    train(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
