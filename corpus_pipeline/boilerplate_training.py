"""Learn the block classifier of `boilerplate.py` from human-gold pages, with its manifest.

Consumes the gold sets of `goldsets.py` (CleanEval, CleanPortalEval, Scrapinghub,
htmltotext, L3S-GN1, Dragnet); produces a `boilerplate.BlockModel`, its JSON text (the
format `boilerplate.load_model` reads) and a manifest saying what it was trained on (a
fingerprint of the gold pages), with which code and parameters, as the quality model's
manifest does. `jobs/train_boilerplate.py` runs it; `bench/extract_bench.py` fits one model
per dataset with that dataset left out (`fit`) to score it on pages it never saw.

Each page goes through the same steps as at run time: decode, parse, Resiliparse's
minimal-HTML output split into blocks, block features. Comment sections are left out of
every view, forum pages' too (their posts are kept at run time): labelled with them, the
held-out F1 of the general-web sets fell by 0.001 (bench/extract_bench.py). A block is labelled content when at
least half of its lower-cased tokens occur in the page's gold text (the label rule of
Dragnet, Peters & Lecocq 2013, on token precision). A logistic regression is fitted on
standardised features.
- Both views of a page are used: Resiliparse's main-content output, and the whole page's,
  which the run-time fallback classifies when the first keeps too little
  (boilerplate.main_text).
- Each dataset weighs the same in the fit (its blocks share one unit of weight), so that
  the 1,105 Dragnet pages do not turn the model into a news-article extractor.
- The decision threshold is the one of a fixed grid that maximises the mean over datasets
  of the mean page F1.
- Deterministic: same data, same weights (lbfgs, no random state), byte for byte.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn import __version__ as sklearn_version
from sklearn.linear_model import LogisticRegression

from . import boilerplate, code_version, goldsets
from .extract import decode_html, parse_html

LABEL_MIN_PRECISION = 0.5
REGULARISATION_C = 1.0
THRESHOLDS = np.round(np.arange(0.10, 0.71, 0.05), 2)
log = logging.getLogger(__name__)


def labelled_pages(pages: dict[str, list]) -> dict[str, list]:
    """{dataset: per page (gold, fold, views)} from goldsets.load_pages' {dataset: rows}, a
    view being (block texts, features, labels) of the main-content blocks or of the whole
    page's blocks (the run-time fallback sees those). Pages with no block in either view are
    left out: they teach nothing."""
    labelled = {}
    for i, (dataset, rows) in enumerate(pages.items(), 1):
        fold = goldsets.fold_for(dataset)
        labelled[dataset] = [page for page in (labelled_page(row, fold) for row in rows)
                             if any(texts for texts, _, _ in page[2])]
        # Parsing and labelling is most of the training time: a line per gold set.
        log.info("progress: gold set %d/%d %s: %d pages labelled", i, len(pages), dataset, len(labelled[dataset]))
    return labelled


def labelled_page(row, fold):
    _, data, gold = row
    tree = parse_html(decode_html(data)[0])
    return gold, fold, [labelled_blocks(boilerplate.page_blocks(tree, main), gold, fold) for main in (True, False)]


def labelled_blocks(blocks: list, gold: str, fold):
    texts = [text for _, text, _ in blocks]
    features = boilerplate.block_features(blocks) if blocks else np.zeros((0, boilerplate.N_FEATURES))
    return texts, features, block_labels(texts, gold, fold)


def block_labels(texts: list[str], gold: str, fold) -> np.ndarray:
    words = Counter(fold(gold).lower().split())
    share = [np.mean([w in words for w in fold(t).lower().split()]) for t in texts]
    return np.array(share) >= LABEL_MIN_PRECISION


def fit(pages: dict[str, list]) -> boilerplate.BlockModel:
    """Fitted on every non-empty view of labelled_pages' output; each dataset's blocks share
    one unit of weight."""
    views = [[view for _, _, page_views in rows for view in page_views if view[0]] for rows in pages.values()]
    x = np.vstack([features for rows in views for _, features, _ in rows])
    y = np.concatenate([labels for rows in views for _, _, labels in rows])
    blocks = [sum(len(texts) for texts, _, _ in rows) for rows in views]
    weight = np.repeat([1 / n for n in blocks], blocks)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    lr = LogisticRegression(C=REGULARISATION_C, max_iter=5000).fit(
        (x - mean) / scale, y, sample_weight=weight / weight.mean())
    model = boilerplate.BlockModel(mean, scale, lr.coef_[0], lr.intercept_[0], 0.5)
    threshold, f1 = best_threshold(model, pages)
    # The keys and their order are those of the shipped JSON: a retrain must give its bytes.
    meta = dict(trained_on=list(pages), pages=sum(map(len, pages.values())), blocks=len(y),
                content_blocks=int(y.sum()), fallback_min_chars=boilerplate.FALLBACK_MIN_CHARS,
                training_f1=round(f1, 4), label_min_precision=LABEL_MIN_PRECISION, C=REGULARISATION_C,
                sklearn=sklearn_version)
    return boilerplate.BlockModel(mean, scale, lr.coef_[0], lr.intercept_[0], threshold, **meta)


def best_threshold(model: boilerplate.BlockModel, pages: dict[str, list]) -> tuple[float, float]:
    """The grid threshold with the best mean over datasets of the mean page F1, and that F1."""
    scores = {}
    for threshold in THRESHOLDS:
        model.set_threshold(threshold)
        scores[float(threshold)] = float(np.mean([
            np.mean([goldsets.bag_of_words_prf(fold(run_time_text(views, model)), fold(gold))[2]
                     for gold, fold, views in rows]) for rows in pages.values()]))
        log.info("threshold %.2f: training F1 %.4f", threshold, scores[float(threshold)])
    best = max(scores, key=scores.get)
    return best, scores[best]


def run_time_text(views: list, model: boilerplate.BlockModel) -> str:
    """What boilerplate.main_text returns, from the precomputed blocks and features."""
    texts = view_texts(views, model)
    if len(texts[0]) < boilerplate.FALLBACK_MIN_CHARS and len(texts[1]) > len(texts[0]):
        return texts[1]
    return texts[0]


def view_texts(views: list, model: boilerplate.BlockModel) -> list[str]:
    """The text the model keeps from each view (main-content blocks, whole page's blocks)."""
    return [boilerplate.select(texts, features, model) if texts else "" for texts, features, _ in views]


def model_text(model: boilerplate.BlockModel) -> str:
    """The JSON that boilerplate.load_model reads, exactly as the shipped file is written."""
    return json.dumps(model.to_json(), indent=1) + "\n"


def model_digest(text: str) -> str:
    """16 hex digits of the model file's SHA-256, as boilerplate.shipped_model_digest."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def manifest(text: str, pages: dict[str, list], root: Path, limit: int | None = None) -> dict:
    """What a model file was made from: its digest, the code, the parameters, the gold pages."""
    digest = model_digest(text)
    return {
        "model_version": f"boilerplate-{digest[:12]}",
        "model_digest": digest,
        "created_unix": int(time.time()),
        "code_version": code_version(),
        "params": {"label_min_precision": LABEL_MIN_PRECISION, "C": REGULARISATION_C,
                   "thresholds": [float(t) for t in THRESHOLDS], "fallback_min_chars": boilerplate.FALLBACK_MIN_CHARS,
                   "limit_per_dataset": limit, "sklearn": sklearn_version, "numpy": np.__version__},
        "data": {"root": os.path.relpath(root), "fingerprint": goldsets.fingerprint(pages),
                 "gold_pages": {name: len(rows) for name, rows in pages.items()}},
    }


def manifest_path(model_path: Path) -> Path:
    """The manifest beside a model: boilerplate_model.json -> boilerplate_manifest.json."""
    stem = model_path.name.removesuffix(".json").removesuffix("_model")
    return model_path.with_name(f"{stem}_manifest.json")


def train_and_write(root: Path, datasets, output: Path, limit: int | None = None) -> dict:
    """Train on the gold pages of `datasets` (keys of goldsets.GOLD_SETS), at most `limit` per
    set; write the model to `output` and its manifest beside it; return the manifest."""
    pages, _ = goldsets.load_pages(root, datasets, limit)
    text = model_text(fit(labelled_pages(pages)))
    found = manifest(text, pages, root, limit)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    manifest_path(output).write_text(json.dumps(found, indent=1) + "\n", encoding="utf-8")
    return found


def train_command(args) -> dict:
    """jobs/train_boilerplate.py: train on every gold set but the held-out ones; the manifest."""
    from .errors import UserError

    try:
        root = goldsets.find_root(args.data)
    except FileNotFoundError as err:
        raise UserError(f"{err}; pass --data DIR") from None
    datasets = [name for name in goldsets.GOLD_SETS if name not in args.hold_out]
    return train_and_write(root, datasets, Path(args.output), args.limit)


def format_summary(manifest: dict, output: str, seconds: float) -> str:
    pages = ", ".join(f"{name} {n}" for name, n in manifest["data"]["gold_pages"].items())
    return (f"block model {manifest['model_version']} trained in {seconds:.0f} s on {pages} gold pages "
            f"(fingerprint {manifest['data']['fingerprint']})\n"
            f"  model     {output}\n  manifest  {manifest_path(Path(output))}")
