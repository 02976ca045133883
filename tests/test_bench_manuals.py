"""``ragbot bench manuals``: its loader, the texts compared reflowed, the quote-end rule, the page
furniture test, the report on a fake chain, and the command on a tiny manuals-like folder written
here (the real chain and ingestion, fake embeddings). The shared data's own checks are skipped
without it; one integration test runs three of its dev documents with the real model."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from eval import bench_manuals as M
from eval.golden import GoldenCase
from eval.metrics import normalize
from rag.cli import main
from rag.errors import InputError
from rag.settings import Settings

from .conftest import ROOT, FakeEmbeddings, benchmark_data

H = "\u2010"  # groff's hyphen, which ends a line where a word is split

FROB = f"""FROB(1)                         User Commands                         FROB(1)

NAME
       frob - frobnicate files

DESCRIPTION
       Frobnicate  each FILE to standard output.  With no FILE, read standard in{H}
       put.

       Mandatory arguments to long options are mandatory for short
       options too.

       -n, --lines=NUM
              frobnicate the first NUM lines instead of the first 10; with the lead{H}
              ing '-', all but the last NUM lines

       -q, --quiet
              never print headers

       -z     line delimiter is NUL, not newline

   Exit status:
       0      if OK,

       1      if minor problems,

GNU frobutils 1.0                 September 2022                         FROB(1)
"""

GRIND = """GRIND(1)                        User Commands                        GRIND(1)

NAME
       grind - grind files into dust

DESCRIPTION
       Grind each FILE.  The dust is written to standard output.

       -f, --fine
              grind finer than the default, which is coarse

GNU frobutils 1.0                 September 2022                        GRIND(1)
"""


def question(qid, text, split, kind, source, evidence=None, short=None):
    row = {"id": qid, "question": text, "split": split, "answerable": kind != "unanswerable", "kind": kind,
           "sources": [source]}
    if evidence:
        row.update(evidence=[evidence], must_include_any=[[short]], reference=short)
    return row


QUESTIONS = [
    question("frob#1", "How do I make frob print only the first 20 lines?", "dev", "option", "frob.txt",
             "-n, --lines=NUM\n              frobnicate the first NUM lines", "-n, --lines=NUM"),
    question("frob#2", "What does frob read when I give it no file?", "dev", "prose", "frob.txt",
             f"With no FILE, read standard in{H}\n       put.", "standard input"),
    question("frob#3", "Can frob write its output to a compressed archive?", "dev", "unanswerable", "frob.txt"),
    question("grind#1", "How fine does grind grind by default?", "test", "default", "grind.txt",
             "which is coarse", "coarse"),
    question("grind#2", "Can grind grind glass?", "test", "unanswerable", "grind.txt"),
]


def manuals_folder(folder: Path, rows=QUESTIONS) -> Path:
    """A tiny manuals benchmark: two man pages in docs/ and their questions."""
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "frob.txt").write_text(FROB, encoding="utf-8")
    (folder / "docs" / "grind.txt").write_text(GRIND, encoding="utf-8")
    (folder / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder


# ---------------------------------------------------------------- loader


def test_loader_types_each_question_by_its_kind(tmp_path):
    docs, cases = M.load_manuals(manuals_folder(tmp_path))
    assert docs == tmp_path / "docs"
    assert [(c.id, c.type, c.split, c.answerable) for c in cases] == [
        ("frob#1", "option", "dev", True), ("frob#2", "prose", "dev", True), ("frob#3", "unanswerable", "dev", False),
        ("grind#1", "default", "test", True), ("grind#2", "unanswerable", "test", False)]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: shutil.rmtree(f / "docs"), "{f}/docs: missing; the manuals data is a folder of docs/ and questions.jsonl"),
        (lambda f: (f / "questions.jsonl").unlink(), "{f}/questions.jsonl: missing; the manuals data is a folder of docs/"),
        (lambda f: (f / "docs" / "grind.txt").unlink(),
         "{f}/questions.jsonl:4: case 'grind#1' names 'grind.txt', which is not in {f}/docs"),
        (lambda f: (f / "questions.jsonl").write_text('{"id": "x"}\n'),
         "{f}/questions.jsonl:1: case 'x': 'question' is required"),
    ],
)
def test_loader_errors_name_the_missing_part(tmp_path, change, message):
    folder = manuals_folder(tmp_path / "m")
    change(folder)
    with pytest.raises(InputError) as err:
        M.load_manuals(folder)
    assert str(err.value).startswith(message.format(f=folder))


# ---------------------------------------------------------------- texts compared reflowed


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"the lead{H}\n              ing '-'", "the leading '-'"),  # as the page has it
        (f"the lead{H} ing '-'", "the leading '-'"),  # a break flattened to a space by an answer
        ("time-\n     stamping", "timestamping"),  # an ASCII hyphen at a line break joins too
        ("time-stamping", "timestamping"),  # ... and so matches a reader that kept it
        ("any application- provided", "any applicationprovided"),  # a break flattened by the data's short answer
        ("-n, --lines=NUM", "-n, --lines=NUM"),  # an option's dashes are no word's hyphen
        ("--human-readable", "--humanreadable"),
        ("exit -\n 1", "exit -\n 1"),  # a dash after a space is not a word's hyphen
        ("N-     from N'th byte", "N-     from N'th byte"),  # a one-letter term keeps its hyphen
        ("N- from N'th byte", "N- from N'th byte"),  # ... reflowed too
        ("", ""),
    ],
)
def test_reflowed_joins_line_break_hyphens(text, expected):
    assert M.reflowed(text) == expected


def test_reflowed_evidence_matches_a_reflowed_chunk():
    evidence = f"With no FILE, read standard in{H}\n       put."
    chunk = "Frobnicate each FILE to standard output. With no FILE, read standard input."
    assert normalize(M.reflowed(evidence)) in normalize(M.reflowed(chunk))
    assert normalize(M.reflowed(evidence)) in normalize(M.reflowed(FROB))  # and the page as written
    assert normalize(evidence) not in normalize(chunk)  # which eval.metrics alone would miss


# ---------------------------------------------------------------- quotes


def span(text: str, source: str = FROB) -> int:
    """The end offset of ``text`` in the source."""
    return source.index(text) + len(text)


@pytest.mark.parametrize(
    "quote, end_after, expected",
    [
        ("Frobnicate each FILE to standard output.", "standard output.", "sentence"),
        ("With no FILE, read standard input.", "put.", "sentence"),
        ("never print headers", "never print headers", "entry"),  # the description's last line, blank below
        ("-z     line delimiter is NUL, not newline", "not newline", "entry"),
        ("0      if OK,", "if OK,", "entry"),
        # mid-description at a line break: the next line is the same description
        ("frobnicate the first NUM lines instead of the first 10; with the lead",
         "with the lead", "cut"),
        ("frobnicate the first NUM lines", "first NUM lines", "cut"),  # mid-line
        ("Frobnicate each FILE to standard output. With no FILE, read standard in",
         "read standard in", "cut"),  # a paragraph's line break, its next line under the same heading
        ("-q, --quiet", "-q, --quiet", "cut"),  # a term without its description
        ("Mandatory arguments to long options are mandatory for short", "for short", "cut"),  # a wrapped paragraph
    ],
)
def test_quote_end_rule(quote, end_after, expected):
    assert M.quote_end(quote, FROB, span(end_after)) == expected


@pytest.mark.parametrize(
    "source, quote, expected",
    [
        ("Intro\n\n- first item\n- second item\n", "first item", "entry"),  # a list item follows
        ("Intro\n\n1. first step\n2. second step\n", "first step", "entry"),
        ("A paragraph of a README\nwrapped here and\nended.\n", "A paragraph of a README", "cut"),
        ("last line of the file", "last line of the file", "entry"),
    ],
)
def test_quote_end_in_plain_text(source, quote, expected):
    assert M.quote_end(quote, source, span(quote, source)) == expected


def test_quote_end_without_a_source_judges_the_text_alone():
    assert M.quote_end("It stops.", None, None) == "sentence"
    assert M.quote_end("never print headers", None, None) == "cut"
    assert M.quote_end("never print headers", FROB, len(FROB) + 5) == "cut"  # an offset outside the file
    # a line-break hyphen is never an entry's end, even where the next line would close the entry
    source = f"       -x\n              a description ending in a hy{H}\n       phen\n"
    assert M.quote_end(f"a description ending in a hy{H}", source, source.index("\n")) == "cut"


def test_break_hyphen_ends():
    assert M.ends_in_break_hyphen(f"with the lead{H}", FROB, span(f"with the lead{H}"))
    assert M.ends_in_break_hyphen(f"read standard in{H}", None, None)  # U+2010 needs no source
    source = "keep the time-\n     stamping of files"
    assert M.ends_in_break_hyphen("keep the time-", source, span("time-", source))
    assert not M.ends_in_break_hyphen("keep the time-", "keep the time- stamping", 14)  # not at a line break
    assert not M.ends_in_break_hyphen("-n, --lines=NUM", FROB, span("-n, --lines=NUM"))
    assert not M.ends_in_break_hyphen("never print headers", FROB, span("never print headers"))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("CUT(1)                                    User Commands                                    CUT(1)", True),
        ("GNU coreutils 9.1                         September 2022                                   CUT(1)", True),
        ("CUT(1) User Commands CUT(1)", True),  # reflowed
        ("GZIP(1) General Commands Manual GZIP(1)\n\n local GZIP(1)", True),
        ("                                                                     PYTHON(1)", True),
        ("Fri Oct 31 10:41:31 EDT 2014 SQLITE3(1)", True),
        ("procps-ng 2022-05-11 PS(1)", True),
        ("CUT(1) User Commands CUT(1)\nNAME\n cut - remove sections from each line of files", False),
        ("SEE ALSO\n       ls(1), stat(1)", False),
        ("Full documentation <https://www.gnu.org/software/coreutils/cut>", False),
        ("", False),
    ],
)
def test_is_furniture(text, expected):
    assert M.is_furniture(text) is expected


def citation(n, quote, source="frob.txt", text=FROB):
    end = span(quote, text)
    return {"n": n, "chunk_id": f"c{n}", "source": source, "quote": quote, "start": end - len(quote), "end": end}


def test_quote_figures_count_ends_hyphens_slices_and_furniture(tmp_path):
    docs = manuals_folder(tmp_path).joinpath("docs")
    title = {"chunk_id": "t", "text": "FROB(1) User Commands FROB(1)"}
    body = {"chunk_id": "b", "text": "never print headers"}
    answers = [
        {"citations": [citation(1, "never print headers"), citation(2, f"with the lead{H}")], "retrieved": [title, body]},
        {"citations": [citation(1, "Frobnicate  each FILE to standard output.")], "retrieved": [body, title]},
        {"citations": [{**citation(1, "never print headers"), "quote": "never print footers"}], "retrieved": [body]},
        {"refused": True, "citations": [], "retrieved": []},
    ]
    q = M.quote_figures(answers, docs)
    assert q == {"quotes": 4, "quote_end_share": 0.75, "quotes_at_sentence_end": 1, "quotes_at_entry_end": 2,
                 "quotes_cut": 1, "quotes_ending_in_break_hyphen": 1, "quotes_not_slicing_their_file": 1,
                 "furniture_passages": 2, "questions_with_furniture_retrieved": 2, "questions_with_furniture_first": 1}
    assert M.quote_figures([], docs)["quote_end_share"] is None


# ---------------------------------------------------------------- the report on a fake chain


class ScriptedChain:
    """Answers each question with the answer dict scripted for it."""

    def __init__(self, answers: dict):
        self.answers = answers

    def invoke(self, inputs):
        return self.answers[inputs["question"]]


def test_report_is_computed_reflowed_but_keeps_the_answers_as_given(tmp_path):
    folder = manuals_folder(tmp_path)
    docs, cases = M.load_manuals(folder)
    dev = [c for c in cases if c.split == "dev"]
    quote = f"With no FILE, read standard in{H}\n       put."
    passage = {"chunk_id": "p", "source": "frob.txt", "text": f"Frobnicate each FILE to standard output. {quote}"}
    answers = {
        dev[0].question: {"answer": "Use --quiet [1].", "refused": False, "citations": [citation(1, "-n, --lines=NUM")],
                          "retrieved": [passage], "timings_ms": {"total": 10.0}},
        dev[1].question: {"answer": f"{quote} [1]", "refused": False, "short_answer": {"text": f"standard in{H} put"},
                          "citations": [citation(1, quote)], "retrieved": [passage], "timings_ms": {"total": 30.0}},
        dev[2].question: {"answer": "The documents don't say.", "refused": True, "citations": [], "retrieved": [],
                          "timings_ms": {"total": 20.0}},
    }
    report = M.evaluate_manuals(ScriptedChain(answers), dev, {"split": "dev"}, docs)
    m = report["metrics"]
    assert m["hit@5"] == 0.5  # frob#2's evidence is in the passage once both are reflowed; frob#1's is not
    assert m["answer_pass_rate"] == 0.5  # "--quiet" is not "-n, --lines=NUM"; "standard in‐ put" is "standard input"
    assert m["token_f1"] == pytest.approx(0.5)  # frob#1 0, frob#2 1 on its short answer
    assert (m["refusal_accuracy"], m["false_refusal_rate"]) == (1.0, 0.0)
    assert m["latency_p50_ms"] == 20.0
    assert report["breakdown"]["type"]["prose"]["answer_pass_rate"] == 1.0
    assert report["cases"][1]["answer"] == f"{quote} [1]"  # as the chain gave it
    assert report["cases"][1]["retrieved"][0]["text"] == passage["text"]
    assert report["quotes"]["quotes"] == 2 and report["quotes"]["quotes_at_sentence_end"] == 1
    assert report["quotes_by_kind"]["prose"]["quote_end_share"] == 1.0
    fig = M.split_figures(report)
    assert fig["by_kind"]["option"]["answer_pass_rate"] == 0.0 and fig["by_kind"]["option"]["quote_end_share"] == 0.0
    assert fig["quotes"] == report["quotes"] and fig["cases"] == 3


def test_an_earlier_chains_eval_report_is_rescored_as_the_bench_scores(tmp_path):
    from eval.runner import evaluate

    folder = manuals_folder(tmp_path)
    docs, cases = M.load_manuals(folder)
    dev = [c for c in cases if c.split == "dev"]
    quote = f"With no FILE, read standard in{H}\n       put."
    answers = {
        dev[0].question: {"answer": "Use -n [1].", "refused": False, "citations": [citation(1, "-n, --lines=NUM")],
                          "retrieved": [{"chunk_id": "t", "text": "FROB(1) User Commands FROB(1)"}],
                          "timings_ms": {"total": 12.0}},
        dev[1].question: {"answer": f"{quote} [1]", "refused": False, "short_answer": {"text": f"standard in{H} put"},
                          "citations": [citation(1, quote)], "retrieved": [], "timings_ms": {"total": 30.0}},
        dev[2].question: {"answer": "It can.", "refused": False, "citations": [], "retrieved": [],
                          "timings_ms": {"total": 20.0}},
    }
    plain = json.loads(json.dumps(evaluate(ScriptedChain(answers), dev, {"split": "dev"}, warmup=False)))
    assert plain["cases"][1]["metrics"]["token_f1"] < 1.0  # `ragbot eval` does not join "standard in‐ put"
    rescored = M.rescore_report(plain, dev, docs)
    direct = M.evaluate_manuals(ScriptedChain(answers), dev, {"split": "dev"}, docs)
    assert rescored["metrics"] == direct["metrics"] and rescored["cases"][1]["metrics"]["token_f1"] == 1.0
    assert rescored["quotes"] == direct["quotes"] and rescored["quotes"]["furniture_passages"] == 1
    assert rescored["quotes_by_kind"] == direct["quotes_by_kind"]
    assert [r["answer"] for r in rescored["cases"]] == [r["answer"] for r in direct["cases"]]
    assert M.split_figures(rescored)["by_kind"] == M.split_figures(direct)["by_kind"]
    with pytest.raises(InputError, match="no case 'frob#3'"):
        M.rescore_report({**plain, "cases": plain["cases"][:2]}, dev, docs)


# ---------------------------------------------------------------- the command


def test_bench_command_runs_the_chain_and_writes_its_reports(tmp_path, monkeypatch, capsys):
    import rag.embeddings

    monkeypatch.setattr(rag.embeddings, "SentenceEmbeddings", lambda *a, **k: FakeEmbeddings())
    folder = manuals_folder(tmp_path / "data")
    out = tmp_path / "out"
    assert main(["bench", "manuals", "--data", str(folder), "--out", str(out)]) == 0
    table = capsys.readouterr().out
    result = json.loads((out / "manuals" / "manuals.json").read_text())
    assert (out / "manuals" / "manuals.png").exists()
    figures = result["figures"]
    assert set(figures) == {"index", "dev"}  # dev by default: test is run by name
    assert figures["index"]["documents"] == 2 and figures["index"]["chunks"] > 2
    dev = figures["dev"]
    assert (dev["cases"], dev["answerable"], dev["unanswerable"], dev["errors"]) == (3, 2, 1, 0)
    assert set(dev["by_kind"]) == {"option", "prose", "unanswerable"}
    report = json.loads((out / "manuals" / "dev" / "report.json").read_text())
    assert report["config"]["collection"] == "manuals" and report["config"]["benchmark"] == "manuals"
    for name in M.HEADLINE:
        assert dev[name] == pytest.approx(report["metrics"][name], abs=1e-4)
    assert dev["quotes"]["quotes"] == sum(len(c["citations"]) for c in report["cases"])
    assert table.splitlines()[1].split()[:4] == ["split", "questions", "hit@5", "pass"]
    assert "dev quotes: " in table and "dev unanswerable: 1 questions" in table


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--split", "train"], "unknown split 'train'; known: dev, test, all"),
        (["--limit", "0"], "--limit must be at least 1, got 0"),
        (["--data", "{t}/nope"], "manuals data not found at {t}/nope (given by --data); pass --data PATH (a folder of "
                                 "docs/ and questions.jsonl (the golden-set format, with split and kind)), or set "
                                 "RAGBOT_BENCHMARKS_DIR to a folder holding manuals/"),
    ],
)
def test_bad_bench_options(argv, message, capsys, tmp_path):
    assert main(["bench", "manuals", "--out", str(tmp_path), *(a.format(t=tmp_path) for a in argv)]) == 2
    assert capsys.readouterr().err.strip() == "ragbot: error: " + message.format(t=tmp_path)


def test_a_split_without_questions_is_an_error(tmp_path):
    folder = manuals_folder(tmp_path, [r for r in QUESTIONS if r["split"] == "dev"])
    with pytest.raises(InputError, match="no question has split 'test'"):
        M.run_manuals(Settings(), data_dir=folder, split="test", out=tmp_path / "out", embeddings=FakeEmbeddings())


def test_bench_asks_a_question_file_of_ones_own_with_history(tmp_path):
    folder = manuals_folder(tmp_path / "data")
    own = tmp_path / "followups.jsonl"
    row = {**QUESTIONS[0], "id": "fu-1", "question": "And how do I silence its headers?",
           "history": [["How do I make frob print only the first 20 lines?", "Use -n, --lines=NUM [1]."]],
           "evidence": ["-q, --quiet\n              never print headers"], "must_include_any": [["-q, --quiet"]],
           "reference": "-q, --quiet"}
    own.write_text(json.dumps(row) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = M.run_manuals(Settings(), data_dir=folder, questions=own, out=out, embeddings=FakeEmbeddings())
    assert result["figures"]["dev"]["cases"] == 1 and result["figures"]["dev"]["errors"] == 0
    report = json.loads((out / "dev" / "report.json").read_text())
    assert report["config"]["golden"] == [str(own)]
    assert report["cases"][0]["history"] == row["history"]
    assert report["cases"][0]["standalone_question"] != row["question"]  # condensed with its history


# ---------------------------------------------------------------- the shared data


def test_manuals_benchmark_data_is_complete():
    data = benchmark_data("manuals")
    docs, cases = M.load_manuals(data)
    assert len(list(docs.iterdir())) == 24 and len(cases) == 531
    counts = {(s, a): sum(c.split == s and c.answerable == a for c in cases) for s in ("dev", "test") for a in (True, False)}
    assert counts == {("dev", True): 200, ("dev", False): 72, ("test", True): 190, ("test", False): 69}
    texts = {p.name: normalize(M.reflowed(p.read_text(encoding="utf-8"))) for p in docs.iterdir()}
    for c in cases:
        if c.answerable:  # the comparison the bench makes finds every evidence and short answer in its page
            assert all(normalize(M.reflowed(e)) in texts[c.sources[0]] for e in c.evidence), c.id
            assert all(normalize(M.reflowed(a)) in texts[c.sources[0]] for g in c.must_include_any for a in g), c.id


def test_manuals_followups_point_at_the_dev_documents():
    data = benchmark_data("manuals")
    _, ours = M.load_manuals(data, ROOT / "eval" / "golden" / "manuals-followups-dev.jsonl")
    _, theirs = M.load_manuals(data)
    dev_docs = {c.sources[0] for c in theirs if c.split == "dev"}
    assert len(ours) >= 20 and all(c.history and c.split == "dev" and c.sources[0] in dev_docs for c in ours)
    texts = {name: (data / "docs" / name).read_text(encoding="utf-8") for name in dev_docs}
    for c in ours:
        assert all(e in texts[c.sources[0]] for e in c.evidence), c.id  # verbatim, as the data's own
        page = normalize(M.reflowed(texts[c.sources[0]]))
        assert all(normalize(M.reflowed(a)) in page for g in c.must_include_any for a in g), c.id


def tiny_real_data(folder: Path, names=("tee.txt", "uniq.txt", "cut.txt")) -> Path:
    """Three small dev pages of the shared benchmark and their questions."""
    data = benchmark_data("manuals")
    (folder / "docs").mkdir(parents=True)
    for name in names:
        shutil.copy(data / "docs" / name, folder / "docs" / name)
    rows = [json.loads(line) for line in (data / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    picked = [r for r in rows if r["sources"][0] in names]
    (folder / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in picked), encoding="utf-8")
    return folder


@pytest.mark.integration
def test_bench_on_three_real_dev_pages(tmp_path, real_embeddings):
    data = tiny_real_data(tmp_path / "data")
    result = M.run_manuals(Settings(), data_dir=data, out=tmp_path / "out", embeddings=real_embeddings)
    dev = result["figures"]["dev"]
    assert dev["errors"] == 0 and dev["cases"] >= 30
    assert dev["hit@5"] >= 0.6  # three pages in the index: the evidence is easy to find
    assert dev["latency_p50_ms"] > 0
    assert dev["quotes"]["quotes_not_slicing_their_file"] == 0  # every citation slices its file to its quote


def calibration_rows() -> list[dict]:
    """24 dev questions of both kinds (what a collection's decision needs at least) and the test ones."""
    dev = [r for r in QUESTIONS if r["split"] == "dev"]
    rows = [{**dev[i % len(dev)], "id": f"{dev[i % len(dev)]['id']}-{i}"} for i in range(24)]
    return rows + [r for r in QUESTIONS if r["split"] == "test"]


def test_calibrate_fits_the_collections_decision_on_dev_and_answers_test_with_it(tmp_path, capsys):
    folder = manuals_folder(tmp_path / "data", calibration_rows())
    out = tmp_path / "out"
    result = M.run_manuals(Settings(), data_dir=folder, split="test", calibrate=True, out=out, embeddings=FakeEmbeddings())
    figures = result["figures"]
    assert {"dev", "test", "calibration"} <= set(figures)  # dev is answered: the decision is fitted on it
    fit = figures["calibration"]
    assert (fit["cases"], fit["answerable"], fit["unanswerable"]) == (24, 16, 8)
    assert set(fit["levels"]) == {"strict", "balanced", "lenient"} and "a" in fit["confidence"]
    decided = {split: {c["support"].get("decision", "")[:10] for c in json.loads((out / split / "report.json").read_text())["cases"]
                       if "reader" in c.get("support", {})} for split in ("dev", "test")}
    assert decided == {"dev": {"shipped"}, "test": {"collection"}}
    assert "stored collection 'manuals''s decision" in capsys.readouterr().err
    assert "test answered with the collection's decision fitted on dev's 24 answers" in M.format_table(result)
    assert any(n.startswith("--calibrate:") for n in result["notes"])


def test_calibrate_on_too_few_dev_questions_says_so(tmp_path):
    folder = manuals_folder(tmp_path / "data")
    with pytest.raises(InputError, match="3 labelled questions the reader decided .*calibrating needs at least 20"):
        M.run_manuals(Settings(), data_dir=folder, split="test", calibrate=True, out=tmp_path / "out", embeddings=FakeEmbeddings())
