"""Read a finished filter run without Spark: for the run report and the notebooks.

Consumes a `jobs/filter.py` output folder (`documents/`, `dropped/`, `stats.json`,
`config.yaml`); produces pyarrow tables and plain rows: the scored documents, keep ratios
by score band, duplicate clusters, deterministic samples, and a re-selection with another
Pareto alpha. Nothing here is needed by a job; it only reads what a job wrote.

A re-selection is exact, not a simulation: the filter stores every scored document's
`quality_score` and draw `quality_u`, and keeps it when `quality_u < (2 - score)^-alpha`
(GPT-3 Appendix A, made deterministic; see `quality.py`), so the same rule with another
alpha gives the documents that run would have kept before dedup.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from .quality import unit_hash

SCORE_BANDS = np.round(np.linspace(0.0, 1.0, 11), 2)  # ten bands of width 0.1


@dataclass(frozen=True)
class Run:
    folder: str
    stats: dict
    config: dict
    documents: pa.Table  # kept documents
    dropped: pa.Table  # dropped records, with `reason`, `detail` and `duplicate_of`

    @property
    def alpha(self) -> float | None:
        """The Pareto alpha of the run, or None when it had no quality model."""
        return (self.stats.get("quality") or {}).get("alpha")

    @property
    def dedup(self) -> dict | None:
        return self.stats.get("dedup")


def open_run(folder: str, text: bool = True) -> Run:
    """Load a run's tables and metadata; `folder` may be any fsspec URL. Without `text`,
    the tables leave out the texts, by far their biggest column (`with_text` fetches the
    texts of the rows one wants to show)."""
    fs, root = fsspec.core.url_to_fs(str(folder))
    with fs.open(f"{root}/stats.json", "r") as fh:
        stats = json.load(fh)
    with fs.open(f"{root}/config.yaml", "r") as fh:
        cfg = yaml.safe_load(fh) or {}
    skip = () if text else ("text",)
    dropped = read_parquet_folder(fs, f"{root}/dropped", skip)
    documents = read_parquet_folder(fs, f"{root}/documents", skip)
    if documents.num_columns == 0:  # no part file at all: give it the dropped rows' columns
        documents = dropped.schema.empty_table().drop_columns(
            [c for c in ("reason", "detail", "duplicate_of") if c in dropped.column_names])
    return Run(str(folder), stats, cfg, documents, dropped)


def part_files(fs, path: str) -> list[str]:
    return sorted(fs.glob(f"{path}/*.parquet"))


def read_parquet_folder(fs, path: str, skip: tuple[str, ...] = ()) -> pa.Table:
    """All part files of a Spark output folder, less the `skip` columns (an empty table
    if there are no part files)."""
    parts = part_files(fs, path)
    if not parts:
        return pa.table({})
    columns = [c for c in pq.read_schema(parts[0], filesystem=fs).names if c not in skip]
    return pa.concat_tables([pq.read_table(p, columns=columns, filesystem=fs) for p in parts],
                            promote_options="default")


def with_text(run: Run, table: pa.Table) -> pa.Table:
    """`table` (rows of the run) with their `text`, read for those ids only: a scan that
    holds one batch at a time, so a report never loads every text of a big run."""
    if "text" in table.column_names:
        return table
    texts = texts_of(run, table["id"].to_pylist())
    return table.append_column("text", pa.array([texts.get(i) for i in table["id"].to_pylist()], pa.string()))


def texts_of(run: Run, ids: list[str]) -> dict[str, str | None]:
    """{id: text} for these ids of the run, from its Parquet (texts may be null: only
    kept, quality and dedup rows keep theirs)."""
    import pyarrow.dataset as ds

    if not ids:
        return {}
    fs, root = fsspec.core.url_to_fs(run.folder)
    wanted = pa.array(sorted(set(ids)), pa.string())
    texts = {}
    for name in ("documents", "dropped"):
        parts = part_files(fs, f"{root}/{name}")
        if parts:
            found = ds.dataset(parts, format="parquet", filesystem=fs).to_table(
                columns=["id", "text"], filter=ds.field("id").isin(wanted))
            texts.update(zip(found["id"].to_pylist(), found["text"].to_pylist()))
    return texts


# ---- plain views of the tables

def rows(table: pa.Table, columns: list[str] | None = None) -> list[dict]:
    return (table.select(columns) if columns else table).to_pylist()


def with_reason(table: pa.Table, reason: str) -> pa.Table:
    """Rows dropped for `reason` ("kept" is not a reason: use run.documents)."""
    return table.filter(pc.equal(table["reason"], reason)) if table.num_rows else table


def domain(url: str | None) -> str:
    """Host of a URL without `www.` and port, or "" when there is none."""
    host = urlsplit(url or "").hostname or ""
    return host[4:] if host.startswith("www.") else host


def add_domain(table: pa.Table) -> pa.Table:
    return table.append_column("domain", pa.array([domain(u) for u in table["url"].to_pylist()], pa.string()))


def source_name(path: str | None) -> str:
    """The input file's name: sources are whole paths, too long for a legend."""
    return (path or "").rstrip("/").rsplit("/", 1)[-1]


def scored_documents(run: Run) -> pa.Table:
    """Every document the quality model scored, with `passed` (the Pareto rule kept it).

    Quality drops keep their score and draw, and so do dedup drops (they passed the
    rule first), so this is documents ∪ dropped rows that have a score.
    """
    columns = ["id", "url", "source", "crawl", "text_chars", "quality_score", "quality_u"]
    columns += ["text"] if "text" in run.documents.column_names else []
    parts = []
    for table, reason in ((run.documents, None), (run.dropped, "reason")):
        if table.num_rows == 0 or "quality_score" not in table.column_names:
            continue
        table = table.filter(pc.is_valid(table["quality_score"]))
        passed = (pc.not_equal(pc.fill_null(table[reason], ""), "quality") if reason
                  else pa.array([True] * table.num_rows, pa.bool_()))
        parts.append(table.select(columns).append_column("passed", passed))
    if not parts:
        types = {"quality_score": pa.float64(), "quality_u": pa.float64(), "text_chars": pa.int32()}
        return pa.table({c: pa.array([], types.get(c, pa.string())) for c in columns} | {"passed": pa.array([], pa.bool_())})
    return pa.concat_tables(parts, promote_options="default")


def in_score_band(table: pa.Table, low: float, high: float) -> pa.Table:
    """Rows with low <= quality_score < high (high = 1 includes 1), best first."""
    scores = table["quality_score"]
    upper = pc.less_equal(scores, high) if high >= 1 else pc.less(scores, high)
    rows_in = table.filter(pc.and_(pc.greater_equal(scores, low), upper))
    return rows_in.take(pc.sort_indices(rows_in, [("quality_score", "descending"), ("id", "ascending")]))


def top_domains(table: pa.Table, n: int = 20) -> list[dict]:
    """The `n` domains with most rows: [{domain, rows}], most first, ties by name."""
    if table.num_rows == 0:
        return []
    counts = add_domain(table).group_by("domain").aggregate([("id", "count")]).to_pylist()
    ranked = sorted(counts, key=lambda r: (-r["id_count"], r["domain"]))[:n]
    return [{"domain": r["domain"], "rows": r["id_count"]} for r in ranked]


def with_domain(table: pa.Table, name: str) -> pa.Table:
    with_column = add_domain(table)
    return with_column.filter(pc.equal(with_column["domain"], name))


# ---- the Pareto rule, re-applied

def keep_probabilities(scores: np.ndarray, alpha: float) -> np.ndarray:
    """GPT-3's P(pareto(alpha) > 1 - s) = (2 - s)^-alpha, vectorised (as quality.keep_probability)."""
    return (2.0 - np.asarray(scores, dtype=float)) ** -alpha


def reselect(scored: pa.Table, alpha: float) -> pa.Table:
    """The scored documents with `passed` recomputed for another alpha (dedup not redone)."""
    scores = scored["quality_score"].to_numpy(zero_copy_only=False)
    draws = scored["quality_u"].to_numpy(zero_copy_only=False)
    passed = pa.array(draws < keep_probabilities(scores, alpha), pa.bool_())
    return scored.set_column(scored.column_names.index("passed"), "passed", passed)


def compare_alphas(scored: pa.Table, alpha_a: float, alpha_b: float) -> dict:
    """What changes between two alphas, from one run's stored scores and draws: documents
    passed at each, at both, and at only one. A smaller alpha keeps a superset (same u,
    higher keep probability), so `only_a` is empty when alpha_a > alpha_b."""
    a = reselect(scored, alpha_a)["passed"].to_numpy(zero_copy_only=False)
    b = reselect(scored, alpha_b)["passed"].to_numpy(zero_copy_only=False)
    return {"scored": scored.num_rows, "passed_a": int(a.sum()), "passed_b": int(b.sum()), "both": int((a & b).sum()),
            "only_a": scored.filter(pa.array(a & ~b)), "only_b": scored.filter(pa.array(b & ~a))}


def keep_ratio_by_band(scored: pa.Table, alpha: float) -> list[dict]:
    """Per score band: documents, share passed (observed) and mean keep probability (expected)."""
    scores = scored["quality_score"].to_numpy(zero_copy_only=False)
    passed = scored["passed"].to_numpy(zero_copy_only=False)
    band = np.clip(np.digitize(scores, SCORE_BANDS[1:-1]), 0, len(SCORE_BANDS) - 2)
    out = []
    for i, (low, high) in enumerate(zip(SCORE_BANDS[:-1], SCORE_BANDS[1:])):
        members = band == i
        n = int(members.sum())
        out.append({"band": f"{low:.1f}-{high:.1f}", "low": float(low), "high": float(high), "documents": n,
                    "kept": int(passed[members].sum()),
                    "observed": float(passed[members].mean()) if n else None,
                    "expected": float(keep_probabilities(scores[members], alpha).mean()) if n else None})
    return out


# ---- dedup clusters

def removed_per_keeper(run: Run) -> list[tuple[str, int]]:
    """(kept id, near-duplicates removed in its favour) for every cluster, biggest first."""
    if run.dropped.num_rows == 0 or "duplicate_of" not in run.dropped.column_names:
        return []
    removed = run.dropped.filter(pc.is_valid(run.dropped["duplicate_of"]))
    counts = removed.group_by("duplicate_of").aggregate([("id", "count")]).to_pylist()
    return sorted(((r["duplicate_of"], r["id_count"]) for r in counts), key=lambda kc: (-kc[1], kc[0]))


def cluster_size_counts(run: Run) -> dict[int, int]:
    """Cluster size (the kept document plus its removed duplicates) -> number of clusters."""
    sizes: dict[int, int] = {}
    for _, removed in removed_per_keeper(run):
        sizes[removed + 1] = sizes.get(removed + 1, 0) + 1
    return dict(sorted(sizes.items()))


def duplicate_clusters(run: Run, limit: int | None = None) -> list[dict]:
    """The `limit` biggest clusters of near-duplicates (all by default): the kept
    document's id and row (None when the keeper is a reference document), and the rows
    dedup removed in its favour."""
    keepers = [k for k, _ in removed_per_keeper(run)][:limit]
    if not keepers:
        return []
    wanted = pa.array(keepers, pa.string())
    removed = run.dropped.filter(pc.is_in(run.dropped["duplicate_of"], wanted))
    kept = {r["id"]: r for r in run.documents.filter(pc.is_in(run.documents["id"], wanted)).to_pylist()}
    by_keeper: dict[str, list[dict]] = {k: [] for k in keepers}
    for row in removed.to_pylist():
        by_keeper[row["duplicate_of"]].append(row)
    clusters = [{"keeper_id": k, "keeper": kept.get(k), "duplicates": sorted(by_keeper[k], key=lambda r: r["id"])}
                for k in keepers]
    if "text" not in run.documents.column_names:  # opened without texts: fetch these few
        members = [r for c in clusters for r in ([c["keeper"]] if c["keeper"] else []) + c["duplicates"]]
        texts = texts_of(run, [r["id"] for r in members])
        for row in members:
            row["text"] = texts.get(row["id"])
    return clusters


# ---- deterministic samples

def sample(table: pa.Table, n: int, seed: str = "sample") -> pa.Table:
    """`n` rows picked by a hash of (seed, id): the same rows on every machine and run."""
    if table.num_rows <= n:
        return table
    keys = [unit_hash(seed, i) for i in table["id"].to_pylist()]
    return table.take(np.argsort(keys, kind="stable")[:n])


def by_score_tercile(table: pa.Table) -> list[tuple[str, pa.Table]]:
    """The table cut into low, middle and high thirds by quality score (rank, not value,
    so each third has documents whatever the score distribution)."""
    if table.num_rows == 0:
        return []
    order = pc.sort_indices(table, [("quality_score", "ascending"), ("id", "ascending")])
    ranked = table.take(order)
    edges = [round(table.num_rows * k / 3) for k in range(4)]
    thirds = [("low", ranked.slice(edges[0], edges[1] - edges[0])),
              ("middle", ranked.slice(edges[1], edges[2] - edges[1])),
              ("high", ranked.slice(edges[2], edges[3] - edges[2]))]
    return [(name, part) for name, part in reversed(thirds) if part.num_rows]


def table_html(records: list[dict], columns: list[str], max_chars: int = 300) -> str:
    """An HTML table of `records` (escaped, long values cut), for notebooks and the report."""
    from html import escape

    def cell(value):
        text = "" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))
        return escape(text if len(text) <= max_chars else text[:max_chars] + " …")

    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in records)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ---- mixtures (jobs/mix.py) and packed sequences (jobs/pack.py)

def open_mixture(folder: str) -> tuple[dict, pa.Table]:
    """A mixture's manifest.json and its documents in training order (by `position`)."""
    fs, root = fsspec.core.url_to_fs(str(folder))
    with fs.open(f"{root}/manifest.json", "r") as fh:
        manifest = json.load(fh)
    table = read_parquet_folder(fs, f"{root}/documents")
    return manifest, table.take(pc.sort_indices(table, [("position", "ascending")]))


def dataset_shares_over_training(mixture: pa.Table, slices: int = 20) -> dict[str, np.ndarray]:
    """Each dataset's share of the tokens in each of `slices` equal stretches of training:
    flat lines at the weights mean the order spreads every dataset evenly. A document's
    tokens count in every stretch it spans, not only where it starts."""
    tokens = mixture["tokens"].to_numpy(zero_copy_only=False).astype(float)
    ends = np.concatenate([[0.0], np.cumsum(tokens)])  # training point at each document boundary
    bounds = np.linspace(0.0, ends[-1], slices + 1)
    datasets = np.array(mixture["dataset"].to_pylist(), dtype=object)
    shares = {}
    for name in sorted(set(datasets)):
        # Tokens of `name` before each boundary: linear inside a document, so interp is exact.
        before = np.concatenate([[0.0], np.cumsum(np.where(datasets == name, tokens, 0.0))])
        shares[name] = np.diff(np.interp(bounds, ends, before)) / max(ends[-1] / slices, 1e-9)
    return shares


def row_pieces(shards, shard: int, row: int) -> list[dict]:
    """One packed row of a `pack.TokenShards`, decoded: [{document, tokens, text}] in row
    order. `document` is the index in the packed stream (a mixture's `position`, since the
    mixture holds no empty text); the first and last piece may continue in the rows around."""
    from . import gpt2

    tokens = np.asarray(shards.rows(shard)[row])
    if shard == len(shards.shards) - 1 and row == len(shards.rows(shard)) - 1 and shards.meta["pad_tokens"]:
        tokens = tokens[:len(tokens) - shards.meta["pad_tokens"]]  # the EOT padding of the tail row
    cuts = np.flatnonzero(tokens == gpt2.EOT) + 1
    segments = [s for s in np.split(tokens, cuts) if len(s)]
    documents = shards.row_documents(shard, row)
    assert len(segments) == len(documents), (shard, row, len(segments), documents)
    return [{"document": d, "tokens": len(s), "text": gpt2.decode([int(t) for t in s if t != gpt2.EOT])}
            for d, s in zip(documents, segments)]
