"""Benchmark decontamination on Spark (GPT-3 Appendix C), exact, with a Table C.1 report.

Consumes training documents (`id`, `text`, optionally a dataset column such as `source`)
and the benchmarks declared in `DecontamConfig.benchmarks`; produces
- the same documents with `text` cleaned where grams collided, and `decontam_pieces`,
  `decontam_chars_removed`, `decontam_reason` (null or `contaminated`);
- one row per removed span (the window around colliding grams, or a short piece dropped
  with it), with the colliding grams and the benchmark examples they come from;
- a report: per benchmark, examples dirty / clean / too short to check; per dataset,
  documents kept, modified and removed.

How, and why exact:
1. Benchmark examples -> (64-bit gram hash, gram string, benchmark, example), one task per file.
2. The distinct benchmark hashes, sorted, are broadcast; each document's grams are probed
   against them in its task (a map-side hash semi-join: only the colliding grams leave
   Python, never one row per word).
3. Colliding grams are joined to the benchmark grams on (hash, gram string): the string
   equality is the verification, so a hash collision can never cut text.
4. The frequency cut-off counts distinct documents per gram over the whole run (a Spark
   aggregation); grams above `max_doc_frequency` are ignored everywhere.
5. Documents with a remaining gram go through `decontam.cut` (pure Python); all others are
   untouched (1 piece). Documents of any length, whole books included, are one row each.
"""
from __future__ import annotations

import json
import time

import fsspec
import numpy as np
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .. import code_version, config, decontam
from ..config import BenchmarkSource, DecontamConfig
from .output import AtomicOutput
from .stages import StageResult

GRAMS = T.ArrayType(T.StructType([T.StructField("h", T.LongType()), T.StructField("gram", T.StringType())]))
EXAMPLE_SCHEMA = T.StructType([T.StructField("benchmark", T.StringType()), T.StructField("example", T.StringType()),
                               T.StructField("grams", GRAMS)])
HITS = T.ArrayType(T.StructType([T.StructField(name, kind) for name, kind in (
    ("h", T.LongType()), ("gram", T.StringType()), ("start", T.IntegerType()), ("end", T.IntegerType()))]))
SPAN = T.StructType([T.StructField("kind", T.StringType()), T.StructField("start", T.IntegerType()),
                     T.StructField("end", T.IntegerType()), T.StructField("grams", GRAMS)])
CUT = T.StructType([T.StructField("text", T.StringType()), T.StructField("pieces", T.IntegerType()),
                    T.StructField("chars_removed", T.IntegerType()), T.StructField("contaminated", T.BooleanType()),
                    T.StructField("spans", T.ArrayType(SPAN))])
DECONTAM_COLUMNS = ["decontam_pieces", "decontam_chars_removed", "decontam_reason"]
CONTAMINATED = "contaminated"


# ---- benchmark side

def example_rows(source: BenchmarkSource, n: int):
    with fsspec.open(source.path, "r", encoding="utf-8") as f:  # local, HDFS or S3 alike
        data = f.read()
    for example in decontam.load_examples(source.name, data, source.format, source.text_fields, source.id_field):
        yield example.benchmark, example.example, sorted(decontam.example_grams(example, n).items())


def benchmark_examples(spark, cfg: DecontamConfig):
    """(benchmark, example, grams) for every example of every benchmark; one task per file."""
    sources = list(cfg.benchmarks)
    rdd = spark.sparkContext.parallelize(sources, max(len(sources), 1)).flatMap(lambda s: example_rows(s, cfg.n))
    return spark.createDataFrame(rdd, EXAMPLE_SCHEMA)


def benchmark_grams(examples):
    return examples.select("benchmark", "example", F.explode("grams").alias("g")).select(
        "g.h", "g.gram", "benchmark", "example")


def hash_table(spark, grams):
    """The sorted distinct benchmark hashes, broadcast: 8 bytes a gram (1.9 MB for LAMBADA)."""
    hashes = np.array([row.h for row in grams.select("h").distinct().collect()], dtype=np.int64)
    return spark.sparkContext.broadcast(np.sort(hashes))


# ---- training side

def hits_udf(table, n: int):
    def hits(text):
        return decontam.colliding_grams(text or "", n, table.value)

    return F.udf(hits, HITS)


def verified_hits(docs, grams, table, n: int):
    """(id, h, gram, start, end) of each training gram equal, string and hash, to a benchmark gram."""
    # Cached: the probe is the one pass over all the text; everything after reads this.
    probed = docs.select("id", F.explode(hits_udf(table, n)("text")).alias("m")).select("id", "m.*").cache()
    return probed.join(grams.select("h", "gram").distinct(), ["h", "gram"], "left_semi"), probed


def gram_frequency(hits):
    """(h, gram, docs): distinct training documents holding each matched gram, over the whole run."""
    return hits.groupBy("h", "gram").agg(F.countDistinct("id").alias("docs"))


def window_spans(result: decontam.Cut, hits) -> list[tuple]:
    """The removed spans of one cut; each window lists the (hash, gram) pairs inside it."""
    spans = [("window", s, e, sorted({(h, g) for h, g, gs, ge in hits if s <= gs and ge <= e}))
             for s, e in result.windows]
    return spans + [("short_piece", s, e, []) for s, e in result.short_pieces]


def cut_udf(cfg: DecontamConfig):
    def apply(text, hits):
        hits = [(h.h, h.gram, h.start, h.end) for h in hits]
        result = decontam.cut(text, [(s, e) for _, _, s, e in hits], cfg.window_chars, cfg.min_piece_chars,
                              cfg.max_pieces, cfg.piece_separator)
        return result.text, result.pieces, result.chars_removed, result.contaminated, window_spans(result, hits)

    return F.udf(apply, CUT)


def cut_documents(docs, hits, cfg: DecontamConfig):
    """(id, cut) for the documents with at least one remaining colliding gram."""
    per_doc = hits.groupBy("id").agg(F.collect_list(F.struct("h", "gram", "start", "end")).alias("hits"))
    return docs.select("id", "text").join(per_doc, "id").select("id", "text", cut_udf(cfg)("text", "hits").alias("cut"))


def decided_documents(docs, cuts):
    """The input rows, text cleaned for modified documents; a contaminated one keeps its text
    (it is dropped whole, and the text shows what was dropped)."""
    joined = docs.join(cuts.select("id", "cut"), "id", "left")
    modified = F.col("cut").isNotNull() & ~F.col("cut.contaminated")
    return (joined.withColumn("text", F.when(modified, F.col("cut.text")).otherwise(F.col("text")))
            .withColumn("decontam_pieces", F.coalesce("cut.pieces", F.lit(1)))
            .withColumn("decontam_chars_removed", F.coalesce("cut.chars_removed", F.lit(0)))
            .withColumn("decontam_reason", F.when(F.col("cut.contaminated"), F.lit(CONTAMINATED)))
            .drop("cut"))


def removed_spans(cuts, grams, dataset):
    """One row per removed span: id, dataset, kind, start, end, grams, benchmarks, examples, text."""
    spans = cuts.join(dataset, "id").select("id", "dataset", "text", F.explode("cut.spans").alias("s")).select(
        "id", "dataset", "s.kind", "s.start", "s.end", F.col("s.grams").alias("matched"),
        F.expr("substring(text, s.start + 1, s.end - s.start)").alias("text"))
    sources = grams.groupBy("h", "gram").agg(F.collect_set("benchmark").alias("b"), F.collect_set(
        F.concat_ws(":", "benchmark", "example")).alias("e"))
    keys = ["id", "start", "end"]
    attributed = (spans.select(*keys, F.explode("matched").alias("g")).select(*keys, "g.h", "g.gram")
                  .join(sources, ["h", "gram"])
                  .groupBy(*keys).agg(F.array_sort(F.collect_set("gram")).alias("grams"),
                                      F.array_sort(F.array_distinct(F.flatten(F.collect_list("b")))).alias("benchmarks"),
                                      F.array_sort(F.array_distinct(F.flatten(F.collect_list("e")))).alias("examples")))
    return spans.drop("matched").join(attributed, keys, "left").select(
        "id", "dataset", "kind", "start", "end", "grams", "benchmarks", "examples", "text")


# ---- report (GPT-3 Table C.1)

def benchmark_table(examples, grams, active, cfg: DecontamConfig) -> dict:
    """Per benchmark: examples dirty (any remaining gram in training), clean, too short to check."""
    dirty = grams.join(active.select("h", "gram"), ["h", "gram"], "left_semi").select("benchmark", "example").distinct()
    counts = examples.groupBy("benchmark").agg(
        F.count("*").alias("examples"), F.sum((F.size("grams") == 0).cast("int")).alias("too_short"))
    dirty_counts = dirty.groupBy("benchmark").agg(F.count("*").alias("dirty"))
    gram_counts = grams.groupBy("benchmark").agg(F.countDistinct("h", "gram").alias("grams"))
    rows = {r["benchmark"]: r.asDict() for r in counts.join(dirty_counts, "benchmark", "left")
            .join(gram_counts, "benchmark", "left").collect()}
    table = {}
    for source in cfg.benchmarks:
        row = rows.get(source.name, {"examples": 0, "too_short": 0})
        examples_n, short, dirty_n = row["examples"], row["too_short"] or 0, row.get("dirty") or 0
        checked = examples_n - short
        table[source.name] = {"split": source.split, "examples": examples_n, "too_short": short, "checked": checked,
                              "dirty": dirty_n, "clean": checked - dirty_n,
                              "dirty_fraction": round(dirty_n / checked, 4) if checked else None,
                              "grams": row.get("grams") or 0}
    return table


def dataset_table(decided, dataset) -> dict:
    """Per training dataset: documents kept untouched, modified, removed, and characters removed."""
    rows = decided.select("id", "decontam_reason", "decontam_chars_removed").join(dataset, "id").groupBy(
        "dataset").agg(
        F.count("*").alias("docs"),
        F.sum(((F.col("decontam_chars_removed") == 0) & F.col("decontam_reason").isNull()).cast("int")).alias("kept"),
        F.sum(((F.col("decontam_chars_removed") > 0) & F.col("decontam_reason").isNull()).cast("int")).alias("modified"),
        F.sum(F.col("decontam_reason").isNotNull().cast("int")).alias("removed"),
        F.sum(F.when(F.col("decontam_reason").isNull(), F.col("decontam_chars_removed")).otherwise(0))
        .alias("chars_removed_from_modified")).collect()
    return {r["dataset"]: {k: v for k, v in r.asDict().items() if k != "dataset"} for r in sorted(rows, key=lambda r: str(r["dataset"]))}


def gram_summary(probed, grams, frequency, cfg: DecontamConfig) -> dict:
    """Grams matched and ignored as frequent; hash matches whose strings differ (never cut)."""
    frequent = F.col("docs") > cfg.max_doc_frequency
    matched, ignored = frequency.agg(F.count("*"), F.sum(frequent.cast("int"))).first()
    top = frequency.filter(frequent).orderBy(F.col("docs").desc(), "gram").limit(10).collect()
    known = grams.select("h", "gram").distinct().withColumn("known", F.lit(1))
    probes, equal = probed.join(known, ["h", "gram"], "left").agg(F.count("*"), F.count("known")).first()
    return {"matched": matched, "ignored_frequent": ignored or 0,
            "most_frequent_ignored": [{"gram": r["gram"], "docs": r["docs"]} for r in top],
            "hash_only_collisions": probes - equal}


def dataset_frame(docs, dataset_column: str):
    column = F.col(dataset_column) if dataset_column in docs.columns else F.lit("all")
    return docs.select("id", column.cast("string").alias("dataset"))


def decontaminate(spark, docs, cfg: DecontamConfig, dataset_column: str = "source"):
    """(decided, spans, report): `docs` with its text cleaned and the three decontam columns,
    the removed spans, and the Table C.1 report. `docs` needs unique `id`s and `text`."""
    examples = benchmark_examples(spark, cfg).cache()
    grams = benchmark_grams(examples).cache()
    table = hash_table(spark, grams)
    verified, probed = verified_hits(docs, grams, table, cfg.n)
    frequency = gram_frequency(verified).cache()
    active = frequency.filter(F.col("docs") <= cfg.max_doc_frequency)
    hits = verified.join(active.select("h", "gram"), ["h", "gram"], "left_semi")
    cuts = cut_documents(docs, hits, cfg).cache()
    decided = decided_documents(docs, cuts)
    dataset = dataset_frame(docs, dataset_column)
    spans = removed_spans(cuts, grams, dataset)
    report = {"benchmarks": benchmark_table(examples, grams, active, cfg),
              "datasets": dataset_table(decided, dataset),
              "grams": gram_summary(probed, grams, frequency, cfg),
              "rule": {k: getattr(cfg, k) for k in ("n", "window_chars", "min_piece_chars", "max_pieces",
                                                     "max_doc_frequency")}}
    return decided, spans, report


def decontam_stage(spark, docs, cfg: DecontamConfig):
    """The filter's decontamination stage, after dedup: texts cut, `contaminated` dropped,
    the removed spans as the extra `spans`."""
    tagged, spans, report = decontaminate(spark, docs, cfg, dataset_column="source")
    decided = (tagged.withColumn("reason", F.col("decontam_reason"))
               .withColumn("detail", F.when(F.col("decontam_reason").isNotNull(),
                                            F.format_string("%d pieces", F.col("decontam_pieces"))))
               .drop("decontam_reason"))
    modified = (F.col("decontam_chars_removed") > 0) & F.col("reason").isNull()
    decided = decided.withColumn("text_chars", F.when(modified, F.length("text")).otherwise(F.col("text_chars")))
    return StageResult.split(decided, report, {"spans": spans})


def decontam_job(spark, cfg, _prepared=None) -> dict:
    """jobs/decontaminate.py: write documents/, dropped/, spans/, report.json and stats.json."""
    started = time.time()
    with AtomicOutput(spark, cfg.output) as out:
        docs = spark.read.parquet(*cfg.input)
        decided, spans, report = decontaminate(spark, docs, cfg.decontam, cfg.dataset_column)
        decided = decided.cache()
        decided.filter(F.col("decontam_reason").isNull()).drop("decontam_reason").write.parquet(out.path("documents"))
        dropped = decided.filter(F.col("decontam_reason").isNotNull()).withColumnRenamed("decontam_reason", "reason")
        dropped.write.parquet(out.path("dropped"))
        spans.write.parquet(out.path("spans"))
        # Counts read back from what was written, not from the plan (retries cannot skew them).
        report["kept"] = spark.read.parquet(out.path("documents")).count()
        report["dropped"] = {"contaminated": spark.read.parquet(out.path("dropped")).count()}
        report["spans"] = spark.read.parquet(out.path("spans")).count()
        report["seconds"] = round(time.time() - started, 1)
        out.write_text("report.json", json.dumps(report, indent=2) + "\n")
        out.write_text("config.json", json.dumps(config.to_dict(cfg), indent=2) + "\n")
        out.write_text("stats.json", json.dumps(dict(report, code_version=code_version()), indent=2) + "\n")
    return report
