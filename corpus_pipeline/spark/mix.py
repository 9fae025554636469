"""Building a weighted training mixture on Spark (GPT-3 section 2.2 and Appendix B).

Consumes the datasets of a `MixConfig`, Parquet only: `jobs/filter.py` outputs (their
`documents/`) and reference corpora imported by `jobs/import_reference.py` (or any folder
with id and text). Produces, in the output folder:
  documents/     Parquet `position, dataset, id, epoch, tokens, text`: the mixture in
                 training order, position 0..n-1, split evenly over a fixed number of
                 files named part-00000.parquet... and sorted by position inside each
                 (written by pyarrow in the tasks: byte-identical on a rerun)
  manifest.json  the plan as realised: per dataset documents and tokens available and
                 drawn, epochs, input fingerprints; seed, tokenizer, code version, config
The rules (weights, passes, boundary document, order) are in `corpus_pipeline.mix`.
Nothing is collected to the driver but per-bucket totals: prefix sums over a seeded order
are computed per hash range (`order_buckets` of them) plus the sums of earlier ranges.
"""
from __future__ import annotations

import json
import uuid
from typing import Iterator

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark import StorageLevel
from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .. import code_version, gpt2, mix
from ..config import MixConfig, MixDataset, to_dict
from .output import AtomicOutput
from ..errors import UserError

MANIFEST = "manifest.json"
DOCUMENTS = "documents"
OUTPUT_COLUMNS = ["position", "dataset", "id", "epoch", "tokens", "text"]
ARROW_SCHEMA = pa.schema([("position", pa.int64()), ("dataset", pa.string()), ("id", pa.string()),
                          ("epoch", pa.int32()), ("tokens", pa.int64()), ("text", pa.string())])
# Rows per Parquet row group: about 30 MB of text at GPT-3's ~4 kB documents, what one
# writing task holds in memory at a time.
ROWS_PER_GROUP = 8192


class MixPlanError(UserError, ValueError):
    """The plan on the measured tokens has errors (e.g. weights far from summing to 1)."""


# ---- inputs


def dataset_frame(spark, dataset: MixDataset):
    """(id, text) of one dataset."""
    return spark.read.parquet(dataset.documents()).select("id", "text")


def documents_frame(spark, cfg: MixConfig):
    """(dataset, id, text, tokens) of every dataset, with GPT-2 token counts."""
    count = F.udf(lambda text: gpt2.count_tokens(text or ""), T.LongType())
    frames = [dataset_frame(spark, d).select(F.lit(d.name).alias("dataset"), "id", "text")
              for d in cfg.datasets]
    docs = frames[0]
    for frame in frames[1:]:
        docs = docs.unionByName(frame)
    return docs.withColumn("tokens", count("text"))


def measure(docs) -> dict[str, dict]:
    """Per dataset: documents, tokens, ids and an order-free fingerprint of (id, text)."""
    fingerprint = F.sum(F.xxhash64("id", "text").cast("decimal(38,0)"))
    rows = docs.groupBy("dataset").agg(
        F.count("*").alias("docs"), F.countDistinct("id").alias("distinct_ids"),
        F.sum(F.when(F.col("tokens") == 0, 1).otherwise(0)).alias("empty_docs"),
        F.sum("tokens").alias("tokens"), F.max("tokens").alias("max_doc_tokens"),
        fingerprint.alias("fingerprint")).collect()
    return {r["dataset"]: {"docs": r["docs"] - r["empty_docs"], "empty_docs": r["empty_docs"],
                           "duplicate_ids": r["docs"] - r["distinct_ids"], "tokens": r["tokens"] or 0,
                           "max_doc_tokens": r["max_doc_tokens"] or 0,
                           "fingerprint": format(int(r["fingerprint"] or 0) % 2**64, "016x")} for r in rows}


# ---- drawing


def literal_map(values: dict):
    """A map column from a small dict; integers as longs (token counts pass 2^31)."""
    def literal(value):
        return F.lit(value).cast("long") if isinstance(value, int) else F.lit(value)
    return F.create_map(*[x for key, value in values.items() for x in (F.lit(key), literal(value))])


def with_prefix_sum(frame, groups: list[str], bucket: str, order: list[str], value, name: str):
    """(frame with `name`: the sum of `value` over the rows before this one in its group,
    in (bucket, *order) order; the grand total of `value`). Buckets must be monotone in the
    order. Only per-bucket totals reach the driver; each window sorts one bucket of one group."""
    spark = frame.sparkSession
    totals = frame.groupBy(*groups, bucket).agg(F.sum(value).alias("_total")).collect()
    offsets = mix.group_offsets((tuple(r[g] for g in groups), r[bucket], r["_total"]) for r in totals)
    schema = T.StructType([*[frame.schema[g] for g in groups], frame.schema[bucket],
                           T.StructField("_offset", T.LongType())])
    offset_frame = spark.createDataFrame([(*group, b, offset) for (group, b), offset in offsets.items()], schema)
    before = Window.partitionBy(*groups, bucket).orderBy(*order).rowsBetween(Window.unboundedPreceding, -1)
    summed = (frame.join(F.broadcast(offset_frame), [*groups, bucket])
              .withColumn(name, F.col("_offset") + F.coalesce(F.sum(value).over(before), F.lit(0)))
              .drop("_offset"))
    return summed, sum(r["_total"] for r in totals)


def drawn_documents(docs, plan: mix.Plan, cfg: MixConfig):
    """The documents each pass takes, with `epoch` (the pass) and `tokens_before` (tokens
    of that pass before the document in its seeded order)."""
    passes = {d.name: d.passes for d in plan.datasets if d.passes}
    key = F.udf(lambda name, p, doc_id: mix.order_key(plan.seed, name, p, doc_id), T.LongType())
    shift = mix.KEY_BITS - (cfg.order_buckets.bit_length() - 1)
    repeated = (docs.filter(F.col("dataset").isin(list(passes)))
                .withColumn("epoch", F.explode(F.sequence(F.lit(0), literal_map(passes)[F.col("dataset")] - 1)))
                .withColumn("draw_key", key("dataset", "epoch", "id"))
                .withColumn("draw_bucket", F.shiftright("draw_key", shift).cast("int"))
                .persist(StorageLevel.MEMORY_AND_DISK))
    ordered, _ = with_prefix_sum(repeated, ["dataset", "epoch"], "draw_bucket", ["draw_key", "id"],
                              F.col("tokens"), "tokens_before")
    full = literal_map({d.name: d.full_passes for d in plan.datasets})[F.col("dataset")]
    remainder = literal_map({d.name: d.remainder_tokens for d in plan.datasets})[F.col("dataset")]
    taken = (F.col("epoch") < full) | ((F.col("epoch") == full) & (F.col("tokens_before") < remainder))
    return ordered.filter(taken).drop("draw_key", "draw_bucket")


def ordered_mixture(drawn, plan: mix.Plan, cfg: MixConfig):
    """(mixture with `position`, rows): documents sorted by where their stream puts them
    in training (mix.stream_fraction), ties broken by a seeded hash."""
    available = literal_map({d.name: d.tokens_available for d in plan.datasets})[F.col("dataset")]
    target = literal_map({d.name: d.tokens_drawn for d in plan.datasets})[F.col("dataset")]
    tie = F.udf(lambda name, p, doc_id: mix.tie_key(plan.seed, name, p, doc_id), T.LongType())
    # Same arithmetic as mix.stream_fraction: exact integers, then one double division.
    fraction = (F.col("epoch").cast("long") * available + F.col("tokens_before")).cast("double") / target
    placed = (drawn.withColumn("fraction", fraction).withColumn("tie", tie("dataset", "epoch", "id"))
              .withColumn("all", F.lit(0))
              .withColumn("place_bucket", F.least(F.floor(F.col("fraction") * cfg.order_buckets),
                                                  F.lit(cfg.order_buckets - 1)).cast("int"))
              .persist(StorageLevel.MEMORY_AND_DISK))  # read twice: bucket totals, then the windows
    numbered, rows = with_prefix_sum(placed, ["all"], "place_bucket", ["fraction", "tie", "dataset", "id", "epoch"],
                                     F.lit(1).cast("long"), "position")
    return numbered.select(*OUTPUT_COLUMNS), rows


# ---- writing


def routing_values(spark, files: int) -> list[int]:
    """For each file i, a long whose Spark hash partitioning (pmod(murmur3, files)) is i:
    repartitioning on it puts exactly the rows of file i into partition i."""
    candidates = spark.range(0, 64 * files).select("id", F.expr(f"pmod(hash(id), {files})").alias("partition"))
    first = {r["partition"]: r["first"] for r in candidates.groupBy("partition").agg(F.min("id").alias("first")).collect()}
    if len(first) != files:
        raise RuntimeError(f"no routing value for some of {files} output files")  # a bug: 64 tries each
    return [first[i] for i in range(files)]


def write_mixture(spark, mixture, rows: int, folder: str, files: int):
    """Parquet files part-00000.parquet..., file i holding positions [i*n/files, (i+1)*n/files)
    sorted: the bytes depend only on the rows, not on how the input was split."""
    # Long literals: Spark hashes an int and a long differently. Integer division, as mix.file_index.
    routes = F.array(*[F.lit(v).cast("long") for v in routing_values(spark, files)])
    routed = mixture.withColumn("_file", F.expr(f"(position * {files}) div {rows}").cast("int"))
    sorted_files = (routed.repartition(files, F.element_at(routes, F.col("_file") + 1))
                    .sortWithinPartitions("position").select(*OUTPUT_COLUMNS, "_file"))
    fs, root = fsspec.core.url_to_fs(folder)
    fs.makedirs(root, exist_ok=True)
    written = sorted_files.rdd.mapPartitions(lambda part: write_part(folder, part)).collect()
    if sum(n for _, n in written) != rows:
        raise RuntimeError(f"wrote {sum(n for _, n in written)} rows of {rows}")  # a bug


def write_part(folder: str, part) -> Iterator[tuple[int, int]]:
    """Write one partition (the sorted rows of one file) with pyarrow; yield (file, rows).
    Not Spark's writer: parquet-mr lists each column's encodings in JVM hash order, which
    changes from run to run, so its files are not byte-identical across runs. Row groups
    hold exactly ROWS_PER_GROUP rows, whatever the batches Spark hands over."""
    writer = handle = target = None
    chunk, count, file_index = [], 0, None
    for row in part:
        if writer is None:
            file_index = row["_file"]
            target = f"{folder}/part-{file_index:05d}.parquet"
            # A hidden temporary name, renamed when complete: a failed or speculative task
            # attempt never leaves a partial part-*.parquet behind.
            scratch = f"{folder}/.part-{file_index:05d}.parquet.tmp-{uuid.uuid4().hex[:12]}"
            handle = fsspec.open(scratch, "wb").open()
            writer = pq.ParquetWriter(handle, ARROW_SCHEMA, compression="snappy")
        if row["_file"] != file_index:
            raise RuntimeError(f"partition holds rows of files {file_index} and {row['_file']}")  # a bug
        chunk.append(row)
        count += 1
        if len(chunk) == ROWS_PER_GROUP:
            write_rows(writer, chunk)
            chunk = []
    if writer is None:
        return
    write_rows(writer, chunk)
    writer.close()
    handle.close()
    fs, scratch_path = fsspec.core.url_to_fs(scratch)
    fs.mv(scratch_path, fsspec.core.url_to_fs(target)[1])
    yield file_index, count


def write_rows(writer, rows: list):
    if rows:
        columns = {name: [row[name] for row in rows] for name in OUTPUT_COLUMNS}
        writer.write_table(pa.Table.from_pydict(columns, schema=ARROW_SCHEMA), row_group_size=ROWS_PER_GROUP)


def realised(spark, folder: str) -> dict[str, dict]:
    """Per dataset, read back from the written Parquet: documents, tokens and rows per epoch."""
    rows = spark.read.parquet(folder).groupBy("dataset", "epoch").agg(
        F.count("*").alias("docs"), F.sum("tokens").alias("tokens")).collect()
    out: dict[str, dict] = {}
    for r in sorted(rows, key=lambda r: (r["dataset"], r["epoch"])):
        entry = out.setdefault(r["dataset"], {"docs": 0, "tokens": 0, "by_epoch": []})
        entry["docs"] += r["docs"]
        entry["tokens"] += r["tokens"]
        entry["by_epoch"].append({"epoch": r["epoch"], "docs": r["docs"], "tokens": r["tokens"]})
    return out


def build_mixture(spark, cfg: MixConfig) -> dict:
    """Measure, plan, draw, order and write the mixture atomically; return its manifest."""
    with AtomicOutput(spark, cfg.output, marker=MANIFEST) as out:
        docs = documents_frame(spark, cfg).persist(StorageLevel.MEMORY_AND_DISK)
        measured = measure(docs)  # counts the documents without a token, which are never drawn
        docs = docs.filter(F.col("tokens") > 0)
        check_inputs(cfg, measured)
        plan = mix.plan_mixture(cfg, {name: m["tokens"] for name, m in measured.items()})
        if plan.errors:
            raise MixPlanError("; ".join(plan.errors))
        mixture, rows = ordered_mixture(drawn_documents(docs, plan, cfg), plan, cfg)
        files = mix.output_files(cfg)
        write_mixture(spark, mixture, rows, out.path(DOCUMENTS), files)
        # No timing inside: the manifest, like the Parquet, is the same bytes on a rerun.
        manifest = manifest_dict(cfg, plan, measured, realised(spark, out.path(DOCUMENTS)), files)
        out.write_text(MANIFEST, json.dumps(manifest, indent=2) + "\n")
    spark.catalog.clearCache()
    return manifest


def check_inputs(cfg: MixConfig, measured: dict):
    for d in cfg.datasets:
        m = measured.get(d.name)
        if m is None or m["tokens"] == 0:
            raise MixPlanError(f"dataset {d.name} ({d.format} {d.path}) has no document with text")
        if m["duplicate_ids"]:  # the draw hashes ids: two documents with one id would move together
            raise MixPlanError(f"dataset {d.name}: {m['duplicate_ids']} duplicate document ids")


def manifest_dict(cfg: MixConfig, plan: mix.Plan, measured: dict, drawn: dict, files: int) -> dict:
    """The plan as realised: planned and drawn figures side by side, per dataset."""
    planned = {d["name"]: d for d in mix.plan_dict(plan)["datasets"]}
    datasets = []
    for d in cfg.datasets:
        m, r = measured[d.name], drawn.get(d.name, {"docs": 0, "tokens": 0, "by_epoch": []})
        datasets.append(dict(
            planned[d.name], format=d.format, path=d.path, tokens_declared=d.tokens or None,
            docs_available=m["docs"], empty_docs_skipped=m["empty_docs"], max_doc_tokens=m["max_doc_tokens"],
            fingerprint=m["fingerprint"], docs_drawn=r["docs"], tokens_drawn_realised=r["tokens"],
            epochs_realised=round(r["tokens"] / m["tokens"], 6), share_realised=None, by_epoch=r["by_epoch"]))
    total = sum(d["tokens_drawn_realised"] for d in datasets)
    for d in datasets:
        d["share_realised"] = round(d["tokens_drawn_realised"] / total, 6)
    return {
        "plan": {k: v for k, v in mix.plan_dict(plan).items() if k != "datasets"},
        "datasets": datasets,
        "docs": sum(d["docs_drawn"] for d in datasets), "tokens": total,
        "seed": cfg.seed, "files": files,
        "columns": OUTPUT_COLUMNS,
        "tokenizer": {"name": gpt2.NAME, "vocabulary_sha256": gpt2.vocabulary_hash(),
                      "tokens": "document text only, no <|endoftext|> separator"},
        "code_version": code_version(),
        "config": to_dict(cfg),
    }
