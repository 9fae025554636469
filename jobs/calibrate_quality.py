"""python jobs/calibrate_quality.py [--model DIR] [--candidates SOURCE] [--target SOURCE] [--alphas A,B,...]

Choosing alpha as GPT-3 did ("to match the distribution of scores from our classifier on
WebText"), without Spark: from the model's validation scores, print each source's expected
keep ratio under the Pareto rule for a range of alphas, and the 1-Wasserstein distance
between the scores of the candidates it keeps and the target's scores. `candidates` is a
source name or `negatives` (every label-0 source, i.e. raw Common Crawl).
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from corpus_pipeline import quality

DEFAULT_ALPHAS = "1,2,3,4,5,6,7,8,9,10,12,15,20"


def scores_by_source(model: Path, candidates: str) -> dict[str, np.ndarray]:
    table = pq.read_table(model / "validation_scores").to_pydict()
    rows = list(zip(table["source"], table["label"], table["score"]))
    scores = {s: np.array([x for src, _, x in rows if src == s]) for s in sorted(set(table["source"]))}
    if candidates == "negatives":
        scores["negatives"] = np.array([x for _, label, x in rows if label == 0])
    return scores


def main(argv=None):
    parser = argparse.ArgumentParser(prog="calibrate_quality.py", description=__doc__.splitlines()[2])
    parser.add_argument("--model", default="models/quality")
    parser.add_argument("--candidates", default="negatives")
    parser.add_argument("--target", default="webtext")
    parser.add_argument("--alphas", default=DEFAULT_ALPHAS)
    args = parser.parse_args(argv)
    model = Path(args.model)
    if not (model / "validation_scores").is_dir():
        sys.exit(f"calibrate_quality.py: error: no validation scores in {model} (train with jobs/train_classifier.py)")
    scores = scores_by_source(model, args.candidates)
    for name in (args.candidates, args.target):
        if name not in scores:
            sys.exit(f"calibrate_quality.py: error: no source {name!r} (sources: {', '.join(scores)})")
    alphas = [float(a) for a in args.alphas.split(",")]
    rows, best = quality.calibration_table(scores, args.candidates, args.target, alphas)
    sources = list(scores)
    print(f"model {model}: expected keep ratio per source (validation documents), and the 1-Wasserstein")
    print(f"distance between kept {args.candidates} scores and {args.target} scores")
    print(f"{'alpha':>6} {'distance':>9} " + " ".join(f"{s[:11]:>11}" for s in sources))
    print(f"{'docs':>6} {'':>9} " + " ".join(f"{len(scores[s]):>11}" for s in sources))
    for row in rows:
        print(f"{row['alpha']:>6g} {row['distance']:>9.4f} " + " ".join(f"{row[s]:>11.4f}" for s in sources))
    edge = " (at the edge of the grid: widen --alphas)" if best in (alphas[0], alphas[-1]) else ""
    print(f"best alpha: {best:g}{edge}")


if __name__ == "__main__":
    main()
