"""SparkSession for jobs: spark-submit's settings win; the config fills in what is unset.
Benchmarks get a fixed local one (`local_session`)."""
from __future__ import annotations

import os

from pyspark import SparkConf, SparkContext
from pyspark.sql import SparkSession

from ..config import SparkConfig


def get_spark(cfg: SparkConfig) -> SparkSession:
    builder = (SparkSession.builder.appName(cfg.app_name).config("spark.log.level", "WARN")
               # Our UDFs are plain Python; the Arrow path would need pandas for nothing.
               .config("spark.sql.execution.pythonUDF.arrow.enabled", "false"))
    # Under spark-submit the settings live in its JVM: connect first, or SparkConf sees none
    # of them and the config's master would silently replace --master.
    SparkContext._ensure_initialized()
    if not SparkConf().contains("spark.master"):  # plain `python jobs/x.py`, not spark-submit
        builder = builder.master(cfg.master)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def local_session(app_name: str, shuffle_partitions: int = 8) -> SparkSession:
    """A local[2] session for benchmarks: no UI, no progress bars in their printed output."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = (SparkSession.builder.master("local[2]").appName(app_name)
             .config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
             .config("spark.sql.execution.pythonUDF.arrow.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark
