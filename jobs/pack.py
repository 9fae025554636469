"""spark-submit jobs/pack.py --input DIR [DIR ...] --output DIR [--conf FILE] [--set key=value ...]

Tokenizes Parquet documents (a `text` column; a mixture's `position` column gives the
order) with the GPT-2 BPE and packs them, each followed by <|endoftext|>, into rows of
exactly 2048 tokens: uint16 shard files, metadata.json, documents/ and stats.json.
"""
import sys

from corpus_pipeline import config, pack
from corpus_pipeline.job import Job, conf_file

JOB = Job(prog="pack.py", doc=__doc__, config_class=config.PackJobConfig,
          set_example="pack.seq_len=1024", default_conf=conf_file(__file__, "pack.yaml"),
          input_help="Parquet folders with a text column (e.g. a mixture's documents/)",
          work="corpus_pipeline.spark.pack:pack_job",
          summary=lambda summary, cfg, seconds: pack.format_summary(summary, cfg, seconds))

if __name__ == "__main__":
    sys.exit(JOB.main())
