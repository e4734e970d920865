"""Settings resolution, secret hygiene, and the Thrift Server command line."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from lakehouse.settings import REPO_ROOT, Settings, redact_url
from lakehouse.supervisor import ServiceError
from spark_thrift import launcher


@pytest.fixture(autouse=True)
def no_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests check defaults: hide the test session's own overrides."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def test_defaults_are_local_and_loopback(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert settings.mongodb_url == "mongodb://127.0.0.1:27017/"
    assert settings.mongodb_is_local
    assert settings.thrift_host == "127.0.0.1"
    assert settings.lake_uri == f"file://{tmp_path}/lake"
    assert settings.lake_path("bronze", "artists") == f"{tmp_path}/lake/bronze/artists"


def test_lake_paths_keep_spaces_and_quotes_as_they_are(tmp_path: Path) -> None:
    # Spark and delta-rs take locations literally: percent-encoding would name a folder `My%20Lake`.
    data_dir = tmp_path / "My Projects" / "o'neil"
    settings = Settings(_env_file=None, data_dir=data_dir)
    assert settings.lake_uri == f"file://{data_dir}/lake"
    assert settings.lake_path("gold", "dim_track") == f"{data_dir}/lake/gold/dim_track"


def test_lake_root_accepts_hdfs_and_relative_paths() -> None:
    hdfs = Settings(_env_file=None, lake_root="hdfs://nn:8020/lake/")
    assert hdfs.lake_uri == "hdfs://nn:8020/lake"
    assert hdfs.lake_path("bronze", "tracks") == "hdfs://nn:8020/lake/bronze/tracks"
    relative = Settings(_env_file=None, lake_root="some/lake")
    assert relative.lake_uri == f"file://{REPO_ROOT}/some/lake"


def test_secrets_never_show_in_repr_or_display() -> None:
    settings = Settings(
        _env_file=None,
        mongodb_uri="mongodb+srv://user:s3cr3t@cluster0.example.net/",
        spotify_client_id="client",
        spotify_client_secret="topsecret",
    )
    assert "s3cr3t" not in repr(settings)
    assert "topsecret" not in repr(settings)
    assert "s3cr3t" not in settings.mongodb_display
    assert settings.mongodb_display == "mongodb+srv://***@cluster0.example.net/"
    assert not settings.mongodb_is_local
    assert settings.has_spotify_credentials
    assert redact_url("mongodb://127.0.0.1:27017/") == "mongodb://127.0.0.1:27017/"


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        # An unescaped '#', '/' or '?' in the password ends urlsplit's host early.
        ("mongodb://alice:p#ss@db.example.net:27017/db", "mongodb://***@db.example.net:27017/db"),
        ("mongodb://alice:p/ss@db.example.net/spotify", "mongodb://***@db.example.net/spotify"),
        ("mongodb://alice:p?ss@db.example.net/", "mongodb://***@db.example.net/"),
        (
            "mongodb+srv://c.example.net/?authMechanism=MONGODB-AWS"
            "&authMechanismProperties=AWS_SESSION_TOKEN:FQoGZXIvYXdz",
            "mongodb+srv://c.example.net/?***",
        ),
        ("mongodb://h/?tls=true&tlsCertificateKeyFilePassword=pw", "mongodb://h/?***"),
        ("s3cr3t-without-scheme", "***"),
    ],
)
def test_display_of_a_mongodb_uri_drops_every_place_a_secret_can_hide(uri: str, shown: str) -> None:
    settings = Settings(_env_file=None, mongodb_uri=uri)
    assert settings.mongodb_display == shown
    assert redact_url(uri) == shown


def test_thrift_command_has_delta_on_both_classpaths_and_loopback(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, thrift_port=10123, spark_ui_port=0)
    command = launcher.build_command(settings)
    jars = [str(settings.spark_jars_dir / name) for name in launcher.REQUIRED_JARS]
    assert command[command.index("--jars") + 1] == ",".join(jars)
    assert command[command.index("--driver-class-path") + 1] == ":".join(jars)
    assert command[command.index("--class") + 1] == launcher.SERVER_CLASS
    assert "hive.server2.thrift.bind.host=127.0.0.1" in command
    assert "hive.server2.thrift.port=10123" in command
    assert "spark.ui.enabled=false" in command
    confs = {c.split("=", 1)[0]: c.split("=", 1)[1] for c in command if "=" in c}
    assert confs["spark.driver.bindAddress"] == "127.0.0.1"
    assert (
        str(tmp_path / "spark" / "metastore_db")
        in confs["spark.hadoop.javax.jdo.option.ConnectionURL"]
    )
    assert confs["spark.sql.warehouse.dir"] == f"file://{tmp_path}/lake/warehouse"
    defaults = launcher.DEFAULTS_FILE.read_text()
    assert "io.delta.sql.DeltaSparkSessionExtension" in defaults
    assert "org.apache.spark.sql.delta.catalog.DeltaCatalog" in defaults


def test_thrift_java_options_survive_a_data_dir_with_spaces(tmp_path: Path) -> None:
    # Spark splits extraJavaOptions at unquoted spaces, as a shell would.
    data_dir = tmp_path / "My Projects" / "o'neil"
    settings = Settings(_env_file=None, data_dir=data_dir)
    options = launcher.dynamic_conf(settings)["spark.driver.extraJavaOptions"]
    assert shlex.split(options) == [
        f"-Dderby.system.home={data_dir}/spark",
        f"-Dlog4j2.configurationFile={launcher.LOG_CONFIG_FILE.as_uri()}",
    ]
    quoted = Settings(_env_file=None, data_dir=tmp_path / 'say "cheese"')
    with pytest.raises(ServiceError, match=r"double quote or backslash.*choose a DATA_DIR"):
        launcher.dynamic_conf(quoted)


def test_the_same_config_targets_a_cluster(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        spark_master="spark://spark-master:7077",
        lake_root="hdfs://namenode:8020/lake",
        spark_driver_host="10.0.0.5",
        spark_driver_memory="8g",
    )
    command = launcher.build_command(settings)
    assert command[command.index("--master") + 1] == "spark://spark-master:7077"
    assert command[command.index("--driver-memory") + 1] == "8g"
    assert "spark.sql.warehouse.dir=hdfs://namenode:8020/lake/warehouse" in command
    assert "spark.driver.host=10.0.0.5" in command


PROBE = """
public class Probe {
    public static void main(String[] args) throws Exception {
        Class.forName("org.apache.hadoop.hive.ql.exec.FunctionRegistry");
        System.out.println("FunctionRegistry initialised");
    }
}
"""


def test_server_classpath_initialises_hives_function_registry(tmp_path: Path) -> None:
    """The Thrift Server initialises Hive's FunctionRegistry when it closes some sessions.

    Its static initialiser fails on pyspark's jars alone (LlapSigner is missing), which made
    dbt's CloseSession calls fail; the server's extra jars must complete it.
    """
    settings = Settings(_env_file=None, data_dir=tmp_path)
    java = launcher.check_java(settings)
    source = tmp_path / "Probe.java"
    source.write_text(PROBE)
    classpath = [str(launcher.spark_home() / "jars" / "*")]
    classpath += [str(jar) for jar in launcher.server_jars(settings)]
    opens = [
        f"--add-opens=java.base/{p}=ALL-UNNAMED" for p in ("java.lang", "java.net", "java.util")
    ]
    result = subprocess.run(
        [str(java), *opens, "-cp", os.pathsep.join(classpath), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "NoClassDefFoundError" not in result.stderr, result.stderr[-2000:]
    assert result.stdout.strip() == "FunctionRegistry initialised", result.stderr[-2000:]
