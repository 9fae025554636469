"""Repeated-line removal: the pure rule on real crawl documents, and the Spark stage against it."""
from __future__ import annotations

import collections

import pytest

from corpus_pipeline import config, ingest, inputs, lines
from corpus_pipeline.spark.filter import run_filter

from .conftest import SAMPLE, shared_file

CC_FILES = ("warc/cc/CC-2008_copycat-small-sample-1213893279526_0.arc",
            "warc/cc/CC-2010_copycat-small-sample-1262850551027_8.arc",
            "warc/cc/CC-MAIN-2014-35_node-warc-fixture.warc",
            "warc/cc/CC-MAIN-2020-34_resiliparse-warcfile.warc.gz")
# A testimonial that Course Hero's template repeats on 8 pages of the CC-2010 ARC file.
TEMPLATE_LINE = "Meet over 300,000 students and your fellow classmates now!"


@pytest.fixture(scope="module")
def cc_documents() -> dict[str, str]:
    """{id: text} of every page ingest keeps from the Common Crawl WARC/ARC files."""
    return {o.id: o.text for name in CC_FILES for o in ingest.process_file(str(shared_file(name)), config.IngestConfig())
            if o.reason is None}


def test_template_lines_of_real_crawl_pages_stay_in_one_document(cc_documents):
    result = lines.drop_repeated_lines(cc_documents)
    holders = [doc_id for doc_id, text in cc_documents.items() if TEMPLATE_LINE in text.split("\n")]
    assert len(holders) == 8
    assert [doc_id for doc_id, (text, _) in result.items() if TEMPLATE_LINE in text.split("\n")] == [min(holders)]
    removed = sum(len(cc_documents[i]) - len(text) for i, (text, _) in result.items())
    assert removed > 0.04 * sum(map(len, cc_documents.values()))  # 5.8% of the characters of these 68 pages


def test_every_removed_line_is_kept_by_exactly_one_document(cc_documents):
    result = lines.drop_repeated_lines(cc_documents)
    before = collections.Counter(line for text in cc_documents.values() for line in set(text.split("\n")))
    after = collections.Counter(line for text, _ in result.values() for line in set(text.split("\n")) if text)
    assert set(after) == set(before)  # no line is lost from the corpus...
    assert all(n == 1 for n in after.values())  # ...and none is left in two documents
    assert sum(n for _, n in result.values()) == sum(
        len(text.split("\n")) - len(result[i][0].split("\n")) for i, text in cc_documents.items() if result[i][0])
    again = lines.drop_repeated_lines({i: text for i, (text, _) in result.items()})
    assert {i: text for i, (text, _) in again.items()} == {i: text for i, (text, _) in result.items()}
    assert not any(n for _, n in again.values())  # a second pass finds nothing more


def test_lines_repeated_inside_one_document_are_left_alone():
    docs = {"b": "Menu\nA first paragraph.\nMenu", "a": "Menu\nAnother page."}
    assert lines.drop_repeated_lines(docs) == {"a": ("Menu\nAnother page.", 0), "b": ("A first paragraph.", 2)}


@pytest.fixture(scope="module")
def delined_run(spark, tmp_path_factory):
    out = tmp_path_factory.mktemp("lines") / "out"
    cfg = config.FilterConfig(output=str(out), quality=config.QualityConfig(model=""))
    return out, run_filter(spark, cfg, inputs.expand([str(SAMPLE)]))


def test_the_filter_job_removes_repeated_lines_as_the_library_does(spark, delined_run):
    out, stats = delined_run
    documents = {r.id: r for r in spark.read.parquet(str(out / "documents")).collect()}
    dropped = {r.id: r for r in spark.read.parquet(str(out / "dropped")).collect()}
    # The stage's input: ingest's documents less the near-duplicates dedup dropped before it.
    before = {o.id: o.text for path in inputs.expand([str(SAMPLE)])
              for o in ingest.process_file(path, config.IngestConfig())
              if o.reason is None and o.id not in dropped or o.id in dropped and dropped[o.id].reason == "repeated_lines"}
    expected = lines.drop_repeated_lines(before)
    for doc_id, (text, removed) in expected.items():
        row = documents.get(doc_id) or dropped[doc_id]
        assert (row.text, row.repeated_lines_removed, row.text_chars) == (text, removed, len(text))
        assert row.repeated_chars_removed == len(before[doc_id]) - len(text)
        assert (doc_id in dropped) == (len(text) < config.IngestConfig().min_chars)
    assert stats["repeated_lines"]["lines_removed"] == sum(n for _, n in expected.values()) > 0
    assert stats["repeated_lines"]["documents_changed"] == sum(1 for _, n in expected.values() if n)
    assert stats["dropped"].get("repeated_lines", 0) == sum(1 for i in expected if i in dropped)
    assert stats["records_read"] == stats["kept"] + sum(stats["dropped"].values())
