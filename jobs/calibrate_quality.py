"""python jobs/calibrate_quality.py [--model DIR] [--candidates SOURCE] [--target SOURCE] [--alphas A,B,...]

Choosing alpha as GPT-3 did ("to match the distribution of scores from our classifier on
WebText"), without Spark: from the model's validation scores, print each source's expected
keep ratio under the Pareto rule for a range of alphas, and the 1-Wasserstein distance
between the scores of the candidates it keeps and the target's scores. `candidates` is a
source name or `negatives` (every label-0 source, i.e. raw Common Crawl).
"""
import sys

from corpus_pipeline import quality
from corpus_pipeline.job import Job


def options(parser):
    parser.add_argument("--model", default="models/quality", help="model folder (default: %(default)s)")
    parser.add_argument("--candidates", default="negatives", help="source to select from (default: %(default)s)")
    parser.add_argument("--target", default="webtext", help="source whose scores to match (default: %(default)s)")
    parser.add_argument("--alphas", default="1,2,3,4,5,6,7,8,9,10,12,15,20",
                        help="alphas to try (default: %(default)s)")


def calibrate(args) -> str:
    return quality.calibration_text(args.model, args.candidates, args.target,
                                    [float(a) for a in args.alphas.split(",")])


JOB = Job(prog="calibrate_quality.py", doc=__doc__, options=options, uses_spark=lambda args: False,
          local_work=calibrate, summary=lambda text, args, seconds: text)

if __name__ == "__main__":
    sys.exit(JOB.main())
