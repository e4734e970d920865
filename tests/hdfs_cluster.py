"""A one-node HDFS for the tests (hadoop-minicluster from Maven Central jars), started once per
session by the `hdfs_url` fixture of tests/conftest.py: the bronze-on-HDFS tests and the
pipeline-on-HDFS system test use it."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from lake_support import missing_prerequisite

HDFS_DIR = Path(__file__).parent / "bronze" / "hdfs"
HDFS_JARS = HDFS_DIR / "jars"
FETCH_HDFS_JARS = "mvn -q -B -f tests/bronze/hdfs/pom.xml dependency:copy-dependencies"
# Java 17 needs these for Hadoop 3.4 (HADOOP-19310).
JAVA_OPENS = [
    f"--add-opens=java.base/{package}=ALL-UNNAMED"
    for package in (
        "java.lang", "java.lang.reflect", "java.util", "java.util.concurrent", "java.nio",
        "sun.nio.ch", "java.net", "java.io",
    )
]  # fmt: skip


@contextmanager
def running_hdfs() -> Iterator[str]:
    """hdfs://127.0.0.1:PORT of a one-datanode HDFS started for the session (~30 s)."""
    if not any(HDFS_JARS.glob("hadoop-minicluster-*.jar")):
        missing_prerequisite(
            f"HDFS test cluster jars missing: run `{FETCH_HDFS_JARS}` (scripts/setup.sh)")
    from lakehouse.supervisor import free_port

    # Not under the suite's temp root: Hadoop's NameNode runs `bash -c "df ... '<dir>'"` on its
    # own storage and a quote in the path breaks that. This is the test cluster's storage, which
    # the project's paths never reach (they talk to HDFS by hdfs:// URL).
    work = Path(tempfile.mkdtemp(prefix="lakehouse-hdfs-"))
    details = work / "details.json"
    port = free_port()
    local = "127.0.0.1:0"
    conf = {
        "dfs.replication": "1",
        "dfs.permissions.enabled": "false",
        "dfs.namenode.rpc-bind-host": "127.0.0.1",
        "dfs.namenode.http-address": local,
        "dfs.datanode.address": local,
        "dfs.datanode.http.address": local,
        "dfs.datanode.ipc.address": local,
    }
    command = [
        "java", "-Xmx512m", *JAVA_OPENS, f"-Dtest.build.data={work / 'data'}",
        # Jetty unpacks the web UI into java.io.tmpdir: keep it in `work` (removed), not /tmp.
        f"-Djava.io.tmpdir={work}",
        "-cp", f"{HDFS_JARS}/*", "org.apache.hadoop.test.MiniDFSClusterManager",
        "-format", "-nnport", str(port), "-httpport", "0", "-datanodes", "1",
        "-writeDetails", str(details),
        *[arg for key, value in conf.items() for arg in ("-D", f"{key}={value}")],
    ]  # fmt: skip
    log = (work / "hdfs.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    started = False
    try:
        deadline = time.monotonic() + 120
        while not (details.exists() and details.stat().st_size):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"HDFS did not start; see {work / 'hdfs.log'}")
            time.sleep(0.5)
        started = True
        yield f"hdfs://127.0.0.1:{json.loads(details.read_text())['namenode_port']}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        if started:  # a failed start keeps its log for the message above
            shutil.rmtree(work, ignore_errors=True)
