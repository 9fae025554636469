"""Decontamination: the Table C.1 overlap report on the shared corpora, and its cost.

  python bench/decontam_bench.py overlap   the 12 benchmarks of conf/decontam.yaml against
      WebText, Wikipedia (enwiki excerpt), WikiText-2, the 12 Gutenberg books whole, dolma CC
      and the CC pages ingest keeps from shared/data/warc/cc (local[2]), as imported by
      `spark-submit jobs/import_reference.py --conf conf/import/shared.yaml` (run it first).
  python bench/decontam_bench.py cost [--probe-only]   documents/s and how cost grows with the size of
      the benchmark n-gram set:
      - probe: CPU seconds on one core (time.process_time, so other load on the machine
        does not count) to find the colliding grams of every document, against the real
        benchmark table padded with random hashes up to 10M grams;
      - stage: wall seconds of the whole Spark stage (local[2]) for growing real benchmark sets.
"""
import argparse
import dataclasses
import os
import time
from pathlib import Path

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

import numpy as np

from corpus_pipeline import config, decontam, references

SHARED = "../shared/data"
SOURCES = [  # (name, format, path) of the training-side corpora: conf/import/shared.yaml's Parquet
    (name, "parquet", f"output/import/shared/{name}/documents")
    for name in ("webtext", "wikipedia", "wikitext", "cc_dolma", "cc_warc")
]
# Real benchmark sets of growing n-gram count for the stage timing.
STAGE_SETS = [("copa,nq_open", ("copa", "nq_open")),
              ("arc,obqa,piqa,wino,multirc", ("arc_easy", "arc_challenge", "openbookqa", "piqa", "winogrande",
                                              "multirc")),
              ("all 12", None)]


def session():
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "8").config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", "4g")
             .config("spark.sql.execution.pythonUDF.arrow.enabled", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def whole_books():
    for path in sorted(Path(f"{SHARED}/positives/books").glob("*.txt")):
        text = "\n".join(references.strip_gutenberg(path.read_text(encoding="utf-8")))
        yield references.doc_id("books", path.name), "books", text


def corpus(spark):
    from corpus_pipeline.spark.imports import imported_documents

    sources = [config.ReferenceSource(name, fmt, path) for name, fmt, path in SOURCES]
    frame = imported_documents(spark, sources)
    books = spark.createDataFrame(list(whole_books()), "id string, source string, text string")
    return frame.unionByName(books)


def decontam_config(names=None) -> config.DecontamConfig:
    cfg = config.load(config.DecontamJobConfig, "conf/decontam.yaml", ["input=[x]"]).decontam
    if names is None:
        return cfg
    return dataclasses.replace(cfg, benchmarks=tuple(b for b in cfg.benchmarks if b.name in names))


def overlap():
    from corpus_pipeline.decontam import table_c1
    from corpus_pipeline.spark.decontam import decontaminate

    spark = session()
    docs = corpus(spark).cache()
    started = time.time()
    decided, spans, report = decontaminate(spark, docs, decontam_config())
    decided.filter("decontam_chars_removed > 0").count()
    rows = spans.filter("kind = 'window'").orderBy("id", "start").collect()
    print(table_c1(report))
    print(f"{time.time() - started:.1f} s; {docs.count():,} documents")
    for r in rows:
        print(f"  span {r['dataset']} {r['id']} [{r['start']}, {r['end']}) {len(r['grams'])} grams "
              f"{','.join(r['examples'][:6])}")
    print("frequent grams ignored:", report["grams"]["most_frequent_ignored"])


def benchmark_table(cfg: config.DecontamConfig) -> np.ndarray:
    hashes = set()
    for source in cfg.benchmarks:
        data = Path(source.path).read_text(encoding="utf-8")
        for example in decontam.load_examples(source.name, data, source.format, source.text_fields, source.id_field):
            hashes.update(decontam.example_grams(example, cfg.n))
    return np.array(sorted(hashes), dtype=np.int64)


def probe_cost(texts: list[str], real: np.ndarray):
    rng = np.random.default_rng(0)
    words = sum(len(t.split()) for t in texts)
    print(f"probe: {len(texts):,} documents, {words:,} words; CPU seconds on one core")
    print(f"{'table grams':>12} {'cpu s':>7} {'docs/s':>8} {'Mwords/s':>9} {'hits':>6}")
    for size in (len(real), 1_000_000, 3_000_000, 10_000_000):
        pad = rng.integers(-2**63, 2**63 - 1, size=max(size - len(real), 0), dtype=np.int64)
        table = np.sort(np.concatenate([real, pad]))
        started = time.process_time()
        hits = sum(len(decontam.colliding_grams(t, 13, table)) for t in texts)
        cpu = time.process_time() - started
        print(f"{len(table):>12,} {cpu:>7.1f} {len(texts) / cpu:>8,.0f} {words / cpu / 1e6:>9.2f} {hits:>6}")


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of a process and all its descendants, live or reaped (/proc, Linux): the
    JVM, PySpark's daemon and its Python workers. Other engineers' load does not count."""
    parents, times = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            times[int(entry)] = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    tree, frontier = {root}, [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier and pid not in tree]
        tree.update(children)
        frontier = children
    return sum(times.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK") + time.process_time()


def stage_cost(spark, docs):
    from corpus_pipeline.spark.decontam import decontaminate

    jvm = spark.sparkContext._gateway.proc.pid
    n_docs = docs.count()
    print(f"stage: {n_docs:,} documents, local[2]; CPU seconds of the driver, the JVM and its Python workers, "
          f"and wall seconds (load average {os.getloadavg()[0]:.1f} at start)")
    print(f"{'benchmarks':<28} {'grams':>8} {'cpu s':>7} {'docs/cpu s':>10} {'wall s':>7}")
    for label, names in STAGE_SETS:
        cfg = decontam_config(names)
        started, cpu = time.time(), tree_cpu_seconds(jvm)
        decided, spans, report = decontaminate(spark, docs, cfg)
        decided.filter("decontam_chars_removed > 0").count()
        spans.count()
        cpu, seconds = tree_cpu_seconds(jvm) - cpu, time.time() - started
        grams = sum(b["grams"] for b in report["benchmarks"].values())
        print(f"{label:<28} {grams:>8,} {cpu:>7.1f} {n_docs / cpu:>10.0f} {seconds:>7.1f}")


def cost(probe_only: bool):
    spark = session()
    docs = corpus(spark).cache()
    texts = [r["text"] for r in docs.select("text").collect()]
    decontam.punctuation_table()  # built once per process; not part of the per-document cost
    probe_cost(texts, benchmark_table(decontam_config()))
    if not probe_only:
        stage_cost(spark, docs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["overlap", "cost"])
    parser.add_argument("--probe-only", action="store_true", help="cost: skip the Spark stage timings")
    args = parser.parse_args()
    overlap() if args.what == "overlap" else cost(args.probe_only)


if __name__ == "__main__":
    main()
