"""Fuzzy deduplication on Spark (GPT-3 Appendix A), within a dataset and against references.

Consumes target documents (`id`, `text`, optional `quality_score`) and optional reference
documents (`id`, `text`, e.g. WebText imported by jobs/import_reference.py); produces the targets with `dedup_reason`
(`duplicate`, `duplicate_of_reference` or null) and `duplicate_of`, plus a report.

Two ways to find near-duplicate pairs, then the same clustering:
- `bands` (default): 10 MinHash functions over word n-gram shingles, banded
  (bands x rows = 10); buckets above `max_bucket` are linked as stars to their smallest
  member, so no bucket costs more than linear; every candidate is verified on its exact
  shingle Jaccard. Short texts use shorter shingles and may be signed at two sizes
  (`dedup.shingle_sizes`): buckets are per size, and a pair is verified at the largest size
  both are signed at. Texts are signed in Arrow batches (`mapInArrow`, `dedup.sign_batch`).
- `spark_minhashlsh` (GPT-3-faithful): Spark ML MinHashLSH with 10 OR-ed hash tables over
  the classifier's Tokenizer + HashingTF features; pairs from `approxSimilarityJoin`.
Clusters are the connected components of the verified pairs, labelled by their smallest
node: up to DRIVER_COMPONENTS_MAX_PAIRS pairs by union-find on the driver (verified pairs are
near-duplicates: they grow with the duplicates, not the corpus; documents and signatures are
never collected), beyond that by min-label propagation in Spark (same labels).
A cluster holding a reference document loses all
its targets; otherwise it keeps its best target (highest quality score, then smallest id).
"""
from __future__ import annotations

import json

from pyspark.ml import Pipeline
from pyspark.ml.feature import HashingTF, MinHashLSH, Tokenizer
from pyspark.sql import Window
from pyspark import StorageLevel
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .. import code_version, config, dedup
from ..config import DedupConfig
from .imports import imported_documents
from .output import AtomicOutput
from .stages import StageResult

TARGET, REFERENCE = 0, 1
# Shingles travel as int32 (the bits of the uint32 hashes: only their equality matters).
# One row per (document, shingle size) of dedup.shingle_sizes.
SIGNED = T.StructType([T.StructField("node", T.StringType()), T.StructField("role", T.IntegerType()),
                       T.StructField("ngram", T.IntegerType()),
                       T.StructField("shingles", T.ArrayType(T.IntegerType())),
                       T.StructField("bands", T.ArrayType(T.LongType()))])
# The candidate pairs of a sorted bucket `members` of at most max_bucket nodes: every pair (x < y).
ALL_PAIRS = ("flatten(transform(members, (x, i) -> transform(slice(members, i + 2, size(members)), "
                   "y -> named_struct('a', x, 'b', y))))")


def graph_nodes(targets, references):
    """One row per document: node key (ids of targets and references may collide), role, score."""
    score = F.col("quality_score") if "quality_score" in targets.columns else F.lit(None)
    nodes = targets.select(F.concat(F.lit("t:"), "id").alias("node"), "id", "text",
                           F.lit(TARGET).alias("role"), score.cast("double").alias("score"))
    if references is not None:
        nodes = nodes.unionByName(references.select(
            F.concat(F.lit("r:"), "id").alias("node"), "id", "text", F.lit(REFERENCE).alias("role"),
            F.lit(None).cast("double").alias("score")))
    return nodes


def batch_signer(cfg: DedupConfig):
    """Arrow batches of (node, role, text) -> batches of SIGNED rows, one per signature of a
    text with a word, signed by dedup.sign_batch (texts cross to Python a batch at a time,
    not row by row)."""
    def sign(batches):
        import numpy as np
        import pyarrow as pa

        schema = pa.schema([("node", pa.string()), ("role", pa.int32()), ("ngram", pa.int32()),
                            ("shingles", pa.list_(pa.int32())), ("bands", pa.list_(pa.int64()))])
        for batch in batches:
            signed = dedup.sign_batch(batch.column("text").to_pylist(), cfg)
            offsets = np.zeros(len(signed) + 1, np.int32)
            np.cumsum([len(array) for _, _, array, _ in signed], out=offsets[1:])
            flat = np.concatenate([array for _, _, array, _ in signed] or [np.empty(0, np.uint32)]).view(np.int32)
            taken = pa.array([i for i, _, _, _ in signed], pa.int64())
            yield pa.RecordBatch.from_arrays(
                [batch.column("node").take(taken), batch.column("role").take(taken),
                 pa.array([n for _, n, _, _ in signed], pa.int32()),
                 pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat)),
                 pa.array([keys for _, _, _, keys in signed], pa.list_(pa.int64()))], schema=schema)

    return sign


def signed_documents(nodes, cfg: DedupConfig):
    """(node, role, ngram, shingles, bands) of every signature of every node whose text has a word."""
    return nodes.select("node", F.col("role").cast("int").alias("role"), "text").mapInArrow(
        batch_signer(cfg), SIGNED)


def banded_candidates(signed, cfg: DedupConfig):
    """Distinct candidate pairs (a < b) from shared band keys at one shingle size; big buckets
    become stars. Each bucket's size and smallest member come from a window over it, so a big
    bucket is never gathered into one row; a small one is (at most max_bucket members)."""
    bucket = Window.partitionBy("ngram", "band", "key")
    keys = (signed.select("node", "ngram", F.posexplode("bands").alias("band", "key"))
            .withColumn("n", F.count("*").over(bucket)).withColumn("hub", F.min("node").over(bucket))
            .filter(F.col("n") > 1))
    stars = (keys.filter((F.col("n") > cfg.max_bucket) & (F.col("node") != F.col("hub")))
             .select(F.col("hub").alias("a"), F.col("node").alias("b")))
    pairs = (keys.filter(F.col("n") <= cfg.max_bucket).groupBy("ngram", "band", "key")
             .agg(F.sort_array(F.collect_list("node")).alias("members"))
             .select(F.explode(F.expr(ALL_PAIRS)).alias("pair")).select("pair.a", "pair.b"))
    return pairs.unionByName(stars).distinct()


def banded_edges(nodes, cfg: DedupConfig):
    signed = signed_documents(nodes, cfg).cache()
    candidates = not_both_references(banded_candidates(signed, cfg)).cache()
    sets = signed.select("node", "ngram", "shingles")
    # Shingles are distinct within a document: |A u B| = |A| + |B| - |A n B|.
    common = F.size(F.array_intersect("sa", "sb"))
    # Every shingle size both are signed at (at most two), then the largest one decides.
    verified = (candidates.join(sets.withColumnRenamed("node", "a").withColumnRenamed("shingles", "sa"), "a")
                .join(sets.withColumnRenamed("node", "b").withColumnRenamed("shingles", "sb"), ["b", "ngram"])
                .withColumn("jaccard", common / (F.size("sa") + F.size("sb") - common))
                .groupBy("a", "b").agg(F.max_by("jaccard", "ngram").alias("jaccard"))
                .filter(F.col("jaccard") >= cfg.jaccard_threshold))
    return verified, {"shingled_docs": signed.select("node").distinct().count(),
                      "candidate_pairs": candidates.count()}


def minhashlsh_edges(nodes, cfg: DedupConfig):
    """GPT-3's recipe: Spark ML MinHashLSH, 10 OR-ed tables, on Tokenizer + HashingTF features."""
    # Texts without a word would all share Tokenizer's one empty token: leave them out.
    worded = nodes.filter(F.trim(F.coalesce("text", F.lit(""))) != "")
    features = Pipeline(stages=[
        Tokenizer(inputCol="text", outputCol="words"),
        HashingTF(inputCol="words", outputCol="features", numFeatures=cfg.num_features, binary=True),
    ]).fit(worded).transform(worded).select("node", "role", "features").cache()
    lsh = MinHashLSH(inputCol="features", outputCol="hashes", numHashTables=cfg.num_hashes, seed=cfg.seed)
    model = lsh.fit(features)
    hashed = model.transform(features).cache()
    # What approxSimilarityJoin must compare: pairs sharing a hash, summed over the 10 tables
    # (a pair in several tables counts several times). The join keeps distance < 1 - threshold.
    hash_values = F.udf(lambda hashes: [float(h[0]) for h in hashes], T.ArrayType(T.DoubleType()))
    per_table = hashed.select(F.posexplode(hash_values("hashes")).alias("table", "value"))
    bucket_pairs = per_table.groupBy("table", "value").count().select(
        F.sum(F.col("count") * (F.col("count") - 1) / 2).alias("pairs")).first()["pairs"] or 0
    joined = model.approxSimilarityJoin(hashed, hashed, 1.0 - cfg.jaccard_threshold, distCol="distance")
    edges = (joined.select(F.col("datasetA.node").alias("a"), F.col("datasetB.node").alias("b"),
                           (1.0 - F.col("distance")).alias("jaccard"))
             .filter(F.col("a") < F.col("b")))
    return not_both_references(edges), {"shingled_docs": features.count(), "candidate_pairs": int(bucket_pairs)}


def not_both_references(pairs):
    """Reference-reference pairs are irrelevant (references are never removed) and would
    only merge clusters."""
    return pairs.filter(~(F.col("a").startswith("r:") & F.col("b").startswith("r:")))


# Up to this many verified pairs, clusters are found on the driver: the pairs are near-duplicates,
# so their number grows with the duplicates, not the corpus (1M pairs: ~100 MB of driver memory).
DRIVER_COMPONENTS_MAX_PAIRS = 1_000_000


def components(edges, pairs: int, max_iterations: int):
    """(node, component) for every node with an edge; component = smallest node key in it.
    A few pairs (`pairs` of them) are collected and joined by union-find; more stay in Spark."""
    if pairs > DRIVER_COMPONENTS_MAX_PAIRS:
        return connected_components(edges, max_iterations)
    labels = dedup.smallest_member((r.a, r.b) for r in edges.select("a", "b").toLocalIterator())
    return edges.sparkSession.createDataFrame(sorted(labels.items()), "node string, component string")


def connected_components(edges, max_iterations: int):
    """(node, component) for every node with an edge; component = smallest node key in it."""
    both = edges.select("a", "b").unionByName(edges.select(F.col("b").alias("a"), F.col("a").alias("b")))
    both = both.cache()
    labels = (both.groupBy("a").agg(F.min("b").alias("b"))
              .select(F.col("a").alias("node"), F.least("a", "b").alias("label")).localCheckpoint())
    for _ in range(max_iterations):
        neighbour = (both.join(labels.withColumnRenamed("node", "b"), "b")
                     .groupBy("a").agg(F.min("label").alias("neighbour_label")).withColumnRenamed("a", "node"))
        updated = (labels.join(neighbour, "node", "left")
                   .select("node", F.least("label", F.coalesce("neighbour_label", "label")).alias("label"))
                   .localCheckpoint())
        changed = updated.join(labels.withColumnRenamed("label", "old"), "node").filter(
            F.col("label") != F.col("old")).count()
        labels = updated
        if changed == 0:
            return labels.withColumnRenamed("label", "component")
    raise RuntimeError(f"connected components did not converge in {max_iterations} iterations")


def cluster_decisions(components, nodes):
    """(id, dedup_reason, duplicate_of) for each target that a cluster removes."""
    members = components.join(nodes.select("node", "id", "role", "score"), "node")
    # A reference first if the cluster has one, else the best target: highest score, then id.
    order = Window.partitionBy("component").orderBy(F.col("role").desc(), F.col("score").desc_nulls_last(), "id")
    ranked = members.withColumn("order", F.row_number().over(order))
    keeper = ranked.filter(F.col("order") == 1).select("component", F.col("id").alias("keeper"),
                                                       F.col("role").alias("keeper_role"))
    removed = ranked.filter((F.col("order") > 1) & (F.col("role") == TARGET)).join(keeper, "component")
    reason = F.when(F.col("keeper_role") == REFERENCE, "duplicate_of_reference").otherwise("duplicate")
    return removed.select("id", reason.alias("dedup_reason"), F.col("keeper").alias("duplicate_of"))


def deduplicate(targets, references, cfg: DedupConfig):
    """Targets with `dedup_reason` and `duplicate_of` columns, and a report of the work done."""
    # Not cached: the signing reads the text once, and what follows reads ids and scores only.
    nodes = graph_nodes(targets, references)
    find_edges = banded_edges if cfg.mode == "bands" else minhashlsh_edges
    edges, report = find_edges(nodes, cfg)
    edges = edges.cache()
    verified_pairs = edges.count()
    decisions = cluster_decisions(components(edges, verified_pairs, cfg.max_iterations), nodes).cache()
    tagged = targets.join(decisions, "id", "left")
    docs = targets.count()
    removed = {r["dedup_reason"]: r["count"] for r in decisions.groupBy("dedup_reason").count().collect()}
    report.update(mode=cfg.mode, docs=docs, references=nodes.filter(F.col("role") == REFERENCE).count(),
                  verified_pairs=verified_pairs, removed=removed,
                  removed_fraction=round(sum(removed.values()) / docs, 4) if docs else 0.0)
    report["candidate_pairs_per_doc"] = round(report["candidate_pairs"] / max(report["shingled_docs"], 1), 3)
    report["unshingled_docs"] = docs + report["references"] - report.pop("shingled_docs")
    return tagged, report


def reference_documents(spark, cfg: DedupConfig):
    """(id, text) of the configured reference datasets (imported Parquet), or None."""
    if not cfg.references:
        return None
    return imported_documents(spark, cfg.references).select("id", "text")


def dedup_stage(spark, docs, cfg: DedupConfig):
    """The filter's dedup stage: drops `duplicate` and `duplicate_of_reference` (detail: the keeper)."""
    tagged, report = deduplicate(docs, reference_documents(spark, cfg), cfg)
    decided = (tagged.withColumn("reason", F.col("dedup_reason"))
               .withColumn("detail", F.col("duplicate_of")).drop("dedup_reason"))
    return StageResult.split(decided, report)


def dedup_job(spark, cfg, _prepared=None) -> dict:
    """jobs/dedup.py: dedup Parquet documents; write documents/, dropped/ and stats.json."""
    with AtomicOutput(spark, cfg.output) as out:
        targets = spark.read.parquet(cfg.input[0])
        for path in cfg.input[1:]:
            targets = targets.unionByName(spark.read.parquet(path), allowMissingColumns=True)
        tagged, report = deduplicate(targets, reference_documents(spark, cfg.dedup), cfg.dedup)
        tagged = tagged.persist(StorageLevel.DISK_ONLY)  # whole texts: see stages.StageResult.split
        tagged.filter(F.col("dedup_reason").isNull()).drop("dedup_reason", "duplicate_of").write.parquet(
            out.path("documents"))
        tagged.filter(F.col("dedup_reason").isNotNull()).withColumnRenamed("dedup_reason", "reason").write.parquet(
            out.path("dropped"))
        report["kept"] = spark.read.parquet(out.path("documents")).count()
        out.write_text("config.json", json.dumps(config.to_dict(cfg), indent=2) + "\n")
        out.write_text("stats.json", json.dumps(dict(report, code_version=code_version()), indent=2) + "\n")
    return report
