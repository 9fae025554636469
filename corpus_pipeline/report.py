"""The run report: a finished filter run -> `report.html` and `samples/` beside its output.

Consumes a `jobs/filter.py` output folder (read with pyarrow through `runs.py`, no Spark);
produces a static, self-contained `report.html` (plots as embedded PNGs, text escaped) and
`samples/samples.parquet`, the example documents the report shows, for programmatic use.

The report is what a curator looks at before trusting a filter: records per outcome and
reason, the funnel from records read to documents kept (ingested, selected, deduplicated),
quality-score histograms per source under GPT-3's Pareto keep curve (2 - s)^-alpha,
observed vs expected keep ratio by score band, the language mix of every record language ID
saw (by what became of it), document lengths, dedup cluster sizes, and a few documents for
each decision. Samples are picked by a hash of the
document id, so a re-run shows the same documents.
"""
from __future__ import annotations

import base64
import io
from html import escape

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from matplotlib.figure import Figure

from . import runs
from .dedup import describe_removed
from .stats import describe_repeated_lines, funnel, stage_of

REPORT_FILE = "report.html"
SAMPLES_FILE = "samples/samples.parquet"
SAMPLES_PER_DECISION = 3
SNIPPET_CHARS = 600
CLUSTERS_SHOWN = 5  # side by side in the report, biggest first
MAX_SOURCES = 8  # more score histograms than this become unreadable; the rest are pooled
SAMPLE_COLUMNS = ["decision", "reason", "id", "url", "crawl", "source", "lang", "text_chars", "quality_score",
                  "duplicate_of", "detail", "text"]


def write_report(folder: str, per_decision: int = SAMPLES_PER_DECISION, title: str | None = None) -> str:
    """Write `report.html` and `samples/` into a finished run folder; return the report's path.

    `folder` needs `stats.json` and `config.yaml` already; a job writing its temporary
    folder passes the final folder's name as `title`."""
    run = runs.open_run(folder, text=False)  # texts are read for the shown rows only
    samples = select_samples(run, per_decision)
    fs, root = fsspec.core.url_to_fs(str(folder))
    fs.makedirs(f"{root}/samples", exist_ok=True)
    # Each file written beside its name, then moved into place: never half a report.
    with fs.open(f"{root}/{SAMPLES_FILE}.tmp", "wb") as fh:
        pq.write_table(samples, fh)
    fs.mv(f"{root}/{SAMPLES_FILE}.tmp", f"{root}/{SAMPLES_FILE}")
    with fs.open(f"{root}/{REPORT_FILE}.tmp", "w", encoding="utf-8") as fh:
        fh.write(render(run, samples, title or str(folder)))
    fs.mv(f"{root}/{REPORT_FILE}.tmp", f"{root}/{REPORT_FILE}")
    return f"{str(folder).rstrip('/')}/{REPORT_FILE}"


def write_report_of_run(folder: str) -> str:
    """`write_report`, with a folder that is not a finished filter run as a user's error."""
    from .errors import UserError

    try:
        return write_report(folder)
    except FileNotFoundError as err:
        raise UserError(f"{folder} is not a finished filter run ({err.filename or err} is missing)") from None


# ---- samples per decision

def select_samples(run: runs.Run, per_decision: int = SAMPLES_PER_DECISION) -> pa.Table:
    """A few rows per decision: kept documents at high, middle and low score, then each drop reason."""
    picked = [(f"kept, {third} score" if run.alpha is not None else "kept", part)
              for third, part in kept_groups(run)]
    if run.dropped.num_rows:
        for reason in sorted(set(run.dropped["reason"].to_pylist())):
            picked.append((f"dropped: {reason}", runs.with_reason(run.dropped, reason)))
    tables = [as_sample_rows(runs.sample(part, per_decision), decision) for decision, part in picked]
    samples = pa.concat_tables(tables) if tables else empty_samples()
    if "text" in run.documents.column_names:
        return samples
    return runs.with_text(run, samples.drop_columns(["text"])).select(SAMPLE_COLUMNS)


def kept_groups(run: runs.Run) -> list[tuple[str, pa.Table]]:
    documents = run.documents
    if documents.num_rows == 0:
        return []
    if "quality_score" in documents.column_names and documents["quality_score"].null_count == 0:
        return runs.by_score_tercile(documents)
    return [("all", documents)]


def sample_schema() -> pa.Schema:
    numeric = {"text_chars": pa.int64(), "quality_score": pa.float64()}
    return pa.schema([(c, numeric.get(c, pa.string())) for c in SAMPLE_COLUMNS])


def empty_samples() -> pa.Table:
    return sample_schema().empty_table()


def as_sample_rows(table: pa.Table, decision: str) -> pa.Table:
    """The sample columns (missing ones as nulls: kept rows have no reason), tagged with the decision."""
    n = table.num_rows
    columns = {"decision": pa.array([decision] * n, pa.string())}
    for field in sample_schema():
        if field.name != "decision":
            values = table[field.name] if field.name in table.column_names else pa.nulls(n, field.type)
            columns[field.name] = values.cast(field.type)
    return pa.table(columns, schema=sample_schema())


# ---- plots: each returns a figure, or None when the run has nothing to show

def new_figure(width: float, height: float, rows: int = 1, squeeze: bool = True):
    """A figure outside pyplot: no global state, no display needed (a job has none), and a
    notebook shows it inline all the same."""
    fig = Figure(figsize=(width, height))
    return fig, fig.subplots(rows, 1, squeeze=squeeze)


def outcome_counts(run: runs.Run) -> dict[str, int]:
    """kept and each drop reason, from the data (the same counts stats.json holds)."""
    counts = {"kept": run.documents.num_rows}
    if run.dropped.num_rows:
        for row in run.dropped.group_by("reason").aggregate([("id", "count")]).to_pylist():
            counts[row["reason"]] = row["id_count"]
    return counts


def plot_outcomes(run: runs.Run):
    counts = outcome_counts(run)
    labels = sorted(counts, key=lambda k: (k != "kept", -counts[k], k))
    fig, ax = new_figure(7, 0.35 * len(labels) + 1)
    ax.barh(labels[::-1], [counts[k] for k in labels[::-1]],
            color=["tab:green" if k == "kept" else "tab:red" for k in labels[::-1]])
    for i, k in enumerate(labels[::-1]):
        ax.text(counts[k], i, f" {counts[k]:,}", va="center", fontsize=8)
    ax.set_xlabel("records")
    ax.set_title("Records per outcome")
    return fig


def plot_funnel(stats: dict):
    """Records left after each step, from records read to documents kept (stats.funnel)."""
    steps = funnel(stats)
    fig, ax = new_figure(7, 0.4 * len(steps) + 1)
    labels, counts = [step for step, _ in steps][::-1], [n for _, n in steps][::-1]
    ax.barh(labels, counts, color=["tab:green"] + ["tab:blue"] * (len(steps) - 1))
    for i, n in enumerate(counts):
        ax.text(n, i, f" {n:,}", va="center", fontsize=8)
    ax.set_xlabel("records")
    ax.set_title("From records read to documents kept")
    return fig


def source_groups(scored: pa.Table) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(source file, scores, passed) for the biggest sources; the others pooled as 'other sources'."""
    names = np.array([runs.source_name(s) for s in scored["source"].to_pylist()], dtype=object)
    scores = scored["quality_score"].to_numpy(zero_copy_only=False)
    passed = scored["passed"].to_numpy(zero_copy_only=False)
    unique, counts = np.unique(names, return_counts=True)
    ranked = [u for _, u in sorted(zip(-counts, unique))]
    top, rest = ranked[:MAX_SOURCES - 1], ranked[MAX_SOURCES - 1:]
    groups = [(t, scores[names == t], passed[names == t]) for t in top]
    if len(rest) == 1:
        groups.append((rest[0], scores[names == rest[0]], passed[names == rest[0]]))
    elif rest:
        other = np.isin(names, rest)
        groups.append((f"{len(rest)} other sources", scores[other], passed[other]))
    return groups


def plot_score_histograms(scored: pa.Table, alpha: float | None):
    if scored.num_rows == 0 or alpha is None:
        return None
    groups = source_groups(scored)
    fig, axes = new_figure(7, 1.9 * len(groups) + 0.6, rows=len(groups), squeeze=False)
    bins = np.linspace(0, 1, 21)
    curve_x = np.linspace(0, 1, 101)
    for ax, (name, scores, passed) in zip(axes[:, 0], groups):
        ax.hist(scores, bins=bins, color="lightgray", label="scored")
        ax.hist(scores[passed], bins=bins, color="tab:green", label="passed the Pareto rule")
        ax.set_ylabel("documents")
        ax.set_title(f"{name} ({len(scores):,} scored, {int(passed.sum()):,} passed)", fontsize=9)
        curve = ax.twinx()
        curve.plot(curve_x, runs.keep_probabilities(curve_x, alpha), color="tab:blue")
        curve.set_ylim(0, 1.05)
        curve.set_ylabel(f"(2-s)^-{alpha:g}", color="tab:blue", fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="upper center")
    axes[-1, 0].set_xlabel("quality score")
    fig.tight_layout()
    return fig


def plot_keep_ratio(bands: list[dict]):
    filled = [b for b in bands if b["documents"]]
    if not filled:
        return None
    centers = np.array([(b["low"] + b["high"]) / 2 for b in filled])
    fig, ax = new_figure(7, 3.2)
    ax.bar(centers, [b["observed"] for b in filled], width=0.08, color="tab:green", label="observed (kept / scored)")
    ax.plot(centers, [b["expected"] for b in filled], "o-", color="tab:blue", label="expected mean (2-s)^-alpha")
    for x, b in zip(centers, filled):
        ax.text(x, b["observed"] + 0.02, f"{b['kept']}/{b['documents']}", ha="center", fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("quality score band")
    ax.set_ylabel("keep ratio")
    ax.set_title("Keep ratio by score band")
    ax.legend(fontsize=8)
    return fig


# What became of a record that language ID saw, by the stage that dropped it (stats.stage_of).
LANGUAGE_OUTCOMES = {"kept": ("kept", "tab:green"), "ingest": ("dropped: language", "tab:red"),
                     "select": ("dropped: selection (quality, rules, copies)", "tab:orange"),
                     "dedup": ("dropped: dedup", "tab:purple"),
                     "after dedup": ("dropped: repeated lines, decontamination", "tab:gray")}


def language_counts(run: runs.Run) -> dict[str, dict[str, int]]:
    """{language: {outcome: records}} over every record with a language (kept documents and
    every drop after language ID), the outcome being a key of LANGUAGE_OUTCOMES."""
    counts: dict[str, dict[str, int]] = {}
    parts = [("kept", run.documents)]
    if run.dropped.num_rows:
        parts += [(stage_of(reason), runs.with_reason(run.dropped, reason))
                  for reason in sorted(set(run.dropped["reason"].to_pylist()))]
    for outcome, table in parts:
        if table.num_rows == 0 or "lang" not in table.column_names:
            continue
        for item in pc.value_counts(table["lang"].drop_null()).to_pylist():
            per_outcome = counts.setdefault(item["values"], {})
            per_outcome[outcome] = per_outcome.get(outcome, 0) + item["counts"]
    return counts


def plot_languages(run: runs.Run, top: int = 15):
    """Languages of every record language ID saw, stacked by what became of it."""
    counts = language_counts(run)
    if not counts:
        return None
    labels = sorted(counts, key=lambda k: (-sum(counts[k].values()), k))[:top][::-1]
    fig, ax = new_figure(7, 0.3 * len(labels) + 1.2)
    left = np.zeros(len(labels))
    for outcome, (label, color) in LANGUAGE_OUTCOMES.items():
        values = np.array([counts[k].get(outcome, 0) for k in labels])
        if values.any():
            ax.barh(labels, values, left=left, color=color, label=label)
            left += values
    for i, total in enumerate(left):
        ax.text(total, i, f" {int(total):,}", va="center", fontsize=8)
    ax.set_xlabel("records")
    ax.set_title(f"Language mix ({int(sum(sum(c.values()) for c in counts.values())):,} records with a language)")
    ax.legend(fontsize=8)
    return fig


def length_groups(run: runs.Run) -> list[tuple[str, np.ndarray]]:
    """Text lengths of kept documents and of each drop reason with text (empty texts have no
    place on a log axis: they are the `empty_text` count of the outcome plot)."""
    groups = [("kept", run.documents["text_chars"].to_numpy(zero_copy_only=False))] if run.documents.num_rows else []
    if run.dropped.num_rows:
        with_length = run.dropped.filter(pc.greater(pc.fill_null(run.dropped["text_chars"], 0), 0))
        for reason in sorted(set(with_length["reason"].to_pylist())):
            groups.append((reason, runs.with_reason(with_length, reason)["text_chars"].to_numpy(zero_copy_only=False)))
    return [(name, np.asarray(v, dtype=float)) for name, v in groups if len(v)]


def plot_lengths(run: runs.Run):
    groups = length_groups(run)
    if not groups:
        return None
    longest = max(float(v.max()) for _, v in groups)
    bins = np.logspace(0, np.log10(max(longest, 10.0)) + 0.01, 30)
    fig, ax = new_figure(7, 3.2)
    for name, values in groups:
        ax.hist(values, bins=bins, histtype="step", linewidth=1.5, label=f"{name} ({len(values):,})")
    ax.set_xscale("log")
    ax.set_xlabel("extracted text length (characters)")
    ax.set_ylabel("records")
    ax.set_title("Document length")
    ax.legend(fontsize=8)
    return fig


def plot_cluster_sizes(sizes: dict[int, int]):
    """`sizes`: runs.cluster_size_counts of the run."""
    if not sizes:
        return None
    fig, ax = new_figure(7, 3)
    ax.bar([str(s) for s in sizes], list(sizes.values()), color="tab:purple")
    ax.set_xlabel("cluster size (kept document + near-duplicates removed)")
    ax.set_ylabel("clusters")
    ax.set_title("Dedup cluster sizes")
    return fig


# ---- HTML

def figure_html(fig, alt: str) -> str:
    """The figure as an embedded PNG, so the report needs no other file."""
    if fig is None:
        return f"<p class='none'>{escape(alt)}: nothing to plot in this run.</p>"
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='{escape(alt)}' src='data:image/png;base64,{data}'>"


def summary_html(run: runs.Run) -> str:
    stats = run.stats
    items = [("records read", f"{stats.get('records_read', 0):,}"), ("kept", f"{stats.get('kept', 0):,}"),
             ("files read", f"{stats.get('files', {}).get('read', 0):,}"), ("seconds", stats.get("seconds")),
             ("code version", stats.get("code_version"))]
    if stats.get("quality"):
        q = stats["quality"]
        items.append(("quality", f"model {q['model_version']}, alpha {q['alpha']}, seed {q['seed']}"))
    else:
        items.append(("quality", "no quality model: nothing scored or resampled"))
    if run.dedup:
        d = run.dedup
        items.append(("dedup", f"{d['mode']}: {d['docs']:,} documents, {d['verified_pairs']:,} verified pairs, "
                               f"removed {describe_removed(d)}"))
    else:
        items.append(("dedup", "not run"))
    removed = stats.get("repeated_lines")
    items.append(("repeated lines", describe_repeated_lines(removed) if removed else "not run"))
    return "<table class='summary'>" + "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in items) + "</table>"


def funnel_html(stats: dict) -> str:
    """The funnel's counts as a table: records left and removed at each step."""
    rows, previous = [], None
    for step, n in funnel(stats):
        rows.append({"step": step, "records": f"{n:,}", "removed": "" if previous is None else f"{previous - n:,}"})
        previous = n
    return runs.table_html(rows, ["step", "records", "removed"])


def band_table_html(bands: list[dict]) -> str:
    filled = [b for b in bands if b["documents"]]
    return runs.table_html(filled, ["band", "documents", "kept", "observed", "expected"]) if filled else ""


def sample_html(row: dict) -> str:
    text = row.get("text") or f"(text not stored for this drop; detail: {row.get('detail') or '-'})"
    if len(text) > SNIPPET_CHARS:
        text = text[:SNIPPET_CHARS] + " …"
    score = "-" if row["quality_score"] is None else f"{row['quality_score']:.4f}"
    extra = f" · duplicate of {escape(row['duplicate_of'])}" if row.get("duplicate_of") else ""
    return (f"<div class='doc' style='{DOC_STYLE}'><div class='meta'><a href='{escape(row['url'] or '')}'>{escape(row['url'] or '(no url)')}"
            f"</a><br>score {score} · {row['text_chars'] or 0:,} chars · lang {escape(row['lang'] or '-')} · "
            f"{escape(runs.source_name(row['source']))} · id {escape(row['id'])}{extra}</div>"
            f"<pre style='{PRE_STYLE}'>{escape(text)}</pre></div>")


def samples_html(samples: pa.Table) -> str:
    parts = []
    records = samples.to_pylist()
    for decision in dict.fromkeys(r["decision"] for r in records):
        parts.append(f"<h3>{escape(decision)}</h3>")
        parts += [sample_html(r) for r in records if r["decision"] == decision]
    return "\n".join(parts) or "<p class='none'>No records.</p>"


def clusters_html(clusters: list[dict], limit: int = 5) -> str:
    """The biggest clusters, kept document and removed duplicates side by side."""
    parts = []
    for cluster in clusters[:limit]:
        keeper = cluster["keeper"] or {"url": "(a reference document)", "text": None, "id": cluster["keeper_id"]}
        cells = [("kept", keeper)] + [(f"removed: {d['reason']}", d) for d in cluster["duplicates"][:3]]
        parts.append(f"<div class='cluster' style='{CLUSTER_STYLE}'>" + "".join(
            f"<div class='member' style='{MEMBER_STYLE}'><b>{escape(label)}</b><br><small>{escape(r['url'] or '')}</small>"
            f"<pre style='{PRE_STYLE}'>{escape((r.get('text') or '(text not stored)')[:SNIPPET_CHARS])}</pre></div>"
            for label, r in cells) + "</div>")
    return "\n".join(parts) or "<p class='none'>No duplicate clusters in this run.</p>"


# Inline as well as in STYLE, so that a notebook shows documents and clusters the same way.
DOC_STYLE = "border-left:3px solid #999;margin:0.6em 0;padding-left:0.6em"
CLUSTER_STYLE = "display:flex;gap:0.5em;margin-bottom:1em"
MEMBER_STYLE = "flex:1;min-width:0;font-size:12px"
PRE_STYLE = "white-space:pre-wrap;font-size:12px;max-height:14em;overflow:auto"
STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.doc{border-left:3px solid #999;margin:0.6em 0;padding-left:0.6em}.meta{font-size:12px;color:#555}
pre{white-space:pre-wrap;font-size:12px;background:#f6f6f6;padding:0.4em;max-height:14em;overflow:auto}
.cluster{display:flex;gap:0.5em;margin-bottom:1em}.member{flex:1;min-width:0;font-size:12px}.none{color:#777}"""


def render(run: runs.Run, samples: pa.Table, folder: str) -> str:
    scored = runs.scored_documents(run)
    bands = runs.keep_ratio_by_band(scored, run.alpha) if run.alpha is not None and scored.num_rows else []
    clusters = runs.duplicate_clusters(run, limit=CLUSTERS_SHOWN)
    sections = [
        ("Summary", summary_html(run)),
        ("Records per outcome", figure_html(plot_outcomes(run), "records per outcome")),
        ("From records read to documents kept", figure_html(plot_funnel(run.stats), "funnel") + funnel_html(run.stats)),
        ("Quality scores per source", figure_html(plot_score_histograms(scored, run.alpha), "quality scores")),
        ("Keep ratio by score band", figure_html(plot_keep_ratio(bands), "keep ratio by score band")
         + band_table_html(bands)),
        ("Language mix", figure_html(plot_languages(run), "language mix")),
        ("Document length", figure_html(plot_lengths(run), "document length")),
        ("Dedup clusters", figure_html(plot_cluster_sizes(runs.cluster_size_counts(run)), "dedup cluster sizes")
         + clusters_html(clusters)),
        ("Samples per decision", samples_html(samples)),
    ]
    body = "\n".join(f"<h2>{escape(title)}</h2>\n{content}" for title, content in sections)
    title = f"corpus-pipeline run report: {folder}"
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>\n{body}\n</body></html>\n")
