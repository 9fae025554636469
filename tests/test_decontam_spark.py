"""The decontamination stage on Spark: real benchmark passages planted into two whole books
and real Common Crawl and WebText documents at known places; exact cuts, spans, the
frequency cut-off, the Table C.1 report, and the standalone job."""
from __future__ import annotations

import dataclasses
import json

import pytest

from corpus_pipeline import config, decontam, references
from corpus_pipeline.spark.decontam import decontaminate

from .conftest import shared_file
from .test_decontam import benchmark_sources, examples_of, plant, table_of

CC = "cc_text/dolma_CC-MAIN-20190717121559-20190717143559-00140_ccby-subset.jsonl.gz"
WEBTEXT = "positives/webtext/webtext.valid.trunc63tok.jsonl"
BOOK = "positives/books/pg2701_Moby-Dick--Or-The-Whale.txt"
OTHER_BOOK = "positives/books/pg1342_Pride-and-Prejudice.txt"


def cfg_with(*names):
    from corpus_pipeline import config

    sources = benchmark_sources()
    return config.DecontamConfig(benchmarks=tuple(
        dataclasses.replace(sources[n], path=str(shared_file(sources[n].path.removeprefix("../shared/data/"))))
        for n in names))


@pytest.fixture(scope="module")
def planted():
    """The corpus, and what was planted where."""
    lambada, boolq = examples_of("lambada"), examples_of("boolq")
    book, spans = plant(shared_file(BOOK).read_text(encoding="utf-8"),
                        [(300_000, lambada[0].units[0]), (900_000, boolq[2].units[0])])
    ten = [(60_000 * (i + 1), lambada[10 + i].units[0]) for i in range(10)]  # 11 pieces
    other_book, _ = plant(shared_file(OTHER_BOOK).read_text(encoding="utf-8"), ten)
    cc = [d for d in references.load_jsonl(str(shared_file(CC)), "cc") if len(d.text) > 3000][:21]
    # BoolQ passage 0 in 10 documents (at the cut-off: removed), passage 3 in 11 (ignored).
    cc_docs = [(d.id, "cc", plant(d.text, [(len(d.text) // 2, boolq[0 if i < 10 else 3].units[0])])[0])
               for i, d in enumerate(cc)]
    webtext = [(d.id, "webtext", d.text) for d in list(references.load_jsonl(str(shared_file(WEBTEXT)), "webtext"))[:20]]
    docs = [("moby", "books", book), ("pride", "books", other_book)] + cc_docs + webtext
    return {"docs": docs, "book": book, "book_spans": spans, "other_book": other_book, "lambada": lambada,
            "boolq": boolq}


@pytest.fixture(scope="module")
def result(spark, planted):
    docs = spark.createDataFrame(planted["docs"], "id string, source string, text string")
    decided, spans, report = decontaminate(spark, docs, cfg_with("lambada", "boolq"))
    return {r["id"]: r for r in decided.collect()}, spans.collect(), report


def test_the_whole_book_loses_exactly_the_two_planted_passages_and_their_windows(result, planted):
    decided, spans, _ = result
    book, ((s1, e1), (s2, e2)) = planted["book"], planted["book_spans"]
    expected = decontam.decontaminate_text(book, table_of(planted["lambada"] + planted["boolq"]))
    moby = decided["moby"]
    assert moby["text"] == expected.text == "\n\n".join([book[:s1 - 200], book[e1 + 200:s2 - 200], book[e2 + 200:]])
    assert (moby["decontam_pieces"], moby["decontam_chars_removed"], moby["decontam_reason"]) == (
        3, (e1 - s1) + (e2 - s2) + 800, None)
    rows = sorted((r["start"], r["end"], r["kind"], r["benchmarks"], r["examples"], r["text"])
                  for r in spans if r["id"] == "moby")
    assert rows == [(s1 - 200, e1 + 200, "window", ["lambada"], ["lambada:0"], book[s1 - 200:e1 + 200]),
                    (s2 - 200, e2 + 200, "window", ["boolq"], ["boolq:2"], book[s2 - 200:e2 + 200])]


def test_a_book_split_into_eleven_pieces_is_dropped_with_its_text_and_spans(result, planted):
    decided, spans, _ = result
    pride = decided["pride"]
    assert (pride["decontam_pieces"], pride["decontam_reason"]) == (11, "contaminated")
    assert pride["text"] == planted["other_book"]  # dropped whole: the original text stays for inspection
    examples = sorted(e for r in spans if r["id"] == "pride" for e in r["examples"])
    assert examples == sorted(f"lambada:{10 + i}" for i in range(10))


def test_a_gram_in_more_than_ten_documents_is_ignored_and_at_ten_is_removed(result, planted):
    decided, _, report = result
    cc = [(doc_id, text) for doc_id, source, text in planted["docs"] if source == "cc"]
    at_cut_off, above = cc[:10], cc[10:]
    assert all(decided[i]["decontam_chars_removed"] > 0 and decided[i]["decontam_pieces"] == 2 for i, _ in at_cut_off)
    assert all(decided[i]["decontam_chars_removed"] == 0 and decided[i]["text"] == t for i, t in above)
    frequent = {g for _, g in decontam.text_grams(planted["boolq"][3].units[0], 13)}
    assert report["grams"]["ignored_frequent"] == len(frequent)
    assert {g["docs"] for g in report["grams"]["most_frequent_ignored"]} == {11}


def test_untouched_documents_are_one_piece_with_their_text(result, planted):
    decided, _, _ = result
    for doc_id, source, text in planted["docs"]:
        if source == "webtext":
            assert (decided[doc_id]["text"], decided[doc_id]["decontam_pieces"],
                    decided[doc_id]["decontam_chars_removed"], decided[doc_id]["decontam_reason"]) == (text, 1, 0, None)


def test_the_report_counts_dirty_examples_and_documents_per_dataset(result):
    _, _, report = result
    lambada, boolq = report["benchmarks"]["lambada"], report["benchmarks"]["boolq"]
    assert (lambada["examples"], lambada["dirty"], lambada["clean"], lambada["grams"]) == (5153, 11, 5142, 242_273)
    # BoolQ passage 3 is only in grams above the cut-off: not dirty.
    assert (boolq["examples"], boolq["too_short"], boolq["dirty"], boolq["clean"]) == (3270, 9, 2, 3259)
    assert report["datasets"] == {
        "books": {"docs": 2, "kept": 0, "modified": 1, "removed": 1,
                  "chars_removed_from_modified": result[0]["moby"]["decontam_chars_removed"]},
        "cc": {"docs": 21, "kept": 11, "modified": 10, "removed": 0,
               "chars_removed_from_modified": sum(result[0][i]["decontam_chars_removed"] for i in result[0]
                                                  if result[0][i]["source"] == "cc")},
        "webtext": {"docs": 20, "kept": 20, "modified": 0, "removed": 0, "chars_removed_from_modified": 0}}
    assert report["grams"]["hash_only_collisions"] == 0


def test_the_standalone_job_writes_documents_dropped_spans_and_report(spark, tmp_path):
    """The MultiRC Einstein passage (line 19) planted into a real CC document."""
    from corpus_pipeline.spark.decontam import decontam_job

    multirc = cfg_with("multirc")
    einstein = examples_of("multirc")[19].units[0]
    cc = [d for d in references.load_jsonl(str(shared_file(CC)), "cc") if len(d.text) > 3000][:5]
    rows = [(d.id, "cc", plant(d.text, [(1500, einstein)])[0] if i == 0 else d.text) for i, d in enumerate(cc)]
    spark.createDataFrame(rows, "id string, source string, text string").write.parquet(str(tmp_path / "in"))
    cfg = config.DecontamJobConfig(input=(str(tmp_path / "in"),), output=str(tmp_path / "out"), decontam=multirc)
    report = decontam_job(spark, cfg)
    out = tmp_path / "out"
    documents = spark.read.parquet(str(out / "documents")).collect()
    assert len(documents) == 5 and report["dropped"] == {"contaminated": 0} and not list(
        spark.read.parquet(str(out / "dropped")).collect())
    modified = [r for r in documents if r["decontam_chars_removed"] > 0]
    assert [r["id"] for r in modified] == [cc[0].id] and einstein not in modified[0]["text"]
    (span,) = spark.read.parquet(str(out / "spans")).collect()
    assert span["examples"] == ["multirc:19"] and einstein in span["text"]
    written = json.loads((out / "report.json").read_text())
    assert written["benchmarks"]["multirc"]["dirty"] == 1 and written["datasets"]["cc"]["modified"] == 1
    assert "multirc" in decontam.table_c1(written)


def test_the_job_refuses_a_missing_input_before_spark_starts(tmp_path, capsys):
    from jobs import decontaminate as job

    assert job.JOB.main(["--input", str(tmp_path / "nowhere"), "--output", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.startswith("decontaminate.py: error: input not found")


def test_the_enwiki_excerpt_overlaps_boolq_and_multirc_as_in_the_reference_run(spark):
    """shared/data/benchmarks/README.md: BoolQ dev lines 1205, 1852, 2931 (54 grams) and
    MultiRC passage 19 (140 grams) share 13-grams with the enwiki excerpt; nothing else."""
    path = shared_file("positives/wikipedia/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
    wiki = [(d.id, d.source, d.text) for d in references.load_mediawiki_xml(str(path), "wikipedia")]
    docs = spark.createDataFrame(wiki, "id string, source string, text string")
    _, spans, report = decontaminate(spark, docs, cfg_with("boolq", "multirc"))
    examples = {e for r in spans.collect() for e in (r["examples"] or [])}
    assert examples == {"boolq:1205", "boolq:1852", "boolq:2931", "multirc:19"}
    assert report["grams"]["matched"] == 54 + 140
    assert (report["benchmarks"]["boolq"]["dirty"], report["benchmarks"]["multirc"]["dirty"]) == (3, 1)
    assert report["datasets"] == {"wikipedia": {"docs": 106, "kept": 102, "modified": 4, "removed": 0,
                                                "chars_removed_from_modified": 4466}}
