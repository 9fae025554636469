"""Run accounting: outcome counts -> `stats.json`, the funnel, and the summary a job prints.

Every record read ends in exactly one outcome, so `records_read == kept + sum(dropped)`
by construction; inputs that yield no record at all are counted under `files`.
"""
from __future__ import annotations

from .dedup import describe_removed
from .ingest import FILE_REASONS, RECORD_REASONS

# The stage that drops a record, by reason: ingest's are ingest.RECORD_REASONS; select's are
# every other reason before dedup (duplicate_record, quality, the Gopher and C4 rules).
DEDUP_REASONS = ("duplicate", "duplicate_of_reference")
AFTER_DEDUP_REASONS = ("repeated_lines", "contaminated")
FUNNEL_STEPS = ("records read", "ingested", "selected", "deduplicated", "kept")


def summarise(kept: int, dropped_by_reason: dict[str, int], files: int) -> dict:
    records = {r: n for r, n in sorted(dropped_by_reason.items()) if r not in FILE_REASONS}
    failed = {r: n for r, n in sorted(dropped_by_reason.items()) if r in FILE_REASONS}
    return {
        "records_read": kept + sum(records.values()),
        "kept": kept,
        "dropped": records,
        "files": {"read": files, "failed": failed},
    }


def stage_of(reason: str) -> str:
    """The filter stage that drops a record for `reason`: ingest, select, dedup or after dedup."""
    if reason in RECORD_REASONS:
        return "ingest"
    if reason in DEDUP_REASONS:
        return "dedup"
    return "after dedup" if reason in AFTER_DEDUP_REASONS else "select"


def funnel(stats: dict) -> list[tuple[str, int]]:
    """(step, records left) from records read to documents kept, from `stats.json`'s counts:
    ingested (documents with text in a kept language, long enough), selected (after the one-copy
    rule, the Pareto draw and the rules), deduplicated, kept (after repeated lines and
    decontamination)."""
    by_stage = {"ingest": 0, "select": 0, "dedup": 0, "after dedup": 0}
    for reason, n in stats["dropped"].items():
        by_stage[stage_of(reason)] += n
    left = [stats["records_read"]]
    for stage in ("ingest", "select", "dedup", "after dedup"):
        left.append(left[-1] - by_stage[stage])
    return list(zip(FUNNEL_STEPS, left))


def format_funnel(stats: dict) -> str:
    """'311 read -> 116 ingested -> 8 selected -> 8 deduplicated -> 8 kept'."""
    return " -> ".join(f"{n:,} {step.replace('records ', '')}" for step, n in funnel(stats))


def format_summary(stats: dict, seconds: float, output: str) -> str:
    lines = [
        f"corpus-pipeline filter: {stats['files']['read']} files, "
        f"{stats['records_read']:,} records read in {seconds:.1f} s",
        f"  kept       {stats['kept']:>8,}",
        f"  dropped    {sum(stats['dropped'].values()):>8,}",
    ]
    lines += [f"    {reason:<14}{n:>8,}" for reason, n in stats["dropped"].items()]
    lines += [f"  file {reason}: {n}" for reason, n in stats["files"]["failed"].items()]
    lines.append(f"  funnel     {format_funnel(stats)}")
    if stats.get("quality"):
        q = stats["quality"]
        lines.append(f"  quality    model {q['model_version']}, alpha {q['alpha']}, seed {q['seed']}")
    if stats.get("dedup"):
        d = stats["dedup"]
        lines.append(f"  dedup      {d['mode']}: {d['candidate_pairs']:,} candidate pairs "
                     f"({d['candidate_pairs_per_doc']} per document), {d['verified_pairs']:,} verified, "
                     f"{counted(d['references'], 'reference document')}; removed {describe_removed(d)}")
    if stats.get("repeated_lines"):
        lines.append(f"  lines      {describe_repeated_lines(stats['repeated_lines'])}")
    if stats.get("decontam"):
        d = stats["decontam"]
        per_dataset = d["datasets"].values()
        lines.append(f"  decontam   {len(d['benchmarks'])} benchmarks, "
                     f"{sum(b['dirty'] for b in d['benchmarks'].values()):,} dirty examples; documents "
                     f"{sum(x['modified'] for x in per_dataset):,} modified, {sum(x['removed'] for x in per_dataset):,} removed")
    lines.append(f"  output     {output}  (documents/, dropped/, stats.json, report.html)")
    return "\n".join(lines)


def counted(n: int, noun: str) -> str:
    """'1 record', '0 records', '1,234 records': a count with its noun in the right number."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def describe_repeated_lines(report: dict) -> str:
    """The repeated-line stage's figures (`stats.json` `repeated_lines`) in words."""
    return (f"{counted(report['lines_removed'], 'line')} ({counted(report['chars_removed'], 'character')}) "
            f"removed from {counted(report['documents_changed'], 'document')}")
