"""SparkSession for jobs: spark-submit's settings win; the config fills in what is unset.

One exception: a local master without a failure count (`local`, `local[N]`, `local[*]`,
spark-submit's default) retries no task at all, so one killed Python worker would end the
run. It becomes `local[N,LOCAL_TASK_ATTEMPTS]`, the attempts a cluster allows by default
(`spark.task.maxFailures`); a master that names its own count is kept.
"""
from __future__ import annotations

import os
import re

from pyspark import SparkConf, SparkContext
from pyspark.sql import SparkSession

from ..config import SparkConfig

LOCAL_TASK_ATTEMPTS = 4
SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"
# Rows here carry whole page texts (10-100 KB), so Spark's batches of 4,096 rows read from
# Parquet and of 10,000 rows cached in memory came to hundreds of MB per task: a 1 GB WARC
# ran a 1 GB heap out of memory. Batches of 512 rows keep a task's buffers to tens of MB.
TEXT_ROW_BATCHES = {"spark.sql.parquet.columnarReaderBatchSize": "512",
                    "spark.sql.inMemoryColumnarStorage.batchSize": "512"}
# Input bytes per shuffle partition: a 1 GB WARC holds some 200-300 MB of extracted text, so
# a partition of a crawl's documents stays near AQE's advisory 64 MB.
INPUT_BYTES_PER_SHUFFLE_PARTITION = 256 << 20
# Plans print their columns when Spark records a query (UI, event log); the tag stage's rows
# have some 50 columns, over Spark's default of 25, which logged a truncation WARN every run.
PLAN_FIELDS = {"spark.sql.debug.maxToStringFields": "200"}
_LOCAL_WITHOUT_RETRIES = re.compile(r"local(?:\[(\d+|\*)\])?")


def with_task_retries(master: str) -> str:
    """`local[N]` -> `local[N,4]`; any other master unchanged."""
    match = _LOCAL_WITHOUT_RETRIES.fullmatch(master.strip())
    if not match:
        return master
    return f"local[{match.group(1) or 1},{LOCAL_TASK_ATTEMPTS}]"


def get_spark(cfg: SparkConfig) -> SparkSession:
    builder = (SparkSession.builder.appName(cfg.app_name).config("spark.log.level", "WARN")
               # Row-wise UDFs stay pickled: the hot paths use mapInArrow explicitly.
               .config("spark.sql.execution.pythonUDF.arrow.enabled", "false"))
    # Under spark-submit the settings live in its JVM: connect first, or SparkConf sees none
    # of them and the config's master would silently replace --master.
    SparkContext._ensure_initialized()
    master = SparkConf().get("spark.master", cfg.master)  # --master, else the config's
    spark = builder.master(with_task_retries(master)).getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    size_shuffles(spark, 0)
    for key, value in {**TEXT_ROW_BATCHES, **PLAN_FIELDS}.items():
        set_unless_launched_with(spark, key, value)
    return spark


def set_unless_launched_with(spark, key: str, value: str):
    """A SQL setting, unless spark-submit (or the session's builder) gave one: theirs wins."""
    if not spark.sparkContext.getConf().contains(key):
        spark.conf.set(key, value)


def size_shuffles(spark, input_bytes: int):
    """Shuffle partitions sized to the data unless spark-submit set them: two per core, or one
    per 256 MB of input when that is more. Spark's default of 200 made a small run plan, schedule and
    write 200 partitions per shuffle (the partition count never changes an output)."""
    per_core = 2 * spark.sparkContext.defaultParallelism
    by_input = -(-input_bytes // INPUT_BYTES_PER_SHUFFLE_PARTITION)
    set_unless_launched_with(spark, SHUFFLE_PARTITIONS, str(max(per_core, by_input)))


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
