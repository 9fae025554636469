"""Learn the block classifier of `corpus_pipeline/boilerplate.py` from the tuning datasets.

Reads L3S-GN1 and Dragnet (the tuning sets of `bench/extract_bench.py`; the held-out sets
are never read here). Each page goes through the same steps as at run time: decode, parse,
Resiliparse's minimal-HTML main-content output split into blocks, block features. A block
is labelled content when at least half of its lower-cased tokens occur in the page's gold
text. A logistic regression is fitted on standardised features.
The blocks of both passes are used: Resiliparse's main-content output, and the whole
page's, which the run-time fallback classifies when the first keeps too little
(boilerplate.main_text). All blocks weigh the same. The decision threshold is the one of a fixed grid that maximises the mean page F1
on the tuning pages. Deterministic: same data, same weights (lbfgs, no random state).

Writes corpus_pipeline/boilerplate_model.json (or --out).
Usage: python bench/train_boilerplate.py [--data DIR] [--out PATH]
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn import __version__ as sklearn_version
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
import extract_bench as bench  # noqa: E402

from corpus_pipeline import boilerplate  # noqa: E402
from corpus_pipeline.extract import decode_html  # noqa: E402
from resiliparse.parse.html import HTMLTree  # noqa: E402

LABEL_MIN_PRECISION = 0.5
REGULARISATION_C = 1.0
THRESHOLDS = np.round(np.arange(0.20, 0.71, 0.05), 2)


def labelled_pages(root: Path):
    """Per tuning page: gold, fold, and (block texts, features, labels) of the main-content
    blocks and of the whole page's blocks (the run-time fallback sees those)."""
    pages, _ = bench.load_pages(root, bench.TUNING)
    for dataset, rows in pages.items():
        fold = bench.fold_for(dataset)
        for _, data, gold in rows:
            tree = HTMLTree.parse(decode_html(data)[0])
            views = [labelled_blocks(boilerplate.page_blocks(tree, main), gold, fold) for main in (True, False)]
            yield gold, fold, views


def labelled_blocks(blocks: list, gold: str, fold):
    texts = [text for _, text, _ in blocks]
    features = boilerplate.block_features(blocks) if blocks else np.zeros((0, boilerplate.N_FEATURES))
    return texts, features, block_labels(texts, gold, fold)


def block_labels(texts: list[str], gold: str, fold) -> np.ndarray:
    words = Counter(fold(gold).lower().split())
    share = [np.mean([w in words for w in fold(t).lower().split()]) for t in texts]
    return np.array(share) >= LABEL_MIN_PRECISION


def fit(pages: list) -> boilerplate.BlockModel:
    x = np.vstack([features for _, _, views in pages for _, features, _ in views])
    y = np.concatenate([labels for _, _, views in pages for _, _, labels in views])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    lr = LogisticRegression(C=REGULARISATION_C, max_iter=5000).fit((x - mean) / scale, y)
    model = boilerplate.BlockModel(mean, scale, lr.coef_[0], lr.intercept_[0], 0.5)
    threshold, f1 = best_threshold(model, pages)
    meta = dict(trained_on=list(bench.TUNING), pages=len(pages), blocks=len(y), content_blocks=int(y.sum()),
                fallback_min_chars=boilerplate.FALLBACK_MIN_CHARS,
                tuning_f1=round(f1, 4), label_min_precision=LABEL_MIN_PRECISION, C=REGULARISATION_C,
                sklearn=sklearn_version)
    return boilerplate.BlockModel(mean, scale, lr.coef_[0], lr.intercept_[0], threshold, **meta)


def best_threshold(model: boilerplate.BlockModel, pages: list) -> tuple[float, float]:
    scores = {}
    for threshold in THRESHOLDS:
        model.set_threshold(threshold)
        f1 = [bench.bag_of_words_prf(fold(run_time_text(views, model)), fold(gold))[2] for gold, fold, views in pages]
        scores[float(threshold)] = float(np.mean(f1))
        print(f"threshold {threshold:.2f}: tuning F1 {scores[float(threshold)]:.4f}")
    best = max(scores, key=scores.get)
    return best, scores[best]


def run_time_text(views: list, model: boilerplate.BlockModel) -> str:
    """What boilerplate.main_text returns, from the precomputed blocks and features."""
    texts = [boilerplate.select(texts, features, model) if texts else "" for texts, features, _ in views]
    if len(texts[0]) < boilerplate.FALLBACK_MIN_CHARS and len(texts[1]) > len(texts[0]):
        return texts[1]
    return texts[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="the web_html folder (default: repo_root/../shared/data/web_html)")
    parser.add_argument("--out", default=str(boilerplate.MODEL_FILE))
    args = parser.parse_args()
    pages = [page for page in labelled_pages(bench.find_data(args.data)) if page[2][0][0] or page[2][1][0]]
    model = fit(pages)
    Path(args.out).write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: threshold {model.threshold}, tuning F1 {model.meta['tuning_f1']}")


if __name__ == "__main__":
    main()
