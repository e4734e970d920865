"""Build and check the command that runs the Spark Thrift Server with Delta Lake.

pyspark's wheel ships spark-submit and the Hive Thrift Server classes but not
`sbin/start-thriftserver.sh`, so we call spark-submit with the server's main class ourselves.
Static properties live in spark-defaults.conf beside this file; everything that depends on the
machine or the deployment (master, memory, ports, warehouse, metastore) comes from settings.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

from lakehouse.settings import REPO_ROOT, Settings
from lakehouse.supervisor import ServiceError

DEFAULTS_FILE = Path(__file__).with_name("spark-defaults.conf")
LOG_CONFIG_FILE = Path(__file__).with_name("log4j2.properties")
DELTA_VERSION = "4.3.1"
HIVE_VERSION = "2.3.10"  # the Hive client built into pyspark 4.1 (pyspark/jars/hive-*.jar)
REQUIRED_JARS = (
    f"delta-spark_4.1_2.13-{DELTA_VERSION}.jar",
    f"delta-storage-{DELTA_VERSION}.jar",
    # Spark 4 ships without it, yet Hive's FunctionRegistry needs LlapSigner when the Thrift
    # Server closes a session on a worker thread that never built a Hive client (SPARK-51041):
    # without it, with several dbt threads, CloseSession fails with NoClassDefFoundError.
    f"hive-llap-common-{HIVE_VERSION}.jar",
)
SERVER_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
MIN_JAVA = 17
FETCH_JARS_HINT = (
    "run `make setup` (or: mvn -q -f spark_thrift/pom.xml dependency:copy-dependencies)"
)


def spark_home() -> Path:
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError("pyspark is not installed in this environment: run `make setup`.")
    return Path(next(iter(spec.submodule_search_locations)))


def java_executable(settings: Settings) -> Path:
    home = settings.java_home or (
        Path(os.environ["JAVA_HOME"]) if os.environ.get("JAVA_HOME") else None
    )
    if home is not None:
        candidate = home / "bin" / "java"
        if candidate.exists():
            return candidate
        raise ServiceError(
            f"JAVA_HOME={home} has no bin/java: point JAVA_HOME at a JDK {MIN_JAVA}+."
        )
    found = shutil.which("java")
    if not found:
        raise ServiceError(
            f"Java is not installed: Spark needs a JDK {MIN_JAVA}+ "
            "(Debian/Ubuntu: `apt-get install openjdk-17-jdk-headless`), or set JAVA_HOME."
        )
    return Path(found)


def java_version(java: Path) -> int:
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise ServiceError(f"Could not read the Java version from `{java} -version`.")
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def check_java(settings: Settings) -> Path:
    java = java_executable(settings)
    version = java_version(java)
    if version < MIN_JAVA:
        raise ServiceError(
            f"{java} is Java {version}; Spark 4 needs Java {MIN_JAVA}+. Install openjdk-17 and "
            "set JAVA_HOME to it."
        )
    return java


def server_jars(settings: Settings) -> list[Path]:
    jars = [settings.spark_jars_dir / name for name in REQUIRED_JARS]
    missing = [jar.name for jar in jars if not jar.is_file()]
    if missing:
        raise ServiceError(
            f"Spark Thrift Server jar(s) missing from {settings.spark_jars_dir}: "
            f"{', '.join(missing)}. "
            f"Fetch them: {FETCH_JARS_HINT}."
        )
    return jars


def static_conf() -> dict[str, str]:
    """The properties of spark-defaults.conf (for in-process sessions that cannot read it)."""
    conf = {}
    for line in DEFAULTS_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            conf[key] = value.strip()
    return conf


def spark_dir(settings: Settings) -> Path:
    """Where the metastore, derby.log and Spark scratch space live."""
    return settings.data_dir / "spark"


def hive_dir(settings: Settings) -> Path:
    """Where Hive keeps its per-session folders (resources, scratch, operation logs)."""
    return spark_dir(settings) / "hive"


# Hive's session folders default to java.io.tmpdir (/tmp/<session id>_resources, /tmp/<user>/...).
# The server's own start-up session never deletes its resources folder, even on a clean stop, so
# every start left an empty folder in /tmp. Inside DATA_DIR they are ours to clear.
SESSION_RESOURCES = "${hive.session.id}_resources"  # Hive expands it per session


def hive_conf(settings: Settings) -> dict[str, str]:
    folder = hive_dir(settings)
    return {
        "spark.hadoop.hive.downloaded.resources.dir": str(folder / SESSION_RESOURCES),
        "spark.hadoop.hive.exec.local.scratchdir": str(folder / "scratch"),
        "spark.hadoop.hive.server2.logging.operation.log.location": str(folder / "operation_logs"),
    }


def local_dir(settings: Settings) -> Path:
    """Spark's scratch space (spark.local.dir): shuffle blocks and a copy of the jars."""
    return spark_dir(settings) / "tmp"


def server_lock_path(settings: Settings) -> Path:
    return spark_dir(settings) / "thrift-server.lock"


def _already_runs(settings: Settings, pid: int | None = None) -> ServiceError:
    held_by = f" (pid {pid})" if pid else ""
    return ServiceError(
        f"A Spark Thrift Server{held_by} already runs on {spark_dir(settings)} (DATA_DIR),"
        " perhaps under another port or in another terminal (`lakehouse services run thrift`);"
        " its Derby metastore admits one server. Stop that one first, or set another DATA_DIR."
    )


def claim_data_dir(settings: Settings) -> int | None:
    """Lock DATA_DIR's Spark folder for a server about to start; returns the locked descriptor,
    which the server process must inherit (`pass_fds`, or kept open across `exec`), or None
    where the file system cannot lock (some network and FUSE mounts).

    The server then holds the lock for as long as it lives, and the kernel releases it when the
    server dies, however it dies (a crash, `kill -9`). So holding it means no live server uses
    these folders, and what a server killed before its clean-up left there can go. The caller
    closes its own copy once the server has started."""
    path = server_lock_path(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ServiceError(
            f"Cannot open the Thrift Server's lock file {path} ({exc.strerror}): its DATA_DIR"
            " must be writable by this user. Fix the folder's owner or permissions, or set"
            " another DATA_DIR."
        ) from exc
    claim: int | None = fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise _already_runs(settings) from None
    except OSError:  # no locks here: the check below is all there is
        os.close(fd)
        claim = None
    # A server started without the lock (by an older version of this project, or on a file
    # system without locks) is found by its working folder, which every start sets to this one.
    pid = _server_working_in(spark_dir(settings))
    if pid is not None:
        if claim is not None:
            os.close(claim)
        raise _already_runs(settings, pid)
    return claim


def _server_working_in(folder: Path) -> int | None:
    """The pid of a Thrift Server (this user's, on this machine) working in `folder`."""
    import psutil

    folder = folder.resolve()  # as the kernel reports a working folder: no symlinks
    for proc in psutil.process_iter():
        try:
            if SERVER_CLASS in proc.cmdline() and Path(proc.cwd()) == folder:
                return proc.pid
        except (psutil.Error, OSError):
            continue
    return None


def clear_leftovers(settings: Settings) -> list[Path]:
    """Remove what earlier servers left in DATA_DIR: Hive's per-session folders (the start-up
    session's is never removed, even on a clean stop) and, after a server was killed before its
    shutdown hooks ran, its operation logs and Spark's scratch space (shuffle files and a copy
    of the jars, tens of MB per start). Call only while holding `claim_data_dir`, before the
    server starts. Returns what it removed."""
    folders = [hive_dir(settings), local_dir(settings)]
    removed = []
    for path in [child for folder in folders if folder.is_dir() for child in folder.iterdir()]:
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue  # garbage that cannot go (another user's files) must not block a start
        removed.append(path)
    return removed


def java_option(name: str, value: str) -> str:
    """-Dname=value for spark.driver.extraJavaOptions, which Spark splits at spaces unless quoted
    (a DATA_DIR under "My Projects" would otherwise start `java ... Projects/...`)."""
    if '"' in value or "\\" in value:
        # Spark's launcher would take them as quoting and escapes; not worth supporting.
        raise ServiceError(
            f"{value!r} holds a double quote or backslash, which this project does not pass to"
            " Spark's JVM: choose a DATA_DIR without them."
        )
    return f'"-D{name}={value}"'


def dynamic_conf(settings: Settings) -> dict[str, str]:
    work = spark_dir(settings)
    metastore = work / "metastore_db"
    conf = {
        "spark.sql.warehouse.dir": settings.lake_uri + "/warehouse",
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={metastore};create=true"
        ),
        "spark.driver.extraJavaOptions": " ".join(
            [
                java_option("derby.system.home", str(work)),
                java_option("log4j2.configurationFile", LOG_CONFIG_FILE.as_uri()),
            ]
        ),
        "spark.local.dir": str(local_dir(settings)),
        "spark.driver.host": settings.spark_driver_host,
        "spark.driver.bindAddress": settings.spark_driver_host,
        "spark.executor.memory": settings.spark_executor_memory,
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.databricks.delta.snapshotPartitions": str(settings.spark_delta_snapshot_partitions),
    }
    conf.update(hive_conf(settings))
    if settings.spark_ui_port:
        conf["spark.ui.port"] = str(settings.spark_ui_port)
    else:
        conf["spark.ui.enabled"] = "false"
    return conf


def build_command(settings: Settings) -> list[str]:
    jars = server_jars(settings)
    submit = spark_home() / "bin" / "spark-submit"
    command = [
        str(submit),
        "--master",
        settings.spark_master,
        "--name",
        "spotify-lakehouse-thrift",
        "--class",
        SERVER_CLASS,
        "--properties-file",
        str(DEFAULTS_FILE),
        "--driver-memory",
        settings.spark_driver_memory,
        "--jars",
        ",".join(str(j) for j in jars),
        "--driver-class-path",
        os.pathsep.join(str(j) for j in jars),
    ]
    for key, value in dynamic_conf(settings).items():
        command += ["--conf", f"{key}={value}"]
    command += [
        "spark-internal",
        "--hiveconf",
        f"hive.server2.thrift.bind.host={settings.thrift_host}",
        "--hiveconf",
        f"hive.server2.thrift.port={settings.thrift_port}",
    ]
    return command


def build_env(settings: Settings, java: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["SPARK_HOME"] = str(spark_home())
    env["JAVA_HOME"] = str(java.resolve().parent.parent)
    # Without it Spark resolves the machine's hostname and may bind to a public interface.
    env["SPARK_LOCAL_IP"] = settings.spark_driver_host
    env.pop("PYSPARK_SUBMIT_ARGS", None)
    env.setdefault("PYTHONPATH", str(REPO_ROOT))
    return env
