"""The block-model trainer (corpus_pipeline.boilerplate_training) on a small real subset of
the gold sets: deterministic to the byte, with a manifest that names its data and code. The
full retrain (2,417 pages, about a minute) reproduces the shipped weights; run it with
`python jobs/train_boilerplate.py` (README "Extraction accuracy and cost")."""
from __future__ import annotations

import json

from corpus_pipeline import boilerplate, boilerplate_training, code_version, extract, goldsets

from .conftest import ENGLISH_PAGE, shared_file

SUBSET = ["CleanPortalEval", "htmltotext"]  # two small general-web sets, 12 pages each


def test_two_runs_write_the_same_model_bytes(tmp_path):
    root = shared_file("web_html")
    first = boilerplate_training.train_and_write(root, SUBSET, tmp_path / "a" / "boilerplate_model.json", limit=12)
    second = boilerplate_training.train_and_write(root, SUBSET, tmp_path / "b" / "boilerplate_model.json", limit=12)
    text = (tmp_path / "a" / "boilerplate_model.json").read_text()
    assert text == (tmp_path / "b" / "boilerplate_model.json").read_text()
    assert first["model_digest"] == second["model_digest"] == boilerplate_training.model_digest(text)
    assert first["model_version"] == "boilerplate-" + first["model_digest"][:12]
    assert first["code_version"] == code_version()
    assert first["data"]["gold_pages"] == dict.fromkeys(SUBSET, 12)
    assert first["params"]["limit_per_dataset"] == 12 and first["params"]["label_min_precision"] == 0.5
    pages, _ = goldsets.load_pages(root, SUBSET, 12)
    assert first["data"]["fingerprint"] == goldsets.fingerprint(pages)
    on_disk = json.loads((tmp_path / "a" / "boilerplate_manifest.json").read_text())
    assert on_disk["model_digest"] == first["model_digest"]

    model = boilerplate.BlockModel(**json.loads(text))
    assert model.meta["trained_on"] == SUBSET and model.threshold in boilerplate_training.THRESHOLDS
    assert extract.extract_main_text(ENGLISH_PAGE, block_model=model).startswith("The old harbour")


def test_a_different_subset_gives_different_weights(tmp_path):
    root = shared_file("web_html")
    a = boilerplate_training.train_and_write(root, SUBSET, tmp_path / "a.json", limit=12)
    b = boilerplate_training.train_and_write(root, SUBSET[:1], tmp_path / "b.json", limit=12)
    assert a["model_digest"] != b["model_digest"] and a["data"]["fingerprint"] != b["data"]["fingerprint"]


def test_the_manifest_sits_beside_the_model():
    assert boilerplate_training.manifest_path(boilerplate.MODEL_FILE) == boilerplate.MODEL_FILE.with_name(
        "boilerplate_manifest.json")
    assert boilerplate_training.manifest_path(boilerplate.MODEL_FILE.with_name("held_out.json")).name == \
        "held_out_manifest.json"
