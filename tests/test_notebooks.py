"""The notebooks run headless (nbclient + ipykernel) on real outputs; a failing cell fails the test.

The run notebook reads real filter runs of the bundled sample; the mixture notebook reads a
mixture built by the Spark mix stage from one of them, packed by `pack.pack_texts`, which
writes the same bytes as the Spark pack job.
"""
from __future__ import annotations

import pytest

from corpus_pipeline import config, pack, runs

from .conftest import REPO, SAMPLE
# The runs as a plugin, not imported fixtures: one session-wide copy of each run, shared by
# both modules (an imported fixture is a separate fixture, and runs again, in each module).
pytest_plugins = ("tests.filter_runs",)
SCORED_ALPHA = 0.5  # filter_runs.SCORED_ALPHA (importing it here would import the plugin early)

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = REPO / "notebooks"
KERNEL = "corpus-pipeline-tests"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A kernel spec for this interpreter, so the notebooks run in the test's environment
    whatever kernels the machine has installed."""
    from ipykernel.kernelspec import write_kernel_spec

    root = tmp_path_factory.mktemp("jupyter")
    write_kernel_spec(root / "kernels" / KERNEL)
    return root


def execute(name: str, kernel_root, monkeypatch, **env) -> str:
    """Run every cell of a notebook (raising on the first failing one); return its printed text."""
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_root))
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name=KERNEL,
                            resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.outputs if output.output_type == "stream")


def test_notebooks_are_committed_without_outputs():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        assert all(not c.get("outputs") for c in cells if c.cell_type == "code"), path.name


def test_explore_run_notebook_on_a_scored_and_deduplicated_run(scored_run, kernel, monkeypatch):
    out, stats = scored_run
    text = execute("explore_run.ipynb", kernel, monkeypatch, CORPUS_RUN=out, CORPUS_OTHER_ALPHA=9)
    passed = stats["kept"] + stats["dropped"]["duplicate"]
    assert f"alpha {SCORED_ALPHA}: {passed} of 116 scored documents pass" in text
    assert "alpha 9.0: 3 of 116 scored documents pass" in text  # the README reference run
    assert "only at 9.0: 0" in text  # a larger alpha keeps a subset
    # On the sample at alpha 0.5, each removed duplicate is the one copy of its kept document.
    assert f"clusters, sizes (kept + removed -> clusters): {{2: {stats['dropped']['duplicate']}}}" in text


def test_explore_run_notebook_on_a_run_without_quality_dedup_or_documents(empty_run, kernel, monkeypatch):
    out, _ = empty_run
    text = execute("explore_run.ipynb", kernel, monkeypatch, CORPUS_RUN=out)
    assert "this run has no quality scores" in text
    assert "this run has no quality model: nothing to re-select" in text
    assert "0 clusters" in text


@pytest.fixture(scope="module")
def mixture_and_tokens(spark, scored_run, tmp_path_factory):
    """A mixture of the scored run (70%) and the sample's two non-CC crawls (30%, imported),
    packed into 2048-token rows, 8 rows a shard."""
    from corpus_pipeline.spark.imports import import_sources
    from corpus_pipeline.spark.mix import build_mixture

    out, _ = scored_run
    root = tmp_path_factory.mktemp("mixture")
    other = config.ReferenceSource("other_crawls", "warc", str(SAMPLE / "w*.warc.gz"))
    import_sources(spark, [other], config.IngestConfig(), str(root / "import"))
    cfg = config.MixConfig(total_tokens=60_000, seed=1234, output=str(root / "mix"), order_buckets=8, datasets=(
        config.MixDataset(name="filtered_web", format="filter", path=str(out), weight=0.7),
        config.MixDataset(name="other_crawls", format="parquet", path=str(root / "import/other_crawls/documents"),
                          weight=0.3)))
    build_mixture(spark, cfg)
    _, mixture = runs.open_mixture(cfg.output)
    meta = pack.pack_texts(mixture["text"].to_pylist(), root / "tokens", seq_len=2048, rows_per_shard=8)
    return root / "mix", root / "tokens", mixture, meta


def test_mixture_notebook_decodes_packed_rows_back_to_the_mixture(mixture_and_tokens, kernel, monkeypatch):
    mix_folder, tokens, mixture, meta = mixture_and_tokens
    text = execute("mixture_and_tokens.ipynb", kernel, monkeypatch, CORPUS_MIX=mix_folder, CORPUS_TOKENS=tokens)
    assert f"{mixture.num_rows} documents" in text and meta["documents"] == mixture.num_rows
    assert meta["dropped_tokens"] > 0  # the tail cuts the last document: all others decode whole
    assert f"{meta['documents'] - meta['documents_dropped'] - 1} complete documents decode to their mixture text" in text
    assert "row 0 of shard 0: 2048 tokens from " in text


@pytest.mark.parametrize("name, env", [("explore_run.ipynb", "CORPUS_RUN"), ("mixture_and_tokens.ipynb", "CORPUS_MIX")])
def test_a_notebook_without_its_outputs_says_which_jobs_to_run(name, env, kernel, monkeypatch, tmp_path):
    with pytest.raises(nbclient.exceptions.CellExecutionError) as failed:
        execute(name, kernel, monkeypatch, **{env: tmp_path / "nothing", "CORPUS_TOKENS": tmp_path / "none"})
    assert "FileNotFoundError" in str(failed.value) and "spark-submit jobs/filter.py" in str(failed.value)


def test_dataset_shares_over_training_average_to_the_realised_shares(mixture_and_tokens):
    import numpy as np

    mix_folder, _, mixture, _ = mixture_and_tokens
    manifest, _ = runs.open_mixture(mix_folder)
    shares = runs.dataset_shares_over_training(mixture, slices=10)
    assert np.allclose(sum(shares.values()), 1.0)  # every stretch of training is all accounted for
    for dataset in manifest["datasets"]:  # equal stretches: their mean share is the whole mixture's
        assert np.mean(shares[dataset["name"]]) == pytest.approx(dataset["share_realised"], abs=1e-6)


def test_packed_rows_decode_to_pieces_of_their_documents(mixture_and_tokens):
    _, tokens, mixture, meta = mixture_and_tokens
    shards = pack.TokenShards(tokens)
    whole = 0
    for shard in range(len(shards.shards)):
        for row in range(len(shards.rows(shard))):
            pieces = runs.row_pieces(shards, shard, row)
            assert sum(p["tokens"] for p in pieces) == meta["row_len"]
            # Whole documents of the row decode to their mixture text exactly.
            for piece in pieces[1:-1]:
                assert piece["text"] == mixture["text"][piece["document"]].as_py()
                whole += 1
    assert whole > 0  # the sample mixture has short documents that sit inside one row
