"""The filter job on Spark (local[2]) and through spark-submit, on the bundled real sample."""
from __future__ import annotations

import collections
import dataclasses
import gzip
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from corpus_pipeline import __version__, config, ingest, inputs, report
from corpus_pipeline.spark.filter import run_filter
from corpus_pipeline.errors import UserError
from corpus_pipeline.stats import format_funnel
from corpus_pipeline.spark.output import OutputError

from .conftest import ENGLISH_PAGE, REPO, SAMPLE, gzip_members, response_record, shared_file

SAMPLE_FILES = inputs.expand([str(SAMPLE)])
# Ingest outcomes of the bundled sample with conf/filter.yaml but no quality model (the
# same counts, file by file, as tests/test_ingest.py asserts on the originals in shared/data).
SAMPLE_STATS = {
    "records_read": 311, "kept": 116,
    "dropped": {"empty_text": 7, "http_status": 11, "language": 41, "not_html": 7, "not_response": 72,
                "too_short": 55, "truncated": 2},
    "files": {"read": 6, "failed": {}},
    "shards": {"total": 6, "processed": 6, "reused": 0, "rows": 311},
    "quality": None,
    "dedup": None,
    "repeated_lines": None,
    "decontam": None,
    "stages": {"ingest": {"files_processed": 6, "files_reused": 0, "rows_written": 311},
               "tag": {"files_processed": 6, "files_reused": 0, "rows_written": 116},
               "select": "ran", "dedup": "off", "repeated_lines": "off", "decontam": "off"},
}


def filter_config(output, dedup: bool = False) -> config.FilterConfig:
    """Ingest only (and dedup if asked): quality and repeated lines have their own tests
    (test_quality_spark.py, test_lines.py)."""
    return config.FilterConfig(output=str(output), quality=config.QualityConfig(model=""),
                               dedup=config.DedupConfig(enabled=dedup),
                               repeated_lines=config.RepeatedLinesConfig(enabled=False))


@pytest.fixture(scope="module")
def sample_run(spark, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    stats = run_filter(spark, filter_config(out), SAMPLE_FILES)
    report.write_report(str(out))  # as jobs/filter.py does after the chain
    return out, stats


def test_sample_stats_are_exact_and_reconcile(sample_run):
    out, stats = sample_run
    assert {k: v for k, v in stats.items() if k != "seconds"} == SAMPLE_STATS
    assert stats["records_read"] == stats["kept"] + sum(stats["dropped"].values())
    written = json.loads((out / "stats.json").read_text())
    assert written["records_read"] == 311 and written["code_version"].startswith(__version__)
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "documents", "dropped", "inputs.txt",
                                                     "report.html", "run.json", "samples", "stats.json"]


def test_spark_output_equals_the_library_run_record_by_record(spark, sample_run):
    out, _ = sample_run
    expected = [o for path in SAMPLE_FILES for o in ingest.process_file(path, config.IngestConfig())]
    documents = spark.read.parquet(str(out / "documents")).collect()
    dropped = spark.read.parquet(str(out / "dropped")).collect()
    assert sorted((r.id, r.text, r.lang) for r in documents) == \
        sorted((o.id, o.text, o.lang) for o in expected if o.reason is None)
    assert sorted((r.id, r.reason) for r in dropped) == sorted((o.id, o.reason) for o in expected if o.reason)
    assert len({r.id for r in documents} | {r.id for r in dropped}) == 311


def test_document_schema(spark, sample_run):
    out, _ = sample_run
    documents = spark.read.parquet(str(out / "documents"))
    assert set(documents.columns) >= {"id", "url", "crawl", "warc_date", "source", "text", "lang", "lang_score",
                                      "payload_bytes", "text_chars", "warc_record_id"}
    crawls = collections.Counter(r.crawl for r in documents.select("crawl").collect())
    assert crawls == {"CC-ARC": 59, "CC-MAIN-2016-50": 23, "CC-MAIN-2020-34": 1,
                      "GREENWASHING-SAMPLE-IA": 11, None: 22}


def test_dedup_in_the_filter_removes_the_sample_near_duplicates(spark, tmp_path):
    """The sample holds real near-duplicates: CDC 'page not found' pages reached under
    several URLs, and Omya pages captured twice by the Wayback Machine."""
    out = tmp_path / "out"
    stats = run_filter(spark, filter_config(out, dedup=True), SAMPLE_FILES)
    assert (stats["kept"], stats["dropped"]["duplicate"]) == (110, 6)
    assert stats["dedup"]["docs"] == 116 and stats["dedup"]["verified_pairs"] == 8
    kept = {r.id: r.url for r in spark.read.parquet(str(out / "documents")).collect()}
    removed = spark.read.parquet(str(out / "dropped")).filter("reason = 'duplicate'").collect()
    assert all(r.duplicate_of in kept for r in removed)
    assert sorted(r.url.split("/")[2] for r in removed) == ["www.cdc.gov"] * 2 + ["www.omya.de:80"] * 4


def test_damaged_and_missing_inputs_are_counted(spark, tmp_path):
    good = SAMPLE / "CC-MAIN-2020-34_resiliparse-warcfile.warc.gz"
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(good.read_bytes()[:70_000])
    (tmp_path / "empty.warc.gz").write_bytes(b"")
    files = [str(good), str(cut), str(tmp_path / "empty.warc.gz"), str(tmp_path / "missing.warc.gz")]
    stats = run_filter(spark, filter_config(tmp_path / "out"), files)
    assert stats["files"] == {"read": 4, "failed": {"file_empty": 1, "file_missing": 1}}
    assert stats["dropped"]["truncated"] == 1
    assert stats["records_read"] == stats["kept"] + sum(stats["dropped"].values())
    assert 50 < stats["records_read"] < 100


def test_a_run_where_nothing_is_readable_fails_and_says_what_it_found(spark, tmp_path):
    """An image, prose and an empty file given as archives (matplotlib's own PNG icon: a
    real file of the wrong kind): a non-zero exit, never an empty output that looks fine."""
    import matplotlib

    png = str(Path(matplotlib.get_data_path()) / "images" / "hand.png")
    (tmp_path / "notes.warc").write_text("Call me Ishmael. Some years ago, never mind how long precisely.\n")
    (tmp_path / "empty.warc.gz").write_bytes(b"")
    files = [png, str(tmp_path / "notes.warc"), str(tmp_path / "empty.warc.gz")]
    with pytest.raises(UserError, match=r"no input record was readable \(file_empty 1, malformed 2\): not a "
                                        r"WARC/WET/ARC: .*hand.png: PNG image data; .*notes.warc: text without"):
        run_filter(spark, filter_config(tmp_path / "out"), files)
    assert not (tmp_path / "out").exists()
    stats = run_filter(spark, filter_config(tmp_path / "out"), files + SAMPLE_FILES[:1])  # one real file is enough
    assert stats["dropped"]["malformed"] == 2 and stats["kept"] > 0


def test_the_same_records_in_two_inputs_are_kept_once(spark, tmp_path):
    """A real WARC under two paths, and beside its decompressed .warc: each document is kept
    once, the other copies are `duplicate_record` (naming the kept copy), nothing is lost to
    dedup matching a copy with itself, and the accounting holds."""
    original = shared_file("warc/non_cc/wget-2024_dolma-sample-0000.warc.gz")
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / original.name).write_bytes(original.read_bytes())
    (tmp_path / "a" / original.name.removesuffix(".gz")).write_bytes(gzip.decompress(original.read_bytes()))
    once = run_filter(spark, filter_config(tmp_path / "once", dedup=True), [str(tmp_path / "a" / original.name)])
    copies = sorted(str(p) for p in tmp_path.glob("[ab]/*.warc*"))
    thrice = run_filter(spark, filter_config(tmp_path / "thrice", dedup=True), copies)
    assert thrice["kept"] == once["kept"] > 0
    assert thrice["dropped"]["duplicate_record"] == 2 * once["kept"]
    assert thrice["records_read"] == 3 * once["records_read"]
    documents = spark.read.parquet(str(tmp_path / "thrice" / "documents")).collect()
    assert len({r.id for r in documents}) == len(documents) and {r.source for r in documents} == {copies[0]}
    dropped = spark.read.parquet(str(tmp_path / "thrice" / "dropped")).filter("reason = 'duplicate_record'")
    assert {r.detail.split(" @ ")[0] for r in dropped.collect()} == {copies[0]}


def test_file_names_that_are_not_utf8_or_hold_special_characters_lose_nothing(spark, tmp_path):
    """Two real WARCs named with a byte that is not UTF-8 and with `=`, `:` and `%` (which Spark
    escapes in the folders a batch is staged in): every record is read and accounted for."""
    folder = tmp_path / "in"
    folder.mkdir()
    originals = [shared_file("warc/non_cc/wget-2024_dolma-sample-0000.warc.gz"),
                 shared_file("warc/cc/CC-MAIN-2020-34_resiliparse-warcfile.warc.gz")]
    names = [b"crawl-\xff.warc.gz", b"part=1:50%.warc.gz"]
    for name, original in zip(names, originals):
        with open(os.path.join(os.fsencode(folder), name), "wb") as fh:
            fh.write(original.read_bytes())
    files = inputs.expand([str(folder)])
    expected = [list(ingest.process_file(str(p), config.IngestConfig())) for p in originals]
    stats = run_filter(spark, filter_config(tmp_path / "out"), files)
    assert stats["records_read"] == sum(len(e) for e in expected)
    assert stats["kept"] == sum(o.reason is None for e in expected for o in e) > 0
    sources = {r.source for r in spark.read.parquet(str(tmp_path / "out" / "dropped")).collect()}
    assert sources == {f"{folder}/crawl-\\xff.warc.gz", f"{folder}/part=1:50%.warc.gz"}
    assert (tmp_path / "out" / "inputs.txt").read_bytes().count(b"/crawl-\xff.warc.gz\n") == 1  # its real name


def test_rerun_replaces_output_atomically_and_refuses_foreign_folders(spark, tmp_path):
    out = tmp_path / "out"
    first = run_filter(spark, filter_config(out), SAMPLE_FILES[:2])
    second = run_filter(spark, filter_config(out), SAMPLE_FILES[:2])
    assert first["records_read"] == second["records_read"]
    assert (first["shards"]["processed"], second["shards"]["reused"]) == (2, 2)
    # No temporary or old folders left; the stage store holds one committed shard per input
    # and stage, and one folder per corpus stage.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.shards"]
    store = tmp_path / "out.shards"
    assert sorted(p.name for p in store.iterdir()) == ["ingest", "select", "tag"]
    for stage in ("ingest", "tag"):
        assert len(list((store / stage).iterdir())) == 2
        assert all((shard / "_COMMITTED.json").exists() for shard in (store / stage).iterdir())
    assert (store / "select" / "_STAGE.json").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    with pytest.raises(OutputError, match="is not a corpus-pipeline output"):
        run_filter(spark, filter_config(foreign), SAMPLE_FILES[:1])
    assert (foreign / "precious.txt").read_text() == "keep me"
    assert not (tmp_path / "mine.shards").exists()


def job_env():
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def test_spark_submit_default_run_prints_summary(tmp_path):
    """The README's first command: the sample through ingest and the shipped quality model."""
    out = tmp_path / "out"
    result = subprocess.run(["spark-submit", "--master", "local[2]", "jobs/filter.py", "--output", str(out)],
                            cwd=REPO, env=job_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "311 records read" in result.stdout and "alpha 9.0" in result.stdout
    stats = json.loads((out / "stats.json").read_text())
    # The summary reads as text, and progress lines and warnings go to stderr, not stdout;
    # none of the warnings a run once printed (a pyspark UserWarning, a truncated plan).
    assert f"funnel     {format_funnel(stats)}\n" in result.stdout and "removed none" in result.stdout
    assert "{" not in result.stdout and "(0.0%)" not in result.stdout and "progress" not in result.stdout
    assert re.search(r"^progress: [a-z ]+: files 6/6 \(100\.0%\), 311 records, ", result.stderr, re.M), result.stderr
    assert "UserWarning" not in result.stderr and "Truncated the string representation" not in result.stderr
    assert stats["quality"]["model_version"] == json.loads((REPO / "models/quality/manifest.json").read_text())[
        "model_version"]
    assert (stats["kept"], stats["dropped"]["quality"]) == (3, 113)
    assert stats["kept"] + stats["dropped"]["quality"] == SAMPLE_STATS["kept"]


def test_spark_submit_refuses_a_foreign_output_in_one_line_on_stderr_before_spark(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    result = subprocess.run(["spark-submit", "--master", "local[2]", "jobs/filter.py", "--output", str(foreign)],
                            cwd=REPO, env=job_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower() or "Traceback" in line]
    assert errors == [f"filter.py: error: output folder {foreign} exists and is not a corpus-pipeline output; "
                      "remove it or choose another --output"], result.stderr
    assert "Running Spark version" not in result.stderr  # no SparkContext was started
    assert (foreign / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("args, message", [
    (["--input", "/nonexistent/x.warc.gz"], "filter.py: error: input not found: /nonexistent/x.warc.gz"),
    (["--set", "ingest.min_chars=lots"], "filter.py: error: ingest.min_chars must be int"),
    (["--conf", "/nonexistent.yaml"], "filter.py: error: config file not found"),
])
def test_bad_invocations_fail_in_one_line_before_spark(args, message):
    result = subprocess.run([sys.executable, "jobs/filter.py", *args], cwd=REPO, env=job_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(message) and result.stderr.count("\n") == 1


def test_decontamination_runs_in_the_filter_after_dedup(spark, tmp_path):
    """A page of real Wikipedia paragraphs (BoolQ passages) with a LAMBADA test passage planted
    in the middle: the filter cuts the passage and its windows and keeps the rest."""
    boolq = [json.loads(line)["passage"] for line in shared_file("benchmarks/boolq/dev.jsonl").open()][:6]
    planted = json.loads(shared_file("benchmarks/lambada/lambada_test.jsonl").open().readline())["text"]
    paragraphs = boolq[:3] + [planted] + boolq[3:]
    page = "<html><body><article>" + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs) + "</article></body></html>"
    archive = tmp_path / "planted.warc.gz"
    archive.write_bytes(gzip_members([response_record(page.encode(), url="http://example.com/planted"),
                                      response_record(ENGLISH_PAGE, url="http://example.com/harbour")]))
    lambada = config.BenchmarkSource(name="lambada", split="test", text_fields=("text",),
                                     path=str(shared_file("benchmarks/lambada/lambada_test.jsonl")))
    cfg = dataclasses.replace(filter_config(tmp_path / "out", dedup=True),
                              decontam=config.DecontamConfig(benchmarks=(lambada,)))
    stats = run_filter(spark, cfg, [str(archive)])
    assert stats["kept"] == 2 and stats["decontam"]["datasets"][str(archive)]["modified"] == 1
    documents = {r.url: r for r in spark.read.parquet(str(tmp_path / "out/documents")).collect()}
    cut = documents["http://example.com/planted"]
    assert planted[:80] not in cut.text and boolq[0][:200] in cut.text and boolq[-1][-200:] in cut.text
    assert cut.decontam_chars_removed >= len(planted) and cut.decontam_pieces == 2
    assert cut.text_chars == len(cut.text)
    assert documents["http://example.com/harbour"].decontam_chars_removed == 0
    spans = spark.read.parquet(str(tmp_path / "out/decontam_spans")).collect()
    assert spans and all(s.id == cut.id for s in spans)
