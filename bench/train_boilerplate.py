"""Learn the block classifier of `corpus_pipeline/boilerplate.py` from human-gold pages.

Reads the six human-gold sets of `bench/extract_bench.py` (CleanEval, CleanPortalEval,
Scrapinghub, htmltotext, L3S-GN1, Dragnet), or all but those named by `--hold-out`. Each
page goes through the same steps as at run time: decode, parse, Resiliparse's minimal-HTML
output split into blocks, block features. A block is labelled content when at least half
of its lower-cased tokens occur in the page's gold text. A logistic regression is fitted
on standardised features.

- Both views of a page are used: Resiliparse's main-content output, and the whole page's,
  which the run-time fallback classifies when the first keeps too little
  (boilerplate.main_text).
- Each dataset weighs the same in the fit (its blocks share one unit of weight), so that
  the 1,105 Dragnet pages do not turn the model into a news-article extractor.
- The decision threshold is the one of a fixed grid that maximises the mean over datasets
  of the mean page F1.
- Deterministic: same data, same weights (lbfgs, no random state).

Held-out figures come from `bench/extract_bench.py`, which fits one model per dataset
with that dataset left out (`fit`) and scores it on the dataset it never saw.
The shipped model is trained on all six.

Writes corpus_pipeline/boilerplate_model.json (or --out).
Usage: python bench/train_boilerplate.py [--data DIR] [--out PATH] [--hold-out NAME ...]
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
from corpus_pipeline.extract import decode_html, parse_html  # noqa: E402

LABEL_MIN_PRECISION = 0.5
REGULARISATION_C = 1.0
THRESHOLDS = np.round(np.arange(0.10, 0.71, 0.05), 2)


def labelled_pages(pages: dict[str, list]) -> dict[str, list]:
    """{dataset: per page (gold, fold, views)} from bench.load_pages' {dataset: rows}, a view
    being (block texts, features, labels) of the main-content blocks or of the whole page's
    blocks (the run-time fallback sees those). Pages with no block in either view are left
    out: they teach nothing."""
    labelled = {}
    for dataset, rows in pages.items():
        fold = bench.fold_for(dataset)
        labelled[dataset] = [page for page in (labelled_page(row, fold) for row in rows)
                             if any(texts for texts, _, _ in page[2])]
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


def train(root: Path, datasets) -> boilerplate.BlockModel:
    """The block model fitted on the gold pages of `datasets` (names of bench.GOLD_SETS)."""
    return fit(labelled_pages(bench.load_pages(root, datasets)[0]))


def fit(pages: dict[str, list]) -> boilerplate.BlockModel:
    """Fitted on every non-empty view; each dataset's blocks share one unit of weight."""
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
    meta = dict(trained_on=list(pages), pages=sum(map(len, pages.values())), blocks=len(y),
                content_blocks=int(y.sum()), fallback_min_chars=boilerplate.FALLBACK_MIN_CHARS,
                training_f1=round(f1, 4), label_min_precision=LABEL_MIN_PRECISION, C=REGULARISATION_C,
                sklearn=sklearn_version)
    return boilerplate.BlockModel(mean, scale, lr.coef_[0], lr.intercept_[0], threshold, **meta)


def best_threshold(model: boilerplate.BlockModel, pages: dict[str, list]) -> tuple[float, float]:
    """The grid threshold with the best mean over datasets of the mean page F1."""
    scores = {}
    for threshold in THRESHOLDS:
        model.set_threshold(threshold)
        scores[float(threshold)] = float(np.mean([
            np.mean([bench.bag_of_words_prf(fold(run_time_text(views, model)), fold(gold))[2]
                     for gold, fold, views in rows]) for rows in pages.values()]))
        print(f"threshold {threshold:.2f}: training F1 {scores[float(threshold)]:.4f}", file=sys.stderr)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="the web_html folder (default: repo_root/../shared/data/web_html)")
    parser.add_argument("--out", default=str(boilerplate.MODEL_FILE))
    parser.add_argument("--hold-out", nargs="*", default=[], choices=list(bench.GOLD_SETS),
                        help="datasets to leave out of training")
    args = parser.parse_args()
    model = train(bench.find_data(args.data), [name for name in bench.GOLD_SETS if name not in args.hold_out])
    Path(args.out).write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: trained on {', '.join(model.meta['trained_on'])}; "
          f"threshold {model.threshold}, training F1 {model.meta['training_f1']}")


if __name__ == "__main__":
    main()
