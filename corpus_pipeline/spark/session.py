"""SparkSession for jobs: spark-submit's settings win; the config fills in what is unset."""
from __future__ import annotations

from pyspark import SparkConf
from pyspark.sql import SparkSession

from ..config import SparkConfig


def get_spark(cfg: SparkConfig) -> SparkSession:
    builder = (SparkSession.builder.appName(cfg.app_name).config("spark.log.level", "WARN")
               # Our UDFs are plain Python; the Arrow path would need pandas for nothing.
               .config("spark.sql.execution.pythonUDF.arrow.enabled", "false"))
    if not SparkConf().contains("spark.master"):  # plain `python jobs/x.py`, not spark-submit
        builder = builder.master(cfg.master)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
