"""Real filter runs on the bundled sample, shared by the report and notebook tests.

Session-scoped, so a test session that runs both modules pays for each run once. A test
module uses them with `pytest_plugins = ("tests.filter_runs",)`.
"""
from __future__ import annotations

import pytest

from corpus_pipeline import config, inputs, report
from corpus_pipeline.spark.filter import run_filter

from .conftest import REPO, SAMPLE

SAMPLE_FILES = inputs.expand([str(SAMPLE)])
# alpha 0.5 instead of GPT-3's 9: on the sample, 9 keeps 7 of 123 documents and leaves dedup
# nothing to remove; 0.5 keeps most of them, among them both halves of near-duplicate pairs.
SCORED_ALPHA = 0.5


@pytest.fixture(scope="session")
def scored_run(spark, tmp_path_factory):
    """Shipped quality model at alpha 0.5, then dedup: (output folder, stats)."""
    out = tmp_path_factory.mktemp("scored") / "out"
    cfg = config.FilterConfig(output=str(out),
                              quality=config.QualityConfig(model=str(REPO / "models" / "quality"), alpha=SCORED_ALPHA))
    return out, run_with_report(spark, cfg, SAMPLE_FILES)


@pytest.fixture(scope="session")
def empty_run(spark, tmp_path_factory):
    """No quality model, no dedup, and nothing kept (every text is too short): (folder, stats)."""
    out = tmp_path_factory.mktemp("empty") / "out"
    cfg = config.FilterConfig(output=str(out), ingest=config.IngestConfig(min_chars=10**9),
                              quality=config.QualityConfig(model=""), dedup=config.DedupConfig(enabled=False))
    return out, run_with_report(spark, cfg, SAMPLE_FILES[:2])


def run_with_report(spark, cfg: config.FilterConfig, files: list[str]) -> dict:
    """What jobs/filter.py does: the chain, then the report drawn from its output."""
    stats = run_filter(spark, cfg, files)
    report.write_report(cfg.output)
    return stats
