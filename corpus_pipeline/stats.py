"""Run accounting: outcome counts -> `stats.json`, and the summary a job prints.

Every record read ends in exactly one outcome, so `records_read == kept + sum(dropped)`
by construction; inputs that yield no record at all are counted under `files`.
"""
from __future__ import annotations

from .ingest import FILE_REASONS


def summarise(kept: int, dropped_by_reason: dict[str, int], files: int) -> dict:
    records = {r: n for r, n in sorted(dropped_by_reason.items()) if r not in FILE_REASONS}
    failed = {r: n for r, n in sorted(dropped_by_reason.items()) if r in FILE_REASONS}
    return {
        "records_read": kept + sum(records.values()),
        "kept": kept,
        "dropped": records,
        "files": {"read": files, "failed": failed},
    }


def format_summary(stats: dict, seconds: float, output: str) -> str:
    lines = [
        f"corpus-pipeline filter: {stats['files']['read']} files, "
        f"{stats['records_read']:,} records read in {seconds:.1f} s",
        f"  kept       {stats['kept']:>8,}",
        f"  dropped    {sum(stats['dropped'].values()):>8,}",
    ]
    lines += [f"    {reason:<14}{n:>8,}" for reason, n in stats["dropped"].items()]
    lines += [f"  file {reason}: {n}" for reason, n in stats["files"]["failed"].items()]
    if stats.get("quality"):
        q = stats["quality"]
        lines.append(f"  quality    model {q['model_version']}, alpha {q['alpha']}, seed {q['seed']}")
    if stats.get("dedup"):
        d = stats["dedup"]
        lines.append(f"  dedup      {d['mode']}: {d['candidate_pairs']:,} candidate pairs "
                     f"({d['candidate_pairs_per_doc']} per document), {d['verified_pairs']:,} verified, "
                     f"{d['references']:,} reference documents")
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


def describe_repeated_lines(report: dict) -> str:
    """The repeated-line stage's figures (`stats.json` `repeated_lines`) in words."""
    return (f"{report['lines_removed']:,} lines ({report['chars_removed']:,} characters) removed "
            f"from {report['documents_changed']:,} documents")
