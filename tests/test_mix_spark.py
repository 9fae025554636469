"""Building mixtures on Spark: the bundled sample and the shared data (imported by
jobs/import_reference.py's library entry point), exact draws, realised token shares,
byte-identical reruns."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from fractions import Fraction

import pyarrow.parquet as pq
import pytest
import yaml

from corpus_pipeline import config, gpt2, mix
from corpus_pipeline.spark.filter import run_filter
from corpus_pipeline.spark.imports import import_sources
from corpus_pipeline.spark.mix import MixPlanError, build_mixture, documents_frame
from tests.conftest import REPO, SAMPLE, shared_file

SAMPLE_CONF = REPO / "conf" / "mix" / "sample.yaml"
SAMPLE_IMPORT = REPO / "conf" / "import" / "sample.yaml"


def folder_digest(folder) -> dict[str, str]:
    """sha256 of every file of an output (hidden .crc files included)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def read_mixture(spark, folder):
    return [r.asDict() for r in spark.read.parquet(str(folder / "documents")).orderBy("position").collect()]


@pytest.fixture(scope="module")
def sample_import(spark, tmp_path_factory, monkeypatch_module):
    """conf/import/sample.yaml (the sample's two WARC datasets) imported into a temporary
    folder; returns that folder."""
    folder = tmp_path_factory.mktemp("import") / "sample"
    monkeypatch_module.chdir(REPO)  # the conf's paths are relative to the repository
    cfg = config.load(config.ImportConfig, SAMPLE_IMPORT)
    import_sources(spark, cfg.sources, cfg.ingest, str(folder))
    return folder


@pytest.fixture(scope="module")
def sample_build(spark, tmp_path_factory, sample_import):
    """The shipped sample mixture on the sample's import, built in this session, then rebuilt
    into the same folder by `spark-submit jobs/mix.py` in a new JVM with other shuffle
    partitions (it replaces the folder)."""
    root = tmp_path_factory.mktemp("mix")
    out = root / "sample"
    conf = root / "sample.yaml"  # the shipped config, reading the import made above
    conf.write_text(SAMPLE_CONF.read_text().replace("output/import/sample", str(sample_import)))
    assert all(str(sample_import) in d["path"] for d in yaml.safe_load(conf.read_text())["datasets"])
    cfg = config.load(config.MixConfig, conf, [f"output={out}"])
    first = build_mixture(spark, cfg)
    digest = folder_digest(out)
    job = subprocess.run(["spark-submit", "--master", "local[2]", "--conf", "spark.sql.shuffle.partitions=7",
                          "jobs/mix.py", "--conf", str(conf), "--output", str(out)],
                         cwd=REPO, env=job_env(), capture_output=True, text=True, timeout=900)
    assert job.returncode == 0, job.stderr[-3000:]
    second = json.loads((out / "manifest.json").read_text())
    return cfg, out, first, second, digest, job.stdout


def job_env():
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_sample_rerun_is_byte_identical(sample_build):
    cfg, out, first, second, digest, stdout = sample_build
    # The code version is part of the manifest; other work may commit while the suite runs.
    assert {**first, "code_version": None} == {**second, "code_version": None}
    now = folder_digest(out)
    assert {k: v for k, v in now.items() if k != "manifest.json"} == {
        k: v for k, v in digest.items() if k != "manifest.json"}
    assert sorted(digest) == ["documents/part-00000.parquet", "documents/part-00001.parquet", "manifest.json"]
    assert "corpus-pipeline mix: 98 documents, 156,133 tokens in 2 files" in stdout


def test_sample_mixture_contract_and_exact_draw(spark, sample_build):
    cfg, out, manifest, *_ = sample_build
    rows = read_mixture(spark, out)
    assert [r["position"] for r in rows] == list(range(len(rows)))
    assert set(rows[0]) >= {"text", "dataset", "id", "epoch", "position", "tokens"}
    assert all(r["tokens"] == gpt2.count_tokens(r["text"]) for r in rows)
    # The Spark build equals the plain-Python draw of the same plan on the same documents.
    docs = documents_frame(spark, cfg).filter("tokens > 0").select("dataset", "id", "tokens").collect()
    by_dataset = {d.name: [(r["id"], r["tokens"]) for r in docs if r["dataset"] == d.name] for d in cfg.datasets}
    plan = mix.plan_mixture(cfg, {name: sum(t for _, t in ds) for name, ds in by_dataset.items()})
    expected = mix.draw_reference(plan, by_dataset)
    assert [(r["dataset"], r["id"], r["epoch"], r["tokens"]) for r in rows] == expected
    # Sample figures (83 CC documents, 115,493 tokens; 33 other, 42,012): 0.83 and 1.43 epochs.
    cc, other = manifest["datasets"]
    assert (cc["docs_available"], cc["tokens_available"], cc["full_passes"]) == (83, 115_493, 0)
    assert (other["docs_available"], other["tokens_available"], other["full_passes"]) == (33, 42_012, 1)
    assert other["by_epoch"][0] == {"epoch": 0, "docs": 33, "tokens": 42_012}  # a full pass: every doc once
    assert manifest["docs"] == len(rows) and manifest["files"] == 2
    # File i holds positions [i n / 2, (i + 1) n / 2), in order (the pack stage's input).
    for i, part in enumerate(sorted((out / "documents").glob("part-*.parquet"))):
        positions = pq.read_table(part, columns=["position"]).column("position").to_pylist()
        assert positions == [p for p in range(len(rows)) if mix.file_index(p, len(rows), 2) == i]


def test_sample_realised_shares_match_weights(sample_build):
    _, _, manifest, *_ = sample_build
    assert_shares_match_weights(manifest)


def assert_shares_match_weights(manifest):
    """Each dataset gets its target T_d = w_d x B plus e_d, 0 <= e_d < its largest document
    m_d (the boundary document is included). So its share (T_d + e_d) / (B + sum e) is off
    its weight by less than sum(m_d) / (B + sum e), the tolerance asserted here; the
    manifest rounds shares to 1e-6."""
    tolerance = sum(d["max_doc_tokens"] for d in manifest["datasets"]) / manifest["tokens"] + 1e-6
    for d in manifest["datasets"]:
        assert d["tokens_drawn"] <= d["tokens_drawn_realised"] < d["tokens_drawn"] + d["max_doc_tokens"]
        assert abs(d["share_realised"] - d["weight"]) < tolerance


def test_plan_errors_stop_the_build(spark, tmp_path, sample_import):
    cfg = config.MixConfig(total_tokens=1000, output=str(tmp_path / "bad"), weight_sum_tolerance=0.0, datasets=(
        config.MixDataset(name="a", format="parquet", path=str(sample_import / "other_crawls/documents"), weight=0.5),
        config.MixDataset(name="b", format="parquet", path=str(sample_import / "common_crawl/documents"),
                          weight=0.6)))
    with pytest.raises(MixPlanError, match="refusing"):
        build_mixture(spark, cfg)
    assert not (tmp_path / "bad").exists()


@pytest.fixture(scope="module")
def shared_build(spark, tmp_path_factory):
    """CC documents from jobs/filter.py (ingest only) on the sample, with WebText and
    WikiText-2 imported from the shared data: the GPT-3 shape, CC repeated, references
    seen once."""
    webtext = shared_file("positives/webtext/webtext.valid.trunc63tok.jsonl")
    wikitext = shared_file("positives/wikipedia/wikitext-2_valid.tokens.txt")
    root = tmp_path_factory.mktemp("mix_shared")
    import_sources(spark, [config.ReferenceSource("webtext", "jsonl", str(webtext)),
                           config.ReferenceSource("wikitext", "wikitext_tokens", str(wikitext))],
                   config.IngestConfig(), str(root / "import"))
    filter_cfg = config.load(config.FilterConfig, REPO / "conf" / "filter.yaml",
                             [f"output={root / 'filter'}", "quality.model=", "dedup.enabled=false",
                              "repeated_lines.enabled=false"])
    run_filter(spark, filter_cfg, sorted(str(p) for p in SAMPLE.iterdir() if p.suffix != ".md"))
    cfg = config.MixConfig(total_tokens=500_000, seed=99, output=str(root / "mix"), order_buckets=8, datasets=(
        config.MixDataset(name="common_crawl", format="filter", path=str(root / "filter"), weight=0.5),
        config.MixDataset(name="webtext", format="parquet", path=str(root / "import/webtext/documents"), weight=0.3),
        config.MixDataset(name="wikitext", format="parquet", path=str(root / "import/wikitext/documents"),
                          weight=0.2)))
    return build_mixture(spark, cfg), read_mixture(spark, root / "mix")


def test_shared_data_mixture(shared_build):
    manifest, rows = shared_build
    by_name = {d["name"]: d for d in manifest["datasets"]}
    # Measured with the GPT-2 tokenizer: 116 ingested sample pages, 4,724 WebText
    # snippets (291,519 tokens), 60 WikiText-2 articles (207,911 tokens).
    assert (by_name["webtext"]["docs_available"], by_name["webtext"]["tokens_available"]) == (4724, 291_519)
    assert (by_name["wikitext"]["docs_available"], by_name["wikitext"]["tokens_available"]) == (60, 207_911)
    assert by_name["common_crawl"]["docs_available"] == 116
    cc = by_name["common_crawl"]
    assert cc["full_passes"] == 1 and [e["epoch"] for e in cc["by_epoch"]] == [0, 1]
    assert cc["by_epoch"][0]["docs"] == 116  # first pass: every CC document exactly once
    assert_shares_match_weights(manifest)
    # Without replacement inside a pass: (dataset, epoch, id) never repeats.
    assert max(Counter((r["dataset"], r["epoch"], r["id"]) for r in rows).values()) == 1
    assert [r["position"] for r in rows] == list(range(len(rows)))
    # Spread over training at the weights: in position order, every dataset's stream
    # fraction (its tokens so far / its target) never decreases across the whole mixture,
    # and its passes come in order.
    target = {name: d["tokens_drawn"] for name, d in by_name.items()}
    seen, last, last_epoch = Counter(), Fraction(0), Counter()
    for r in rows:
        here = Fraction(seen[r["dataset"]], target[r["dataset"]])
        assert here >= last and r["epoch"] >= last_epoch[r["dataset"]]
        last, last_epoch[r["dataset"]] = here, r["epoch"]
        seen[r["dataset"]] += r["tokens"]
    assert json.loads(json.dumps(manifest)) == manifest
