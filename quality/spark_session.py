"""A local Spark session that reads lake tables by path, for the quality gate.

Great Expectations validates Spark DataFrames in-process, so the gate needs a SparkSession of its
own. It uses an in-memory catalog and reads Delta tables by location: the embedded Derby
metastore belongs to the Thrift Server (one JVM at a time), and by-path reads see exactly the
Delta version we audit.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from lakehouse.settings import Settings
from spark_thrift import launcher

LOG_CONFIG_FILE = Path(__file__).with_name("log4j2.properties")


@lru_cache(maxsize=1)
def _session(
    master: str,
    jars: tuple[str, ...],
    driver_host: str,
    partitions: int,
    snapshot_partitions: int,
    warehouse: str,
):
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", driver_host)
    builder = (
        SparkSession.builder.master(master)
        .appName("spotify-lakehouse-quality")
        .config("spark.jars", ",".join(jars))
        .config("spark.driver.extraClassPath", os.pathsep.join(jars))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config(
            "spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"
        )
        .config("spark.sql.catalogImplementation", "in-memory")
        # Nothing is written there, but Spark creates it; default is ./spark-warehouse in the cwd.
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.databricks.delta.snapshotPartitions", str(snapshot_partitions))
        .config("spark.driver.extraJavaOptions",
                launcher.java_option("log4j2.configurationFile", LOG_CONFIG_FILE.as_uri()))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.bindAddress", driver_host)
        .config("spark.driver.host", driver_host)
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def get_spark(settings: Settings):
    """The process-wide quality Spark session (started on first use, ~10 s)."""
    launcher.check_java(settings)
    jars = tuple(str(j) for j in launcher.server_jars(settings))
    master = settings.spark_master if not settings.spark_master.startswith("local") else "local[2]"
    return _session(
        master,
        jars,
        settings.spark_driver_host,
        settings.spark_shuffle_partitions,
        settings.spark_delta_snapshot_partitions,
        str(settings.data_dir / "quality" / "spark-warehouse"),
    )


def stop_spark() -> None:
    if _session.cache_info().currsize:
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            active.stop()
        _session.cache_clear()
