"""The reader: its training recipe end to end on tiny data (so the recipe cannot rot), its windows
and span decoding, and the packaged model on questions of its own kind."""
from __future__ import annotations

import gzip
import json
import random
from dataclasses import replace

import numpy as np
import pytest

from eval import train_reader as T
from rag.answer.reader import MAX_ANSWER_TOKENS, Reader, best_span, best_reading, reading_features, Reading

PARAGRAPHS = [
    {"title": "Harbor", "paragraph": 0, "context": "The harbor was built in 1821 by the Vell family. It held forty ships. "
     "Its lighthouse was lit by oil until 1902.",
     "qas": [{"id": "h0", "question": "When was the harbor built?", "answers": [{"text": "1821", "answer_start": 24}]},
             {"id": "h1", "question": "Who built the harbor?", "answers": [{"text": "the Vell family", "answer_start": 32}]}]},
    {"title": "Harbor", "paragraph": 1, "context": "Fishing boats left the harbor at dawn. The catch was sold in the town "
     "market, mostly cod and herring.",
     "qas": [{"id": "h2", "question": "What fish was sold?", "answers": [{"text": "cod and herring", "answer_start": 85}]}]},
]


def test_windows_hold_the_answer_and_negatives_lack_it():
    rng = random.Random(0)
    text = PARAGRAPHS[0]["context"]
    s, e = T.window_around(text, 24, 28, 40, rng)
    assert s <= 24 and e >= 28 and text[s:e].startswith("The harbor")
    examples = T.build_examples(PARAGRAPHS, seed=0)
    for ex in examples:
        if ex.answer:
            a, b = ex.answer
            assert ex.passage[a:b] in {"1821", "the Vell family", "cod and herring"}
    assert any(ex.answer is None for ex in examples)
    answers = {"h0": ["1821"], "h1": ["the Vell family"], "h2": ["cod and herring"]}
    by_question = {qa["question"]: answers[qa["id"]] for p in PARAGRAPHS for qa in p["qas"]}
    assert all(not T.holds_answer(ex.passage, by_question[ex.question]) for ex in examples if ex.answer is None)


def tiny_squad2(folder):
    """A SQuAD 2.0 benchmark folder of one dev article (the two paragraphs above)."""
    (folder / "articles").mkdir(parents=True)
    (folder / "articles" / "Harbor.txt").write_text("Harbor\n\n" + "\n\n".join(p["context"] for p in PARAGRAPHS) + "\n")
    rows = [{"id": "d0", "question": "Who built the harbor?", "split": "dev", "answerable": True,
             "sources": ["Harbor.txt"], "reference": "the Vell family"},
            {"id": "d1", "question": "When was the lighthouse of the market lit by gas?", "split": "dev", "answerable": False},
            {"id": "t0", "question": "What fish was never sold?", "split": "test", "answerable": False}]
    (folder / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_the_second_stage_reads_squad2_dev_unanswerables_and_replays_the_first(tmp_path):
    first = [T.Example(f"question {i}?", f"passage {i}.", None) for i in range(T.REPLAY * 2 + 5)]
    stage = T.stage_examples(first, tiny_squad2(tmp_path / "squad2"), seed=0)
    negatives = [ex for ex in stage if ex.question == "When was the lighthouse of the market lit by gas?"]
    assert len(negatives) == 2 and all(ex.answer is None for ex in negatives)  # against both paragraphs
    assert {ex.passage[:12] for ex in negatives} == {"The harbor w", "Fishing boat"}
    assert not any(ex.question == "What fish was never sold?" for ex in stage)  # test questions are never read
    replayed = [ex for ex in stage if ex not in negatives]
    assert sorted(map(repr, replayed)) == sorted(map(repr, first[-T.REPLAY * 2:]))  # the end: first[:5] not replayed


def test_the_third_stage_reads_first_stage_pairs_no_stage_saw(tmp_path, monkeypatch):
    monkeypatch.setattr(T, "FIRST_STAGE", 4)
    monkeypatch.setattr(T, "MORE", 3)
    first = [T.Example(f"question {i}?", f"passage {i}.", None) for i in range(4 + 3 + T.REPLAY * 2)]
    stage = T.more_examples(first, tiny_squad2(tmp_path / "squad2"), seed=0)
    negatives = [ex for ex in stage if ex.question == "When was the lighthouse of the market lit by gas?"]
    assert len(negatives) == 2  # the second stage's negatives again
    assert sorted(ex.question for ex in stage if ex not in negatives) == ["question 4?", "question 5?", "question 6?"]
    with pytest.raises(SystemExit, match="v3 replayed"):  # never into the pairs v3 replayed
        T.more_examples(first[:-1], tiny_squad2(tmp_path / "squad2b"), seed=0)


def test_labels_point_at_the_answer_tokens_or_at_cls():
    tok = T.tokenizer()
    ids, types, offsets = T.encode(tok, "When was it built?", "The harbor was built in 1821.", 64)
    start, end = T.labels(offsets, (24, 28))
    assert offsets[start][0] == 24 and offsets[end][1] == 28
    assert T.labels(offsets, None) == (0, 0)
    assert len(ids) == len(types) == len(offsets) and types[0] == 0 and types[-1] == 1


def test_best_span_stays_in_one_table_cell():
    start = np.array([0.0, 5.0, 0.0, 1.0, 0.0])  # tokens: [CLS] "2.4" "|" "Released:2018" ...
    end = np.array([0.0, 1.0, 0.0, 0.0, 6.0])
    allowed = np.array([False, True, False, True, True])
    assert best_span(start, end, allowed)[:2] == (1, 4)  # across the bar
    cells = np.cumsum([False, False, True, False, False])
    assert best_span(start, end, allowed, cells)[:2] == (3, 4)  # 1+6 beats 5+1 within one cell


def test_only_a_table_rows_bars_part_its_cells():
    from rag.answer.reader import span_tokens

    text = "cat notes | grep harbor"
    offsets = [None, (0, 3), (4, 9), (10, 11), (12, 16), (17, 23), None]
    allowed, cells = span_tokens(offsets, text, 8, row=False)
    assert cells is None and allowed[3]  # a bar in prose is a token like any other
    allowed, cells = span_tokens(offsets, text, 8, row=True)
    assert not allowed[3] and cells[4] == cells[3] == cells[2] + 1


def test_best_span_keeps_order_and_length():
    start = np.array([0.0, -5.0, 5.0, 0.0, 0.0])
    end = np.array([0.0, 9.0, 0.0, 0.0, 4.0])
    allowed = np.array([False, True, True, True, True])
    i, j, score = best_span(start, end, allowed)
    assert (i, j) == (2, 4) and score == 9.0  # end 1 (9.0) comes before start 2: not a span
    long = np.zeros(MAX_ANSWER_TOKENS + 5)
    s, e = long.copy(), long.copy()
    s[0], e[-1] = 5.0, 5.0
    i, j, _ = best_span(s, e, np.ones_like(long, dtype=bool))
    assert j - i < MAX_ANSWER_TOKENS


def test_reading_features_and_best_reading():
    r = [Reading(0, 0, 4, 2.0, 1.0, -1.0), Reading(1, 3, 9, 6.0, 0.0, 3.0)]
    f = reading_features(r)
    assert f["reader_answerable"] == 3.0 and f["reader_margin"] == 6.0
    assert f["reader_first_answerable"] == -1.0 and f["reader_first_margin"] == 1.0
    assert best_reading(r).passage == 1
    assert best_reading([]) is None


def test_a_passage_reads_the_same_whatever_is_read_beside_it():
    """The packaged reader scores each window alone: in one batch, the int8 graph's activation
    scale (and the padding) made a passage's answerability move with the passages beside it."""
    harbor = PARAGRAPHS[0]["context"]
    rows = "\n".join(f"Item: Widget {i} | Quantity: {7 * i}" for i in range(12))
    reader = Reader()
    alone = reader.read("When was the harbor built?", [harbor])[0]
    beside_prose = reader.read("When was the harbor built?", [harbor, "x " * 600])[0]
    beside_rows = reader.read("When was the harbor built?", [rows, harbor])[1]
    assert alone == beside_prose == replace(beside_rows, passage=0)
    assert harbor[alone.start : alone.end] == "1821"


@pytest.mark.integration
def test_recipe_trains_exports_and_reads(tmp_path, monkeypatch):
    """A few steps on tiny data, the int8 export, and the exported model reading passages."""
    data = tmp_path / "train.jsonl.gz"
    with gzip.open(data, "wt") as f:
        for p in PARAGRAPHS:
            f.write(json.dumps(p) + "\n")
    work = tmp_path / "work"
    argv = ["--data", str(data), "--work", str(work), "--examples", "8", "--batch", "4", "--max-length", "64",
            "--threads", "1", "--max-hours", "0.1"]
    assert T.main(argv) == 0
    import torch

    state = torch.load(work / "checkpoint.pt", weights_only=False)
    assert state["step"] >= 1 and state["log"]["examples"] > 0
    # resuming after the plan is done trains nothing more and keeps the checkpoint
    assert T.main(argv) == 0
    assert torch.load(work / "checkpoint.pt", weights_only=False)["step"] == state["step"]
    # a second stage (recipe v3) starts from the first stage's weights, then resumes from its own
    monkeypatch.setenv("RAGBOT_BENCHMARKS_DIR", str(tiny_squad2(tmp_path / "benchmarks" / "squad2").parent))
    stage = tmp_path / "stage"
    second = [*argv[:3], str(stage), "--recipe", "v3", "--start-from", str(work / "checkpoint.pt"), *argv[4:-1]]
    assert T.main([*second, "0"]) == 0  # no time for a step: the checkpoint holds the weights it started from
    started = torch.load(stage / "checkpoint.pt", weights_only=False)
    assert started["step"] == 0
    assert all(torch.equal(started["model"][k], v) for k, v in state["model"].items())
    assert T.main([*second, "0.1"]) == 0
    assert torch.load(stage / "checkpoint.pt", weights_only=False)["step"] >= 1
    with pytest.raises(SystemExit, match="recipe v3 run"):  # another recipe does not resume this run
        T.main([*argv[:3], str(stage), *argv[4:]])
    out = tmp_path / "reader.onnx"
    assert T.main(["--work", str(stage), "--export", "--out", str(out)]) == 0
    assert 10e6 < out.stat().st_size < 40e6
    readings = Reader(out).read("When was the harbor built?", [PARAGRAPHS[0]["context"], "x " * 600])
    assert [r.passage for r in readings] == [0, 1]
    for r, text in zip(readings, [PARAGRAPHS[0]["context"], "x " * 600]):
        assert 0 <= r.start < r.end <= len(text)


# -- the reader in the chain, with a fake reader ---------------------------------------------

class FakeReader:
    """Reads every passage as the readings given, in order."""

    def __init__(self, readings):
        self.readings = readings
        self.questions = []

    def read(self, question, texts):
        self.questions.append(question)
        return self.readings[: len(texts)]


def reader_chain(readings, threshold=0.5, span_threshold=0.0):
    from rag.answer.chain import build_chain
    from rag.answer.reader import ReaderGate
    from rag.settings import Settings

    from .conftest import FakeEmbeddings
    from .test_chain import ALWAYS, FixedRetriever

    gate = ReaderGate({"reader_answerable": 1.0}, 0.0, threshold, span_threshold, 2, {})
    return build_chain(Settings(persist_dir="/nonexistent", answer_core="reader"), embeddings=FakeEmbeddings(),
                       retriever=FixedRetriever(), gate=ALWAYS, reader=FakeReader(readings), reader_gate=gate)


def nye_readings(answerable: float = 4.0):
    from .test_chain import NYE, PEACE

    a = NYE.index("Joseph Nye")
    return [Reading(0, a, a + len("Joseph Nye"), 8.0, 1.0, answerable), Reading(1, 0, len(PEACE) // 2, 1.0, 3.0, -3.0)]


def test_the_answer_leads_with_the_span_and_quotes_its_sentence_first():
    from .test_chain import NYE, PASSAGES

    answer = reader_chain(nye_readings()).invoke("Who coined the term soft power?")
    assert not answer.refused
    short = answer.short_answer
    assert short is not None and short.text == "Joseph Nye"
    assert answer.answer.startswith("Joseph Nye [1]. ")
    first = answer.citations[0]
    assert "Joseph Nye" in first.quote and first.n == short.n
    assert first.start <= short.start < short.end <= first.end
    source = " " * PASSAGES[0].start + NYE  # the source text as the offsets count it
    assert source[short.start : short.end] == "Joseph Nye"
    assert answer.support["reader"]["reader_answerable"] == 4.0
    assert answer.support["gate_score"] > answer.support["gate_threshold"]


def test_a_span_read_later_in_the_document_still_has_its_sentence_quoted_first():
    """The sentence that holds the span is [1] even when another chosen sentence comes before it
    in the document (the rest keep reading order)."""
    from .test_chain import PEACE

    a = PEACE.index("the United Nations")
    readings = [Reading(0, 0, 10, 1.0, 1.0, 2.0), Reading(1, a, a + len("the United Nations"), 8.0, 3.0, 5.0)]
    answer = reader_chain(readings).invoke("Who leads peacekeeping operations?")
    assert not answer.refused and answer.short_answer.text == "the United Nations"
    assert answer.short_answer.n == 1
    assert answer.answer.startswith("the United Nations [1]. They are led by the United Nations [1].")


def test_below_the_fitted_threshold_the_chain_refuses():
    answer = reader_chain(nye_readings(answerable=-4.0)).invoke("Who coined the term soft power?")
    assert answer.refused and not answer.citations and answer.short_answer is None


def test_an_unsure_span_is_not_shown_but_its_sentence_is_still_quoted():
    answer = reader_chain(nye_readings(), span_threshold=50.0).invoke("Who coined the term soft power?")
    assert not answer.refused and answer.short_answer is None
    assert "Joseph Nye" in answer.citations[0].quote


def test_a_step_is_swapped_by_replacing_it_in_the_list():
    from dataclasses import replace

    chain = reader_chain(nye_readings(answerable=-4.0))
    sure = nye_readings(answerable=6.0)
    chain.steps[chain.steps.index(chain.read)] = lambda turn: replace(turn, readings=tuple(sure))
    answer = chain.invoke("Who coined the term soft power?")
    assert not answer.refused and answer.short_answer.text == "Joseph Nye"
    assert chain.reader.questions == []  # the replaced step never ran


@pytest.mark.integration
def test_a_question_about_one_table_cell_is_answered_from_its_row(tmp_path, settings, real_embeddings):
    """The issue's cases, with the shipped reader: a .docx table and an .xlsx sheet are ingested,
    and a question about one cell is answered with that cell, its row quoted and cited."""
    import docx
    import openpyxl

    from ingest.pipeline import ingest
    from rag.answer.chain import build_chain

    folder = tmp_path / "docs"
    folder.mkdir()
    d = docx.Document()
    d.add_paragraph("The coastal garrisons were reinforced during the spring campaign.")
    table = d.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "City", "Soldiers"
    for city, n in [("Lindqvist Harbor", "1,350"), ("Marrow Bay", "820"), ("Eastholm", "2,140")]:
        row = table.add_row()
        row.cells[0].text, row.cells[1].text = city, n
    d.save(folder / "garrisons.docx")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Ship", "Captain", "Tonnage"])
    for row in [("Grey Heron", "Elsa Marwick", 1200), ("North Star", "Tomas Vell", 900)]:
        sheet.append(row)
    book.save(folder / "fleet.xlsx")
    ingest([folder], settings, embeddings=real_embeddings)
    chain = build_chain(settings, embeddings=real_embeddings)
    for question, cell, row in [("How many soldiers were in Lindqvist Harbor?", "1,350", "City: Lindqvist Harbor | Soldiers: 1,350"),
                                ("Who was the captain of the Grey Heron?", "Elsa Marwick", "Ship: Grey Heron | Captain: Elsa Marwick")]:
        answer = chain.invoke(question)
        assert not answer.refused, question
        assert answer.short_answer is not None and answer.short_answer.text == cell
        cited = answer.citations[answer.short_answer.n - 1]
        assert cited.quote.startswith(row)
    assert chain.invoke("How many soldiers were stationed in Oslo?").refused


PORTS = ("Port,Country,Ships,Opened,Harbour master", [
    ("Lindqvist Harbor", "Norway", 41, 1821, "Elsa Marwick"), ("Cape Sorrel", "Iceland", 17, 1902, "Jon Haldorsen"),
    ("Brightwater Quay", "Scotland", 63, 1788, "Moira Blane"), ("Kestrel Point", "Ireland", 22, 1856, "Aidan Roe"),
    ("Saltmarsh Bay", "Denmark", 9, 1930, "Freja Holm"), ("Greyhaven", "Faroe Islands", 35, 1874, "Sigrun Dahl"),
    ("Osprey Reach", "Sweden", 54, 1811, "Lars Wennberg"), ("Northmoor Dock", "England", 12, 1899, "Peter Ashby"),
    ("Tidewell", "Wales", 28, 1840, "Gareth Lloyd"), ("Amberly Cove", "Finland", 19, 1915, "Aino Virtanen")])
PORT_QUESTIONS = ("Which country is {} in?", "How many ships does {} have?", "When was {} opened?",
                  "Who is the harbour master of {}?")  # a question for each column after the first
FLEET = ("Ship,Captain,Tonnage,Home port", [
    ("Grey Heron", "Elsa Marwick", 1200, "Bergen"), ("North Star", "Tomas Vell", 900, "Hull"),
    ("Sea Lark", "Ines Moreau", 1450, "Brest"), ("Blue Fulmar", "Oskar Lind", 700, "Malmo"),
    ("Red Kite", "Hana Novak", 1100, "Gdansk"), ("White Tern", "Colm Byrne", 980, "Cork"),
    ("Storm Petrel", "Maja Berg", 1320, "Oslo")])
FLEET_QUESTIONS = ("Who was the captain of the {}?", "What was the tonnage of the {}?", "What is the home port of the {}?")


@pytest.mark.integration
def test_a_cell_of_a_markdown_table_is_answered_alone(tmp_path, settings, real_embeddings):
    """A Markdown pipe table (refused whole before its rows were written with their headers) is
    answered from its row, and the short answer stays in one cell ("2018", not "2.4 | Released: 2018")."""
    from ingest.pipeline import ingest
    from rag.answer.chain import build_chain

    folder = tmp_path / "docs"
    folder.mkdir()
    rows = [("1.0", 2014, "Magpie", "Ruth Okafor"), ("1.5", 2015, "Jackdaw", "Pavel Sokol"), ("2.0", 2017, "Rook", "Mei Tanaka"),
            ("2.4", 2018, "Raven", "Diego Alvarez"), ("3.0", 2020, "Chough", "Ruth Okafor")]
    table = ["| Version | Released | Codename | Lead engineer |", "|---|---|---|---|", *(f"| {' | '.join(map(str, r))} |" for r in rows)]
    (folder / "releases.md").write_text("# Release history\n\nEvery release of the Corvid engine.\n\n" + "\n".join(table) + "\n")
    ingest([folder], settings, embeddings=real_embeddings)
    chain = build_chain(settings, embeddings=real_embeddings)
    for question, cell, row in [("When was the Raven release?", "2018", "Version: 2.4 |"),
                                ("Which version was codenamed Chough?", "3.0", "Version: 3.0 |"),
                                ("Who was the lead engineer of Jackdaw?", "Pavel Sokol", "Version: 1.5 |")]:
        answer = chain.invoke(question)
        assert not answer.refused and answer.short_answer.text == cell, question
        assert answer.citations[answer.short_answer.n - 1].quote.startswith(row)


@pytest.mark.integration
def test_a_cell_of_a_many_row_table_comes_from_its_own_row(tmp_path, settings, real_embeddings):
    """Two CSV tables (10 and 7 rows, several rows to a chunk) and a question about every cell of
    their rows (61). The reader reads each row on its own, so an answer is the asked row's cell:
    read whole, the chunks gave 29 cells of a neighbouring row (the value that ends one row sits
    next to the name that opens the next), 20 right, 12 refused; row by row 52 right, 1 wrong (a
    part of the cell), 8 refused (2026-12-06)."""
    from ingest.pipeline import ingest
    from rag.answer.chain import build_chain

    folder = tmp_path / "docs"
    folder.mkdir()
    cases = []
    for name, (header, rows), questions in [("ports", PORTS, PORT_QUESTIONS), ("fleet", FLEET, FLEET_QUESTIONS)]:
        (folder / f"{name}.csv").write_text("\n".join([header, *(",".join(map(str, r)) for r in rows)]) + "\n")
        first = header.split(",")[0]
        cases += [(q.format(row[0]), f"{first}: {row[0]} |", str(cell)) for row in rows for q, cell in zip(questions, row[1:])]
    ingest([folder], settings, embeddings=real_embeddings)
    chain = build_chain(settings, embeddings=real_embeddings)
    right, wrong_row, not_first = 0, [], []
    for question, row, cell in cases:
        answer = chain.invoke(question)
        if answer.refused or answer.short_answer is None:
            continue
        quoted = answer.citations[answer.short_answer.n - 1].quote
        right += answer.short_answer.text == cell and quoted.startswith(row)
        if not quoted.startswith(row):
            wrong_row.append((question, quoted))
        if answer.short_answer.n != 1:  # the row that holds the answer is quoted first, other rows after it
            not_first.append((question, answer.answer))
    assert not wrong_row  # never a neighbouring row's cell
    assert not not_first
    assert right >= 0.8 * len(cases), f"{right} of {len(cases)} answered with their cell"


@pytest.mark.parametrize("text, cells", [
    ("-c  with -lt: sort by ctime", ["-c", "with -lt: sort by ctime"]),
    ("-T, --tabsize=COLS  assume tab stops at each COLS instead of 8", ["-T, --tabsize=COLS", "assume tab stops at each COLS instead of 8"]),
    ("Sort by name.  Then by size.", None),  # two spaces after a sentence: prose, one cell
    ("no gap here at all", None),
])
def test_an_entrys_term_and_description_are_two_cells(text, cells):
    """A short answer never runs from an option's term into its description ("-c  with -lt")."""
    from rag.answer.reader import span_tokens, tokenizer

    enc = tokenizer().encode(text)
    offsets = [tuple(o) if o != (0, 0) else None for o in enc.offsets]
    allowed, numbers = span_tokens(offsets, text, len(offsets), row=False)
    if cells is None:
        assert numbers is None
        return
    got: dict[int, list] = {}
    for o, n, ok in zip(offsets, numbers, allowed):
        if ok:
            got.setdefault(int(n), []).append(o)
    assert [text[v[0][0]:v[-1][1]] for _, v in sorted(got.items())] == cells
