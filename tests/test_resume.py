"""Per-shard commits: a run resumes from the shard store and gives the same output as a fresh run."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys

import pytest

from corpus_pipeline import boilerplate, config, ingest
from corpus_pipeline.spark.filter import run_filter
from corpus_pipeline.spark.output import AtomicOutput, OutputError, recover
from corpus_pipeline.spark.shards import MARKER

from .conftest import shared_file
from .test_filter_job import SAMPLE_FILES, SAMPLE_STATS, filter_config
from .test_swap import gaps_seen


def output_rows(spark, out) -> list[tuple]:
    documents = spark.read.parquet(str(out / "documents")).select("id", "url", "text")
    dropped = spark.read.parquet(str(out / "dropped")).select("id", "reason", "detail")
    return sorted(tuple(r) for r in documents.collect()) + sorted(tuple(map(str, r)) for r in dropped.collect())


def test_resumed_run_reuses_committed_shards_and_matches_a_fresh_run(spark, tmp_path):
    fresh = tmp_path / "fresh"
    run_filter(spark, filter_config(fresh, dedup=True), SAMPLE_FILES)
    # An interrupted run: two shards committed, one half-written (data, no marker), and one
    # whose marker was cut short (as a store without atomic rename, S3, can leave it).
    resumed = tmp_path / "resumed"
    cfg = filter_config(resumed, dedup=True)
    run_filter(spark, cfg, SAMPLE_FILES[:4])
    half = resumed.parent / "resumed.shards" / "ingest"

    def shard_of(path):
        return next(p for p in sorted(half.iterdir()) if path.rsplit("/", 1)[-1][:20] in p.name)

    (shard_of(SAMPLE_FILES[3]) / MARKER).unlink()
    (shard_of(SAMPLE_FILES[2]) / MARKER).write_text('{"input": ')
    (half / "staging-0123456789ab" / "shard=x").mkdir(parents=True)  # a batch the kill interrupted
    shutil.rmtree(resumed)  # the final output had not been written yet

    stats = run_filter(spark, cfg, SAMPLE_FILES)
    assert stats["shards"] == {"total": 6, "processed": 4, "reused": 2, "rows": 311}
    assert len(list(half.iterdir())) == 6  # one folder per input file; the staging folder is gone
    assert output_rows(spark, resumed) == output_rows(spark, fresh)
    assert stats["records_read"] == SAMPLE_STATS["records_read"]
    manifest = json.loads((resumed / "run.json").read_text())
    assert [i["status"] for i in manifest["inputs"]].count("reused") == 2
    assert not list(half.glob("*/_COMMITTING.json"))  # markers are renamed into place whole
    assert sum(i["records"] for i in manifest["inputs"]) == 311  # shard stats reconcile with records read


def test_shards_made_with_other_settings_are_redone(spark, tmp_path):
    out = tmp_path / "out"
    run_filter(spark, filter_config(out), SAMPLE_FILES[:2])
    stricter = config.FilterConfig(output=str(out), quality=config.QualityConfig(model=""),
                                   dedup=config.DedupConfig(enabled=False),
                                   ingest=config.IngestConfig(min_chars=1000))
    stats = run_filter(spark, stricter, SAMPLE_FILES[:2])
    assert stats["shards"]["processed"] == 2 and stats["shards"]["reused"] == 0
    again = run_filter(spark, filter_config(out, dedup=False), SAMPLE_FILES[:2])
    assert again["shards"]["processed"] == 2  # the store holds the stricter shards now
    no_resume = config.FilterConfig(output=str(out), quality=config.QualityConfig(model=""),
                                    dedup=config.DedupConfig(enabled=False), resume=False)
    assert run_filter(spark, no_resume, SAMPLE_FILES[:2])["shards"]["processed"] == 2


def test_shards_made_with_other_extractor_weights_are_redone(spark, tmp_path, monkeypatch):
    """Retrained block weights change what ingest keeps, so a release that ships them must not
    reuse shards made with the old ones."""
    out = tmp_path / "out"
    run_filter(spark, filter_config(out), SAMPLE_FILES[:2])
    monkeypatch.setattr(boilerplate, "shipped_model_digest", lambda: "retrained")
    assert run_filter(spark, filter_config(out), SAMPLE_FILES[:2])["shards"]["processed"] == 2


def test_commit_granularity_does_not_change_the_output(spark, tmp_path):
    one_by_one = config.FilterConfig(output=str(tmp_path / "a"), quality=config.QualityConfig(model=""),
                                     dedup=config.DedupConfig(enabled=True), files_per_commit=1)
    all_at_once = config.FilterConfig(output=str(tmp_path / "b"), quality=config.QualityConfig(model=""),
                                      dedup=config.DedupConfig(enabled=True), files_per_commit=100)
    run_filter(spark, one_by_one, SAMPLE_FILES)
    run_filter(spark, all_at_once, SAMPLE_FILES)
    assert output_rows(spark, tmp_path / "a") == output_rows(spark, tmp_path / "b")


def test_byte_ranges_and_shuffle_partitions_do_not_change_the_output(spark, tmp_path):
    """A real 2.5 MB WARC of 1 MB ranges (3 tasks) and an uncompressed ARC read in ranges, with
    1 and then 7 shuffle partitions: the same output as whole files."""
    files = [str(shared_file("warc/non_cc/IA-2008_heritrix-IAH-20080430204825-00000-blackbook.warc.gz")),
             str(shared_file("warc/cc/CC-2008_copycat-small-sample-1213893279526_0.arc"))]
    assert [len(ingest.split_ranges(f, os.path.getsize(f), 1 << 20)) for f in files] == [3, 3]
    runs = {"whole": (0, "1"), "ranges": (1, "7")}
    shuffles = spark.conf.get("spark.sql.shuffle.partitions")
    try:
        for name, (split_mb, partitions) in runs.items():
            spark.conf.set("spark.sql.shuffle.partitions", partitions)
            run_filter(spark, config.FilterConfig(output=str(tmp_path / name), quality=config.QualityConfig(model=""),
                                                  dedup=config.DedupConfig(enabled=True), split_mb=split_mb), files)
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", shuffles)
    whole, ranges = (output_rows(spark, tmp_path / name) for name in runs)
    assert whole == ranges and len(whole) > 900  # every record of both files


def test_a_file_repaired_in_place_is_read_again(spark, tmp_path):
    """Resume is keyed on the file's identity (size, modification time), not its path: an
    empty file replaced by a real WARC under the same name is ingested and tagged again."""
    archive = tmp_path / "in" / "crawl.warc.gz"
    archive.parent.mkdir()
    archive.write_bytes(b"")
    others = SAMPLE_FILES[:1]
    first = run_filter(spark, filter_config(tmp_path / "out"), others + [str(archive)])
    assert first["files"]["failed"] == {"file_empty": 1}
    archive.write_bytes(shared_file("warc/non_cc/wget-2024_dolma-sample-0000.warc.gz").read_bytes())
    second = run_filter(spark, filter_config(tmp_path / "out"), others + [str(archive)])
    assert second["stages"]["ingest"]["files_processed"] == 1 and second["stages"]["tag"]["files_processed"] == 1
    assert second["files"]["failed"] == {} and second["kept"] > first["kept"]
    assert second["records_read"] == first["records_read"] + 48  # the repaired file's 48 records


def test_a_second_run_on_a_live_runs_output_or_store_is_refused(spark, tmp_path):
    """A lock names its owner; a live owner's lock refuses the run in one line, a dead
    owner's lock (same host, no such process) is taken over and removed at the end."""
    out = tmp_path / "out"
    for locked in (tmp_path / "out.lock", tmp_path / "out.shards.lock"):
        locked.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": "now"}))
        refusal = f"{locked.with_suffix('')} is in use by another run (pid {os.getpid()}"
        with pytest.raises(OutputError, match=re.escape(refusal)):
            run_filter(spark, filter_config(out), SAMPLE_FILES[:1])
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        locked.write_text(json.dumps({"host": socket.gethostname(), "pid": gone.pid, "started": "then"}))
        assert run_filter(spark, filter_config(out), SAMPLE_FILES[:1])["records_read"] > 0
        assert not locked.exists()


def test_a_commit_killed_between_its_renames_is_finished_by_the_next_run(spark, tmp_path):
    """Killed after moving the old output aside and before moving the new one in: the next
    run (holding the lock) moves the complete new output in and removes what is left."""
    out = tmp_path / "out"
    run_filter(spark, filter_config(out), SAMPLE_FILES[:1])
    expected = output_rows(spark, out)
    shutil.copytree(out, tmp_path / "out.tmp-0123456789ab")  # the new output, complete
    (tmp_path / "out.tmp-ba9876543210").mkdir()  # a killed run's staging, never finished
    out.rename(tmp_path / "out.old-0123456789ab")
    recover(spark, str(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.shards"]
    assert output_rows(spark, out) == expected


def test_a_rerun_replaces_the_output_with_no_moment_without_one(spark, tmp_path):
    """The output folder is swapped in one step (issue 35, class 8): a reader polling for
    the run's stats.json during 15 commits never finds it missing; with two renames the
    same poller finds it missing, which the fallback's recovery covers."""
    out = tmp_path / "out"
    run_filter(spark, filter_config(out), SAMPLE_FILES[:1])
    with gaps_seen(out / "stats.json") as gaps:
        for i in range(15):
            with AtomicOutput(spark, str(out)) as replacing:
                replacing.write_text("stats.json", json.dumps({"commit": i}))
    assert gaps == [0] and json.loads((out / "stats.json").read_text()) == {"commit": 14}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.shards"]
