"""The filter job on Spark: a chain of stages, each reading only what the one before it wrote.

    ingest -> tag -> select -> dedup -> repeated lines -> decontamination -> the run's output

Record-level stages keep one shard per input file in the stage store (`shards.py`):
ingest (`ingest.py`: every record kept or dropped with a reason) and tag (`tag.py`: the
quality score and the Pareto draw of each document). Corpus-level stages each write one
folder of the store (`stages.py`): select (`select.py`: GPT-3's Pareto rule, the
decisions), fuzzy dedup (`dedup.py`), repeated-line removal (`lines.py`) and 13-gram
decontamination (`decontam.py`, GPT-3 Appendix C, when benchmarks are listed). Every
stage is fingerprinted by its settings and its predecessor's fingerprint, so a re-run
reuses what did not change: another alpha re-runs select and what follows, a new model
re-runs tagging, and no setting but ingest's extracts a page again.

The run's output gathers the last stage's documents into `documents/` and every stage's
drops into `dropped/` (text only where it helps: a `quality` drop, so that another alpha
is a re-selection; a duplicate, shown beside its keeper; what a `repeated_lines` drop had
left; a `contaminated` one). Counts are read back from the written Parquet, never from
accumulators, so task retries and speculative execution cannot skew them.
"""
from __future__ import annotations

import json
import time
from collections import Counter

import fsspec
import yaml
from pyspark.sql import functions as F

from .. import code_version, config, ingest, inputs, quality, stats
from ..errors import UserError
from . import lines, select
from .decontam import decontam_stage
from .dedup import dedup_stage
from .ingest import OUTCOME_SCHEMA, ingest_files
from .output import AtomicOutput, RunLock, recover
from .progress import progress_reporter
from .session import size_shuffles
from .shards import ShardStore, digest, ingest_fingerprint, tag_fingerprint, utc
from .stages import STAGE_FILE, StageFolder, run_stage, stage_fingerprint
from .tag import QUALITY_COLUMNS, TAG_SCHEMA, tag_files

# Null where the stage did not look at the document (dropped before it, or the stage is off).
DECONTAM_COLUMNS = ["decontam_pieces", "decontam_chars_removed"]
OUTCOME_COLUMNS = OUTCOME_SCHEMA.fieldNames()
DOCUMENT_COLUMNS = ([c for c in OUTCOME_COLUMNS if c not in ("reason", "detail")] + QUALITY_COLUMNS
                    + lines.COLUMNS + DECONTAM_COLUMNS)
DROPPED_COLUMNS = OUTCOME_COLUMNS + QUALITY_COLUMNS + ["duplicate_of"] + lines.COLUMNS + DECONTAM_COLUMNS
_ADDED_TYPES = dict.fromkeys(QUALITY_COLUMNS, "double") | {"duplicate_of": "string"} | dict.fromkeys(
    lines.COLUMNS + DECONTAM_COLUMNS, "int")
CORPUS_STAGES = ("select", "dedup", "repeated_lines", "decontam")


def run_filter(spark, cfg: config.FilterConfig, files: list[str]) -> dict:
    """Run the chain over `files`, write the run's output atomically to `cfg.output`; return its
    stats. One run at a time per output and per store: a second is refused in one line."""
    root = store_root(cfg)
    with RunLock(spark, cfg.output), RunLock(spark, root):
        recover(spark, cfg.output)
        for name in CORPUS_STAGES:
            recover(spark, f"{root}/{name}", STAGE_FILE)
        return run_chain(spark, cfg, files, root)


def run_chain(spark, cfg: config.FilterConfig, files: list[str], root: str) -> dict:
    started = time.time()
    output = AtomicOutput(spark, cfg.output)  # refuses a foreign folder before any work
    quality_info = quality_summary(cfg.quality)
    ingested = ShardStore(spark, f"{root}/ingest", ingest_fingerprint(cfg.ingest))
    tagged = ShardStore(spark, f"{root}/tag", tag_fingerprint(ingested.fingerprint,
                                                              quality_info and quality_info["model_version"],
                                                              cfg.quality.seed))
    batch = cfg.files_per_commit or 4 * spark.sparkContext.defaultParallelism
    identities = {path: inputs.identity(path) for path in files}  # a file changed in place is read again
    size_shuffles(spark, sum(inputs.size_of(identity) for identity in identities.values()))
    # Progress lines until the output is written: the stages after ingest take time too.
    with progress_reporter(spark, len(files), every_s=cfg.progress_every_s) as progress:
        markers, ingest_status = per_file_stage(
            ingested, identities, cfg.resume, progress.files_reused,
            lambda todo: ingest_files(spark, todo, identities, cfg, ingested, batch, progress))
        require_readable(markers)
        progress.now("tag")
        _, tag_status = per_file_stage(
            tagged, identities, cfg.resume, lambda n: None,
            lambda todo: tag_files(spark, todo, identities, cfg.quality, ingested, tagged, batch))
        records, last = corpus_stages(spark, cfg, identities, tagged, root, progress.now)
        progress.now("writing the output")
        with output as out:
            write_run_output(spark, out, ingested, files, root, records, last)
            documents, dropped = spark.read.parquet(out.path("documents")), spark.read.parquet(out.path("dropped"))
            run_stats = count_outcomes(documents, dropped, len(files))
            run_stats["shards"] = reconcile(run_stats, markers)
            run_stats["quality"] = quality_info
            run_stats["dedup"] = stage_report(records, "dedup")
            run_stats["repeated_lines"] = lines.report(documents, dropped) if cfg.repeated_lines.enabled else None
            run_stats["decontam"] = stage_report(records, "decontam")
            run_stats["stages"] = {"ingest": ingest_status, "tag": tag_status,
                                   **{name: records[name]["status"] if name in records else "off"
                                      for name in CORPUS_STAGES}}
            run_stats["seconds"] = round(time.time() - started, 1)
            out.write_text("config.yaml", yaml.safe_dump(config.to_dict(cfg), sort_keys=False))
            out.write_text("inputs.txt", "".join(f + "\n" for f in files))
            out.write_text("run.json", json.dumps(run_manifest(cfg, root, ingested, markers, records, started),
                                                  indent=2) + "\n")
            out.write_text("stats.json", json.dumps(dict(run_stats, code_version=code_version()), indent=2) + "\n")
    return run_stats


def store_root(cfg: config.FilterConfig) -> str:
    return (cfg.shards or cfg.output.rstrip("/") + ".shards").rstrip("/")


def per_file_stage(store: ShardStore, identities: dict[str, str], resume: bool, count_reused,
                   run_pending) -> tuple[dict, dict]:
    """({input file: its shard marker}, {files processed, files reused}), running the stage
    for the files whose shard is missing, was made with other settings or from another
    version of the file."""
    files = list(identities)
    store.remove_staging()  # the store is locked (RunLock), so no batch of a live run is in flight
    markers = {path: (store.marker(path, identities[path]) if resume else None) for path in files}
    for marker in markers.values():
        if marker:
            marker["status"] = "reused"
    pending = [path for path in files if markers[path] is None]
    count_reused(len(files) - len(pending))
    done = run_pending(pending) if pending else []
    for marker in done:
        markers[marker["input"]] = dict(marker, status="processed")
    return markers, {"files_processed": len(pending), "files_reused": len(files) - len(pending),
                     "rows_written": sum(marker["records"] for marker in done)}


def require_readable(markers: dict[str, dict]):
    """A run where no input record could be read stops with a non-zero exit, saying what the
    inputs are (a scheduled run over the wrong folder must not look like an empty crawl)."""
    outcomes = Counter()
    for marker in markers.values():
        outcomes.update(marker["outcomes"])
    if any(reason not in ingest.UNREADABLE_REASONS for reason in outcomes):
        return
    counts = ", ".join(f"{reason} {n:,}" for reason, n in sorted(outcomes.items()))
    found = "; ".join(f"{path}: {ingest.describe_file(path)}" for path in list(markers)[:3])
    more = f"; and {len(markers) - 3:,} more files" if len(markers) > 3 else ""
    raise UserError(f"no input record was readable ({counts}): not a WARC/WET/ARC: {found}{more}")


def corpus_stages(spark, cfg: config.FilterConfig, identities: dict[str, str], tagged: ShardStore,
                  root: str, now=lambda step: None) -> tuple[dict, StageFolder]:
    """Run (or reuse) select, then each enabled corpus stage on its predecessor's documents;
    return ({stage: its record}, the last stage's folder)."""
    chain = [("select", select_settings(cfg), lambda docs: select.select_documents(docs, cfg))]
    if cfg.dedup.enabled:
        chain.append(("dedup", dedup_settings(cfg.dedup), lambda docs: dedup_stage(spark, docs, cfg.dedup)))
    if cfg.repeated_lines.enabled:
        chain.append(("repeated_lines", {"min_chars": cfg.ingest.min_chars},
                      lambda docs: lines.lines_stage(docs, cfg.ingest.min_chars)))
    if cfg.decontam.enabled and cfg.decontam.benchmarks:
        chain.append(("decontam", decontam_settings(cfg.decontam),
                      lambda docs: decontam_stage(spark, docs, cfg.decontam)))
    previous = digest({"tag": tagged.fingerprint, "files": identities})
    read_previous = lambda: tagged.read(list(identities), TAG_SCHEMA)  # noqa: E731 (select reads the tag shards)
    records = {}
    for name, settings, compute in chain:
        now(name)
        folder = StageFolder(spark, root, name)
        fingerprint = stage_fingerprint(previous, settings)
        records[name] = run_stage(folder, fingerprint, lambda: compute(read_previous()), cfg.resume)
        previous, read_previous = fingerprint, (lambda f=folder: f.read("documents"))
    return records, folder


def select_settings(cfg: config.FilterConfig) -> dict:
    return {"model": bool(cfg.quality.model), "alpha": cfg.quality.alpha if cfg.quality.model else None,
            "rules": config.to_dict(cfg.rules) if select.rules_on(cfg.rules) else None}


def dedup_settings(cfg: config.DedupConfig) -> dict:
    return {"dedup": config.to_dict(cfg), "references": [files_identity(s.path) for s in cfg.references]}


def decontam_settings(cfg: config.DecontamConfig) -> dict:
    return {"decontam": config.to_dict(cfg), "benchmarks": [files_identity(b.path) for b in cfg.benchmarks]}


def files_identity(path: str) -> list:
    """(file, `inputs.identity`) of every file under `path`: a changed reference or benchmark
    file changes the stage's fingerprint."""
    return [(name, inputs.identity(name)) for name in inputs.expand_files([path])]


def write_run_output(spark, out: AtomicOutput, ingested: ShardStore, files: list[str], root: str, records: dict,
                     last: StageFolder):
    """The last stage's documents, and the drops of ingest and of every corpus stage."""
    with_columns(last.read("documents"), DOCUMENT_COLUMNS).write.parquet(out.path("documents"))
    drops = ingested.read(files, OUTCOME_SCHEMA).filter(F.col("reason").isNotNull())
    for name in CORPUS_STAGES:
        if name in records and records[name]["schemas"].get("dropped"):
            drops = drops.unionByName(StageFolder(spark, root, name).read("dropped"), allowMissingColumns=True)
    with_columns(drops, DROPPED_COLUMNS).write.parquet(out.path("dropped"))
    if "decontam" in records:
        last.read("spans").write.parquet(out.path("decontam_spans"))


def with_columns(frame, columns: list[str]):
    """`frame` as exactly `columns`, a column no stage wrote being null of its type."""
    return frame.select(*[F.col(c) if c in frame.columns else F.lit(None).cast(_ADDED_TYPES[c]).alias(c)
                          for c in columns])


def stage_report(records: dict, name: str) -> dict | None:
    return records[name]["report"] if name in records else None


def reconcile(run_stats: dict, shards: dict[str, dict]) -> dict:
    """Every row of every ingest shard must be in the output exactly once; a mismatch is a bug."""
    rows = sum(marker["records"] for marker in shards.values())
    written = run_stats["records_read"] + sum(run_stats["files"]["failed"].values())
    if rows != written:
        raise RuntimeError(f"accounting mismatch: shards hold {rows} rows, the output {written}")
    statuses = [marker["status"] for marker in shards.values()]
    return {"total": len(shards), "processed": statuses.count("processed"), "reused": statuses.count("reused"),
            "rows": rows}


def run_manifest(cfg: config.FilterConfig, root: str, store: ShardStore, shards: dict[str, dict],
                 records: dict, started: float) -> dict:
    return {"code_version": code_version(), "seed": cfg.quality.seed, "fingerprint": store.fingerprint,
            "shard_store": root, "started_at": utc(started), "finished_at": utc(time.time()),
            "config": config.to_dict(cfg),
            "stages": {name: {k: records[name][k] for k in ("status", "fingerprint", "rows", "finished_at")}
                       for name in CORPUS_STAGES if name in records},
            "inputs": [{"input": path, "shard": store.path(path), "status": m["status"], "records": m["records"],
                        "outcomes": m["outcomes"], "committed_at": m["committed_at"]} for path, m in shards.items()]}


def quality_summary(cfg: config.QualityConfig) -> dict | None:
    if not cfg.model:
        return None
    manifest = read_text(cfg.model + "/" + quality.MANIFEST_FILE)
    return {"model": cfg.model, "model_version": json.loads(manifest)["model_version"],
            "alpha": cfg.alpha, "seed": cfg.seed}


def read_text(path: str) -> str:
    with fsspec.open(path, "r") as fh:
        return fh.read()


def count_outcomes(documents, dropped, files: int) -> dict:
    kept = documents.count()
    by_reason = {row["reason"]: row["count"] for row in dropped.groupBy("reason").count().collect()}
    return stats.summarise(kept, by_reason, files)
