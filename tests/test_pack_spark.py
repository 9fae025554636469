"""The Spark pack job: same bytes as plain-Python pack_texts, whatever the partitioning."""
import hashlib
import json
import random
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus_pipeline import config, gpt2, pack
from corpus_pipeline.spark.pack import PackInputError, ordered_documents, pack_job, presorted_runs

from .conftest import REPO


SMALL = ["pack.rows_per_shard=16"]  # 1.17 M tokens -> 36 shards, so that shards cross partitions


@pytest.fixture(scope="module")
def mixture(tmp_path_factory, cc_texts):
    """A mixture as issue 5 writes it (position, id, text), scattered over 3 files out of order."""
    folder = tmp_path_factory.mktemp("mixture")
    order = list(range(len(cc_texts)))
    random.Random(7).shuffle(order)
    for part in range(3):
        rows = order[part::3]
        pq.write_table(pa.table({"position": [10 * i for i in rows], "id": [f"cc-{i}" for i in rows],
                                 "text": [cc_texts[i] for i in rows]}), folder / f"part-{part}.parquet")
    return folder


@pytest.fixture(scope="module")
def plain_folder(tmp_path_factory, cc_texts):
    """Parquet without position (like a filter output): 4 files of 4 row groups each."""
    folder = tmp_path_factory.mktemp("plain")
    for part in range(4):
        texts = cc_texts[part::4]
        pq.write_table(pa.table({"id": [f"p{part}-{i}" for i in range(len(texts))], "text": texts}),
                       folder / f"part-{part}.parquet", row_group_size=len(texts) // 4 + 1)
    return folder


def run_job(spark, folder, output, *overrides):
    cfg = config.load(config.PackJobConfig, None, [f"input=[{folder}]", f"output={output}", *SMALL, *overrides])
    return pack_job(spark, cfg)


def shard_bytes(folder) -> list[bytes]:
    meta = json.loads((folder / "metadata.json").read_text())
    return [(folder / s["file"]).read_bytes() for s in meta["shards"]]


def comparable(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if k not in ("order", "inputs", "code_version")}


@pytest.fixture(scope="module")
def default_run(spark, tmp_path_factory, mixture):
    """The mixture packed with the default rules (drop the tail, 2048-token rows), 3 partitions."""
    output = tmp_path_factory.mktemp("default") / "out"
    return output, run_job(spark, mixture, output, "pack.partitions=3")


def test_mixture_packs_in_position_order_like_pack_texts(tmp_path, default_run, cc_texts):
    output, stats = default_run
    expected = pack.pack_texts(cc_texts, tmp_path / "python", rows_per_shard=16)
    meta = json.loads((output / "metadata.json").read_text())
    assert comparable(meta) == expected  # shards' sha256, counts, tail and fingerprint
    assert shard_bytes(output) == shard_bytes(tmp_path / "python")
    assert meta["order"] == "position"


def test_megatron_datasets_like_pack_texts(spark, tmp_path, mixture, cc_texts):
    """Datasets cut between documents, whatever the partitions: the same .bin and .idx bytes."""
    stats = run_job(spark, mixture, tmp_path / "out", "pack.format=megatron", "pack.partitions=3")
    expected = pack.pack_texts(cc_texts, tmp_path / "python", rows_per_shard=16, format="megatron")
    assert comparable(json.loads((tmp_path / "out" / "metadata.json").read_text())) == expected
    files = [d["prefix"] + ext for d in expected["datasets"] for ext in (".bin", ".idx")]
    assert [(tmp_path / "out" / f).read_bytes() for f in files] == [(tmp_path / "python" / f).read_bytes() for f in files]
    assert stats["datasets"] == len(expected["datasets"]) > 20 and stats["documents"] == 670


def test_with_target_and_pad_like_pack_texts(spark, tmp_path, mixture, cc_texts):
    run_job(spark, mixture, tmp_path / "out", "pack.with_target=true", "pack.tail=pad")
    expected = pack.pack_texts(cc_texts, tmp_path / "python", with_target=True, tail="pad", rows_per_shard=16)
    assert comparable(json.loads((tmp_path / "out" / "metadata.json").read_text())) == expected
    assert shard_bytes(tmp_path / "out") == shard_bytes(tmp_path / "python")
    assert expected["pad_tokens"] == 572 and len(expected["shards"]) == 36


def test_the_gpu_engine_on_the_cpu_packs_the_same_bytes(spark, tmp_path, mixture, default_run):
    """pack.engine gpu on NumPy in Spark's Python workers: the same shards as the cpu engine."""
    output, _ = default_run
    run_job(spark, mixture, tmp_path / "gpu", "pack.partitions=3", "pack.engine=gpu", "pack.gpu_device=cpu")
    assert shard_bytes(tmp_path / "gpu") == shard_bytes(output)
    assert comparable(json.loads((tmp_path / "gpu" / "metadata.json").read_text())) == \
        comparable(json.loads((output / "metadata.json").read_text()))


def test_job_output_folder(default_run):
    output, stats = default_run
    names = sorted(p.name for p in output.iterdir())
    assert names == ["config.json", "documents", "metadata.json"] + [pack.shard_name(i) for i in range(36)] + ["stats.json"]
    assert stats == json.loads((output / "stats.json").read_text())
    assert (stats["documents"], stats["empty_documents"], stats["shards"]) == (670, 27, 36)
    assert (stats["rows"], stats["dropped_tokens"], stats["documents_dropped"]) == (573, 1477, 3)


def test_documents_index_maps_the_stream_to_positions(spark, default_run, cc_texts):
    output, _ = default_run
    index = spark.read.parquet(str(output / "documents")).orderBy("doc_index").collect()
    kept = [i for i, t in enumerate(cc_texts) if t]
    assert [r["position"] for r in index] == [10 * i for i in kept]
    assert [r["id"] for r in index][:2] == [f"cc-{kept[0]}", f"cc-{kept[1]}"]
    assert all(a["token_start"] + a["tokens"] == b["token_start"] for a, b in zip(index, index[1:]))
    assert [r["shard"] for r in index[-3:]] == [None] * 3  # they start in the dropped tail
    doc = index[300]
    row = (doc["token_start"] % (16 * 2048)) // 2048
    assert 300 in pack.TokenShards(output).row_documents(doc["shard"], row)
    texts = [gpt2.decode(tokens.tolist()) for _, tokens, _ in pack.TokenShards(output).documents()]
    assert texts[300] == cc_texts[kept[300]]


def test_partitioning_never_changes_the_bytes(spark, tmp_path, plain_folder, cc_texts):
    """File order (path, row) without a position column; 1 vs 3 sort partitions, and input
    splits by row group (small maxPartitionBytes) against whole files."""
    run_job(spark, plain_folder, tmp_path / "one", "pack.partitions=1")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "100k")
    try:
        run_job(spark, plain_folder, tmp_path / "three", "pack.partitions=3")
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert shard_bytes(tmp_path / "one") == shard_bytes(tmp_path / "three")
    in_file_order = [t for part in range(4) for t in cc_texts[part::4]]
    expected = pack.pack_texts(in_file_order, tmp_path / "python", rows_per_shard=16)
    assert comparable(json.loads((tmp_path / "three" / "metadata.json").read_text())) == expected
    assert documents_digest(spark, tmp_path / "one") == documents_digest(spark, tmp_path / "three")
    assert documents_digest(spark, tmp_path / "three")[1] == PINNED_FILE_ORDER_DOCUMENTS


@pytest.mark.parametrize("positions,message", [([1, 2, 2], "not unique"), ([1, None, 3], "null order key"),
                                                ([1.0, 2.0, 3.0], "must be an integer")])
def test_an_undefined_order_is_refused(spark, tmp_path, positions, message):
    pq.write_table(pa.table({"position": positions, "text": ["a", "b", "c"]}), tmp_path / "in.parquet")
    with pytest.raises(PackInputError, match=message):
        run_job(spark, tmp_path / "in.parquet", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_mixture_folder_is_refused_with_the_way_out(spark, tmp_path):
    mixture = tmp_path / "mix"
    (mixture / "documents").mkdir(parents=True)
    pq.write_table(pa.table({"position": [0], "text": ["a"]}), mixture / "documents" / "part-0.parquet")
    (mixture / "manifest.json").write_text("{}\n")
    with pytest.raises(PackInputError, match=f"pass its documents: {mixture}/documents"):
        run_job(spark, mixture, tmp_path / "out")


def test_cli_errors_before_spark_starts(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "jobs" / "pack.py"), "--input", str(tmp_path / "missing")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "pack.py: error: input not found" in result.stderr


def documents_digest(spark, output) -> tuple[list, str]:
    """(schema as (name, type, nullable), sha256 of every row in doc_index order) of documents/."""
    frame = spark.read.parquet(str(output / "documents"))
    schema = [(f.name, f.dataType.simpleString(), f.nullable) for f in frame.schema.fields]
    rows = [[v.rsplit("/", 1)[-1] if k == "source_file" else v for k, v in r.asDict().items()]
            for r in frame.orderBy("doc_index").collect()]  # a file's name, not its tmp path
    return schema, hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def metadata_digest(output) -> str:
    meta = comparable(json.loads((output / "metadata.json").read_text()))
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()


# Digests of what the job wrote on the real CC mixture before the job was rewritten for speed
# (row-by-row RDD, 2026-12-07): the rewrite must write the same shards, metadata and index.
PINNED_SCHEMA = [("doc_index", "bigint", True), ("position", "bigint", True), ("id", "string", True),
                 ("token_start", "bigint", True), ("tokens", "bigint", True), ("shard", "int", True),
                 ("doc_hash", "bigint", True)]
PINNED_METADATA = "372c5bc4d2557878878ade7aa0f3f0db02b549debe851e5abae240ea40adf1d0"
PINNED_DOCUMENTS = "560c49fc48713aa76360258df3cc09971cf3ec562f7a74d8166a8193e0500891"
PINNED_FILE_ORDER_DOCUMENTS = "69e87eaf904a16ae169bbb519d6e1dcf41977368f9bcdfe708eb126ea6a5d04d"


def test_output_is_pinned_on_real_data(spark, default_run):
    output, stats = default_run
    assert documents_digest(spark, output) == (PINNED_SCHEMA, PINNED_DOCUMENTS)
    assert metadata_digest(output) == PINNED_METADATA  # every shard's sha256 is in it


@pytest.fixture(scope="module")
def sorted_mixture(tmp_path_factory, cc_texts):
    """The same mixture as jobs/mix.py writes it: each file a range of positions, sorted, in
    row groups of 100 rows."""
    folder = tmp_path_factory.mktemp("sorted_mixture")
    for part, rows in enumerate([range(0, 250), range(250, 500), range(500, len(cc_texts))]):
        pq.write_table(pa.table({"position": [10 * i for i in rows], "id": [f"cc-{i}" for i in rows],
                                 "text": [cc_texts[i] for i in rows]}), folder / f"part-{part}.parquet",
                       row_group_size=100)
    return folder


def test_a_sorted_mixture_is_read_without_a_sort_and_packs_the_same(spark, tmp_path, sorted_mixture, mixture):
    docs, keys = ordered_documents(spark, [str(sorted_mixture)])
    runs = presorted_runs(spark, docs, keys, 3)
    groups = [group for run in runs for group in run]
    assert len(runs) == 3 and [(g.first, g.last) for g in groups][:2] == [(0, 990), (1000, 1990)]
    assert len(groups) == 8 and all(a.last < b.first for a, b in zip(groups, groups[1:]))
    assert presorted_runs(spark, *ordered_documents(spark, [str(mixture)]), 3) is None  # shuffled files: Spark sorts
    run_job(spark, sorted_mixture, tmp_path / "out")
    assert documents_digest(spark, tmp_path / "out") == (PINNED_SCHEMA, PINNED_DOCUMENTS)
    assert metadata_digest(tmp_path / "out") == PINNED_METADATA
