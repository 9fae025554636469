"""spark-submit jobs/train_classifier.py [--conf FILE] [--output DIR] [--set key=value ...]

Trains the GPT-3 quality classifier (Tokenizer [-> NGram] -> HashingTF -> logistic
regression) on passages of the reference sources of conf/quality.yaml, Parquet imported by
jobs/import_reference.py, and writes a versioned model folder with its training manifest
(data, seed, config hash, held-out figures). jobs/filter.py scores
documents with it (`quality.model`).
"""
import sys

from corpus_pipeline import cli, config, quality
from corpus_pipeline.job import Job, conf_file


def prepare(cfg, args):
    """Every source (imported Parquet) must exist before Spark starts."""
    cli.require_paths(s.path for s in cfg.positives + cfg.negatives)


JOB = Job(prog="train_classifier.py", doc=__doc__, config_class=config.TrainConfig,
          set_example="seed=7", default_conf=conf_file(__file__, "quality.yaml"),
          java_options=quality.REPRODUCIBLE_JAVA_OPTIONS,
          prepare=prepare, output_marker=quality.MANIFEST_FILE, work="corpus_pipeline.spark.quality:train_classifier",
          summary=lambda manifest, cfg, seconds: quality.format_training_summary(manifest, seconds, cfg.output))

if __name__ == "__main__":
    sys.exit(JOB.main())
