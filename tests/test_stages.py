"""The filter as a chain of stages: a re-run re-does only the stages whose settings changed.

On the bundled real sample with the shipped quality model: another alpha re-runs select and
what follows and reads no input file (ingest writes no row); a new model version re-runs
tagging, not ingest; switching a Gopher rule on re-runs select only; and what an
incremental run writes equals a fresh run's output.
"""
from __future__ import annotations

import dataclasses
import json
import shutil

import pyarrow.parquet as pq
import pytest

from corpus_pipeline import config, quality, rules, runs
from corpus_pipeline.spark.filter import run_filter

from .conftest import REPO
from .test_filter_job import SAMPLE_FILES

MODEL = str(REPO / "models" / "quality")


def sample_config(output, alpha: float = 9.0, model: str = MODEL) -> config.FilterConfig:
    return config.FilterConfig(output=str(output), quality=config.QualityConfig(model=model, alpha=alpha))


def scores(folder) -> dict[str, tuple]:
    """{id: (quality_score, quality_u)} of every document the run scored."""
    table = runs.scored_documents(runs.open_run(str(folder), text=False))
    return dict(zip(table["id"].to_pylist(), zip(table["quality_score"].to_pylist(), table["quality_u"].to_pylist())))


def rows(folder) -> list[str]:
    """Every output row, all columns, in a fixed order."""
    run = runs.open_run(str(folder))
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in run.documents.to_pylist() + run.dropped.to_pylist())


@pytest.fixture(scope="module")
def first_run(spark, tmp_path_factory):
    out = tmp_path_factory.mktemp("chain") / "out"
    return out, run_filter(spark, sample_config(out), SAMPLE_FILES)


def test_another_alpha_reruns_select_and_after_without_reading_input(spark, first_run, tmp_path):
    out, first = first_run
    assert first["stages"]["ingest"]["rows_written"] == 311 and first["stages"]["tag"]["rows_written"] == 116
    before = scores(out)
    again = run_filter(spark, sample_config(out, alpha=3.0), SAMPLE_FILES)
    assert again["stages"] == {"ingest": {"files_processed": 0, "files_reused": 6, "rows_written": 0},
                               "tag": {"files_processed": 0, "files_reused": 6, "rows_written": 0},
                               "select": "ran", "dedup": "ran", "repeated_lines": "ran", "decontam": "off"}
    assert scores(out) == before and len(before) == 116  # every score and draw as the first run made it
    assert again["kept"] > first["kept"]  # alpha 3 keeps more than 9
    fresh = tmp_path / "fresh"
    run_filter(spark, sample_config(fresh, alpha=3.0), SAMPLE_FILES)
    assert rows(out) == rows(fresh)
    unchanged = run_filter(spark, sample_config(out, alpha=3.0), SAMPLE_FILES)
    assert [unchanged["stages"][s] for s in ("select", "dedup", "repeated_lines")] == ["reused"] * 3
    assert rows(out) == rows(fresh)


def test_a_new_model_version_reruns_tagging_not_ingest(spark, first_run, tmp_path):
    out, first = first_run
    model = tmp_path / "model"
    shutil.copytree(MODEL, model)
    manifest = json.loads((model / "manifest.json").read_text())
    (model / "manifest.json").write_text(json.dumps(dict(manifest, model_version="quality-retrained")))
    stats = run_filter(spark, sample_config(out, model=str(model)), SAMPLE_FILES)
    assert stats["stages"]["ingest"] == {"files_processed": 0, "files_reused": 6, "rows_written": 0}
    assert stats["stages"]["tag"] == {"files_processed": 6, "files_reused": 0, "rows_written": 116}
    assert stats["stages"]["select"] == "ran" and stats["quality"]["model_version"] == "quality-retrained"
    assert stats["kept"] == first["kept"]  # the same weights under another version: the same decisions


def test_switching_a_rule_on_reruns_select_only(spark, first_run):
    """Gopher quality on: tags are reused; exactly the documents the Pareto rule passes and
    `rules.first_failure` fails on their tagged measurements are dropped as gopher_quality."""
    out, first = first_run
    run_filter(spark, sample_config(out), SAMPLE_FILES)  # the first run's settings (other tests change them)
    on = dataclasses.replace(sample_config(out), rules=config.RulesConfig(gopher_quality=True))
    stats = run_filter(spark, on, SAMPLE_FILES)
    assert stats["stages"]["ingest"]["files_processed"] == 0 and stats["stages"]["tag"]["files_processed"] == 0
    assert stats["stages"]["select"] == "ran"
    tagged = pq.read_table(out.parent / "out.shards" / "tag")  # every document with its measurements
    measured = [dict(zip(rules.TAG_NAMES, values)) | {"id": i, "score": s, "u": u}
                for i, s, u, *values in zip(*[tagged[c].to_pylist() for c in ("id", "quality_score", "quality_u",
                                                                            *rules.TAG_NAMES)])]
    passed = [m for m in measured if quality.keeps(m["score"], m["u"], 9.0)]
    expected = {m["id"] for m in passed if rules.first_failure(m, on.rules)}
    dropped = runs.with_reason(runs.open_run(str(out), text=False).dropped, "gopher_quality")
    assert set(dropped["id"].to_pylist()) == expected and expected  # the sample has such pages
    assert all(detail for detail in dropped["detail"].to_pylist())
    assert stats["dropped"]["gopher_quality"] == len(expected) and stats["records_read"] == 311
