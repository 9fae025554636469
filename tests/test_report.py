"""The run report and the Spark-free run reader, on real filter runs of the bundled sample."""
from __future__ import annotations

import collections
import re

import pyarrow.parquet as pq
import pytest

from corpus_pipeline import quality, report, runs, stats as run_stats

# The runs as a plugin, not imported fixtures: one session-wide copy of each run, shared by
# both modules (an imported fixture is a separate fixture, and runs again, in each module).
pytest_plugins = ("tests.filter_runs",)
SCORED_ALPHA = 0.5  # filter_runs.SCORED_ALPHA (importing it here would import the plugin early)

PLOTS = 7  # outcomes, funnel, score histograms, keep ratio, languages, lengths, cluster sizes
INGESTED = 116  # documents the sample yields before quality and dedup (README reference run)


@pytest.fixture(scope="module")
def scored(scored_run):
    out, stats = scored_run
    return runs.open_run(str(out)), stats


@pytest.fixture(scope="module")
def scored_report(scored_run):
    out, _ = scored_run
    return report.write_report(str(out)), pq.read_table(out / report.SAMPLES_FILE)


def test_reader_sees_every_record_of_the_run(scored):
    run, stats = scored
    assert run.documents.num_rows == stats["kept"]
    assert collections.Counter(run.dropped["reason"].to_pylist()) == stats["dropped"]
    assert run.alpha == SCORED_ALPHA and run.dedup["docs"] == stats["kept"] + stats["dropped"]["duplicate"]


def test_scored_documents_are_documents_and_quality_and_dedup_drops(scored):
    run, stats = scored
    table = runs.scored_documents(run)
    assert table.num_rows == INGESTED == stats["kept"] + stats["dropped"]["quality"] + stats["dropped"]["duplicate"]
    assert sum(table["passed"].to_pylist()) == INGESTED - stats["dropped"]["quality"]


def test_reselection_at_the_run_alpha_reproduces_the_run_and_at_9_the_reference_run(scored):
    run, _ = scored
    table = runs.scored_documents(run)
    assert runs.reselect(table, SCORED_ALPHA)["passed"].to_pylist() == table["passed"].to_pylist()
    # README reference run (alpha 9, same model and seed): the Pareto rule keeps 3 of 116.
    assert sum(runs.reselect(table, 9.0)["passed"].to_pylist()) == 3
    one = table.slice(0, 1).to_pylist()[0]
    assert runs.keep_probabilities([one["quality_score"]], 9.0)[0] == \
        pytest.approx(quality.keep_probability(one["quality_score"], 9.0))


def test_keep_ratio_by_band_counts_every_scored_document(scored):
    run, _ = scored
    bands = runs.keep_ratio_by_band(runs.scored_documents(run), SCORED_ALPHA)
    assert [b["band"] for b in bands][:2] == ["0.0-0.1", "0.1-0.2"] and len(bands) == 10
    assert sum(b["documents"] for b in bands) == INGESTED
    assert sum(b["kept"] for b in bands) == sum(runs.scored_documents(run)["passed"].to_pylist())
    for band in (b for b in bands if b["documents"]):
        assert band["low"] <= 2 - (band["expected"] ** (-1 / SCORED_ALPHA)) <= band["high"] + 1e-9
        assert band["observed"] == pytest.approx(band["kept"] / band["documents"])


def test_duplicate_clusters_pair_each_kept_document_with_its_removed_copies(scored):
    run, stats = scored
    clusters = runs.duplicate_clusters(run)
    assert sum(len(c["duplicates"]) for c in clusters) == stats["dropped"]["duplicate"] > 0
    kept_ids = set(run.documents["id"].to_pylist())
    for cluster in clusters:
        assert cluster["keeper"]["id"] == cluster["keeper_id"] in kept_ids
        assert {d["duplicate_of"] for d in cluster["duplicates"]} == {cluster["keeper_id"]}
    assert [len(c["duplicates"]) for c in clusters] == sorted((len(c["duplicates"]) for c in clusters), reverse=True)
    assert sum(runs.cluster_size_counts(run).values()) == len(clusters)
    assert runs.duplicate_clusters(run, limit=1) == clusters[:1]
    without_texts = runs.open_run(run.folder, text=False)
    assert "text" not in without_texts.documents.column_names
    assert runs.duplicate_clusters(without_texts) == clusters  # texts fetched for the members


def test_report_is_self_contained_html_with_every_plot(scored_report, scored):
    path, _ = scored_report
    html = open(path, encoding="utf-8").read()
    assert html.startswith("<!DOCTYPE html>")
    assert len(re.findall(r"<img alt='[^']+' src='data:image/png;base64,[A-Za-z0-9+/=]+'>", html)) == PLOTS
    assert "nothing to plot" not in html
    assert not re.search(r"(src|href)='(?!data:|https?://[^']*')", html.replace("<a href=", "<a hre="))
    run, _ = scored
    assert f"alpha {SCORED_ALPHA}" in html and run.stats["code_version"] in html
    removed = run.stats["repeated_lines"]
    assert f"{removed['lines_removed']:,} lines ({removed['chars_removed']:,} characters) removed" in html


def test_funnel_goes_from_records_read_to_kept_with_the_runs_counts(scored_report, scored):
    run, stats = scored
    steps = dict(run_stats.funnel(stats))
    assert list(steps) == ["records read", "ingested", "selected", "deduplicated", "kept"]
    assert (steps["records read"], steps["ingested"], steps["kept"]) == (stats["records_read"], INGESTED, stats["kept"])
    assert steps["ingested"] - steps["selected"] == stats["dropped"]["quality"]
    assert steps["selected"] - steps["deduplicated"] == stats["dropped"]["duplicate"] > 0
    assert steps["deduplicated"] - steps["kept"] == stats["dropped"].get("repeated_lines", 0)
    html = open(scored_report[0], encoding="utf-8").read()
    assert "<img alt='funnel'" in html
    for step, n in steps.items():
        assert f"<td>{step}</td><td>{n:,}</td>" in html


def test_language_mix_counts_every_record_language_id_saw(scored):
    run, stats = scored
    counts = report.language_counts(run)
    # Every ingested document has a language, and so has every language drop; nothing else does.
    assert sum(sum(c.values()) for c in counts.values()) == INGESTED + stats["dropped"]["language"]
    assert sum(c.get("ingest", 0) for c in counts.values()) == stats["dropped"]["language"]
    # The sample's English pages dropped for quality or as duplicates are in the chart too.
    assert counts["en"] == {"kept": stats["kept"], "select": stats["dropped"]["quality"],
                            "dedup": stats["dropped"]["duplicate"], "ingest": counts["en"]["ingest"]}


def test_summary_reads_as_text(scored):
    run, stats = scored
    summary = report.summary_html(run)
    assert "{" not in summary and "[" not in summary
    assert f"removed duplicate {stats['dropped']['duplicate']:,} (" in summary


def test_samples_cover_every_decision_and_match_the_run(scored_report, scored):
    _, samples = scored_report
    run, stats = scored
    counts = collections.Counter(samples["decision"].to_pylist())
    expected = {f"dropped: {reason}": min(n, report.SAMPLES_PER_DECISION) for reason, n in stats["dropped"].items()}
    expected.update({"kept, high score": 3, "kept, middle score": 3, "kept, low score": 3})
    assert counts == expected
    kept = {r["id"]: r for r in run.documents.to_pylist()}
    dropped = {r["id"]: r for r in run.dropped.to_pylist()}
    for row in samples.to_pylist():
        source = kept[row["id"]] if row["decision"].startswith("kept") else dropped[row["id"]]
        # The report reads texts for the sampled rows only: they must be those rows' texts.
        assert (row["url"], row["quality_score"], row["reason"], row["text"]) == \
            (source["url"], source["quality_score"], source.get("reason"), source["text"])
    high, low = ([r["quality_score"] for r in samples.to_pylist() if r["decision"] == f"kept, {t} score"]
                 for t in ("high", "low"))
    assert min(high) > max(low)
    html = open(scored_report[0], encoding="utf-8").read()
    assert all(f"id {row['id']}" in html for row in samples.to_pylist())


def test_samples_are_the_same_on_every_write(scored_run, scored_report):
    out, _ = scored_run
    first = scored_report[1]
    report.write_report(str(out))
    assert pq.read_table(out / report.SAMPLES_FILE).equals(first)


def test_report_of_a_run_without_quality_dedup_or_documents(empty_run):
    out, stats = empty_run
    assert stats["kept"] == 0 and stats["quality"] is None and stats["dedup"] is None
    # As a job writing its temporary folder calls it: the title names the final folder.
    html = open(report.write_report(str(out), title="output/empty"), encoding="utf-8").read()
    assert "<title>corpus-pipeline run report: output/empty</title>" in html
    for plot in ("quality scores", "keep ratio by score band", "dedup cluster sizes"):
        assert f"{plot}: nothing to plot in this run." in html
    assert "no quality model" in html and "No duplicate clusters in this run." in html
    assert "0 lines (0 characters) removed from 0 documents" in html
    samples = pq.read_table(out / report.SAMPLES_FILE)
    assert set(samples["decision"].to_pylist()) == {f"dropped: {r}" for r in stats["dropped"]}
    assert runs.open_run(str(out)).documents.num_rows == 0


def test_sample_text_and_urls_are_escaped():
    row = {"text": "<script>alert(1)</script> & more", "detail": None, "quality_score": 0.5, "duplicate_of": None,
           "url": "http://x.test/?a=1&b='2'", "text_chars": 30, "lang": "en", "source": "/d/f.warc.gz", "id": "i"}
    html = report.sample_html(row)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "http://x.test/?a=1&amp;b=&#x27;2&#x27;" in html


def test_domains_and_source_names():
    assert runs.domain("http://www.omya.de:80/a") == "omya.de" and runs.domain(None) == ""
    assert runs.source_name("file:/data/sample/x.warc.gz") == "x.warc.gz"


def test_report_command_rewrites_a_run_and_refuses_a_folder_that_is_not_one(empty_run, tmp_path):
    import subprocess
    import sys

    from .conftest import REPO

    out, _ = empty_run
    (out / report.REPORT_FILE).unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "jobs/report.py", str(out)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"{out}/{report.REPORT_FILE}"
    assert (out / report.REPORT_FILE).is_file()
    refused = subprocess.run([sys.executable, "jobs/report.py", str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"report.py: error: {tmp_path} is not a finished filter run " \
                                     f"({tmp_path}/stats.json is missing)"
