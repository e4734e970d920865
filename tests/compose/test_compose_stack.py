"""docker-compose.yml and the project image, checked without a Docker engine (none runs on the
development machines, docs/compose.md).

What can be checked offline is checked against the project itself: every variable a project
container gets is a real setting and resolves to the endpoint of the service it names, every
command is a real CLI command, nothing is published beyond 127.0.0.1, no secret is written into
the file, and the image installs what scripts/setup.sh installs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from typer.testing import CliRunner

from lakehouse.cli import app as lakehouse_cli
from lakehouse.settings import REPO_ROOT, Settings
from spark_thrift.launcher import MIN_JAVA

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "docker" / "lakehouse.Dockerfile"
HADOOP_ENV = REPO_ROOT / "docker" / "hadoop.env"
# Values a user puts in .env; the file itself must not hold them.
USER_ENV = {"MONGO_ROOT_PASSWORD": "0123abcd"}
# Variables the project containers get that are not project settings.
THIRD_PARTY_ENV = {"PREFECT_API_URL", "PREFECT_HOME", "PREFECT_UI_API_URL",
                   "PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK"}  # fmt: skip
# Credentials .env may hold: the secret settings, and the password compose builds the URI from.
CREDENTIALS = {
    name.upper()
    for name, field in Settings.model_fields.items()
    if "SecretStr" in str(field.annotation)
} | {"MONGO_ROOT_PASSWORD"}
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} against `env`."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if env.get(name):
            return env[name]
        if op and op.endswith("?"):
            raise KeyError(f"{name}: {arg}")
        return arg or ""

    return INTERPOLATION.sub(one, value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def project_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service for name, service in compose["services"].items()
        if service.get("build", {}).get("dockerfile") == "docker/lakehouse.Dockerfile"
    }  # fmt: skip


def container_env(service: dict[str, Any]) -> dict[str, str]:
    return {k: interpolate(str(v), USER_ENV) for k, v in service.get("environment", {}).items()}


def settings_in(service: dict[str, Any]) -> Settings:
    """The project's settings as the container sees them (.env is the user's, not read here)."""
    env = container_env(service)
    saved = dict(os.environ)
    try:
        for name in list(os.environ):
            if name.lower() in Settings.model_fields:  # settings are case-insensitive
                del os.environ[name]
        os.environ.update(env)
        return Settings(_env_file=None)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_the_project_runs_in_four_containers_of_one_image(compose: dict[str, Any]) -> None:
    assert set(project_services(compose)) == {"spark-thrift", "prefect-server", "pipeline", "app"}
    assert {s["image"] for s in project_services(compose).values()} == {"spotify-lakehouse:local"}
    assert set(compose["services"]) - set(project_services(compose)) == {
        "mongo", "namenode", "datanode", "dremio",
    }


def test_published_ports_are_bound_to_localhost_only(compose: dict[str, Any]) -> None:
    published = [
        (name, port) for name, service in compose["services"].items()
        for port in service.get("ports", [])
    ]  # fmt: skip
    assert len(published) == 7
    for name, port in published:
        assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_third_party_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name in project_services(compose):
            continue
        image = service["image"]
        _, _, tag = image.partition(":")
        assert tag and tag != "latest" and re.match(r"^\d", tag), f"{name}: pin {image}"


def test_every_variable_of_a_project_container_is_a_setting(compose: dict[str, Any]) -> None:
    known = {f.upper() for f in Settings.model_fields} | THIRD_PARTY_ENV | CREDENTIALS
    for name, service in project_services(compose).items():
        unknown = set(container_env(service)) - known
        assert not unknown, f"{name}: {sorted(unknown)} are not settings (lakehouse/settings.py)"


def test_clients_reach_the_services_by_their_compose_names(compose: dict[str, Any]) -> None:
    services = compose["services"]
    server = settings_in(services["spark-thrift"])
    assert server.thrift_is_local  # `services run thrift` runs it, on the container's network
    mongo = urlsplit(settings_in(services["pipeline"]).mongodb_url)
    assert (mongo.hostname, mongo.port, mongo.password) == ("mongo", 27017, "0123abcd")
    assert not settings_in(services["pipeline"]).mongodb_is_local
    for name in ("pipeline", "app", "prefect-server"):
        settings = settings_in(services[name])
        assert settings.lake_uri == "hdfs://namenode:8020/lake"
        assert settings.data_dir == Path("/var/lib/lakehouse")
        assert (settings.thrift_host, settings.thrift_port) == ("spark-thrift", server.thrift_port)
        assert not settings.thrift_is_local  # checked by `lakehouse run`, never started there
        assert settings.dremio_flight_host in services
        prefect = urlsplit(container_env(services[name])["PREFECT_API_URL"])
        assert prefect.hostname in services and prefect.port == 4200
    # The MongoDB user is the one the mongo container creates, with the same password.
    mongo_env = container_env(services["mongo"])
    assert mongo_env["MONGO_INITDB_ROOT_PASSWORD"] == "0123abcd"
    assert urlsplit(settings_in(services["pipeline"]).mongodb_url).username == (
        mongo_env["MONGO_INITDB_ROOT_USERNAME"]
    )


def test_only_the_pipeline_container_holds_credentials(compose: dict[str, Any]) -> None:
    """env_file gives .env to every container: the ones that never talk to MongoDB or Spotify
    must blank each credential, so a compromised app or Prefect server holds none."""
    assert {"MONGODB_URI", "SPOTIFY_CLIENT_SECRET", "DREMIO_PASSWORD"} <= CREDENTIALS
    for name, service in project_services(compose).items():
        assert any(e["path"] == ".env" for e in service["env_file"]), name
        env = container_env(service)
        if name == "pipeline":
            assert "0123abcd" in env["MONGODB_URI"]
            continue
        assert {key: env.get(key) for key in CREDENTIALS} == dict.fromkeys(CREDENTIALS, ""), name
        assert "0123abcd" not in str(env), name


def test_hdfs_configuration_matches_the_lake_root(compose: dict[str, Any]) -> None:
    lines = [ln for ln in HADOOP_ENV.read_text().splitlines() if ln and not ln.startswith("#")]
    conf = dict(line.split("=", 1) for line in lines)
    assert all(re.match(r"^(CORE|HDFS)-SITE\.XML_[\w.-]+$", key) for key in conf), conf
    lake = urlsplit(settings_in(compose["services"]["pipeline"]).lake_uri)
    assert conf["CORE-SITE.XML_fs.defaultFS"] == f"hdfs://{lake.netloc}"
    assert conf["HDFS-SITE.XML_dfs.namenode.rpc-address"] == lake.netloc
    namenode = compose["services"]["namenode"]
    assert conf["HDFS-SITE.XML_dfs.namenode.name.dir"] == (
        "file://" + namenode["environment"]["ENSURE_NAMENODE_DIR"]
    )


def test_a_missing_password_stops_compose_with_the_fix(compose: dict[str, Any]) -> None:
    with pytest.raises(KeyError, match=r"MONGO_ROOT_PASSWORD: set MONGO_ROOT_PASSWORD in \.env"):
        interpolate(compose["services"]["pipeline"]["environment"]["MONGODB_URI"], {})


def test_no_secret_is_written_into_the_compose_file() -> None:
    text = COMPOSE_FILE.read_text()
    for match in re.finditer(r"(?im)^\s*[\w-]*(password|secret|token)[\w-]*:\s*(.+)$", text):
        value = match[2].strip()  # from .env, or blanked (x-no-credentials)
        assert value.startswith("${") or value == '""', f"literal secret: {match[0].strip()}"
    for uri in re.findall(r"mongodb(?:\+srv)?://\S+", text):
        credentials = uri.split("://", 1)[1].rsplit("@", 1)[0]
        assert "${MONGO_ROOT_PASSWORD" in credentials, uri


def test_healthy_dependencies_have_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
    named = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}
    assert named == set(compose["volumes"])


def test_container_commands_are_real_commands(compose: dict[str, Any]) -> None:
    runner = CliRunner()
    commands = [s["command"] for s in project_services(compose).values()]
    commands += [s["healthcheck"]["test"][1:] for s in project_services(compose).values()
                 if s.get("healthcheck", {}).get("test", [""])[0] == "CMD"
                 and s["healthcheck"]["test"][1] == "lakehouse"]  # fmt: skip
    # The one-off commands docs/compose.md and the file's header tell users to run.
    commands += [["lakehouse", "run"], ["lakehouse", "pipeline"]]
    assert len(commands) == 7
    for command in commands:
        program, *args = command
        if program == "lakehouse":
            result = runner.invoke(lakehouse_cli, [*args, "--help"])
            assert result.exit_code == 0, f"{command}: {result.output}"
        else:
            binary = Path(sys.executable).parent / program
            result = subprocess.run([binary, *args, "--help"], capture_output=True, timeout=120)
            assert result.returncode == 0, f"{command}: {result.stderr[-500:]!r}"


def test_the_image_installs_what_setup_installs() -> None:
    dockerfile = DOCKERFILE.read_text()
    setup = (REPO_ROOT / "scripts" / "setup.sh").read_text()
    # The same pom fetches the Thrift Server's jars, and the same constraints pin Python.
    assert "mvn -q -B -f spark_thrift/pom.xml dependency:copy-dependencies" in setup
    assert "mvn -q -B -f spark_thrift/pom.xml dependency:copy-dependencies" in dockerfile
    assert re.search(r"pip install -c constraints\.txt -e \.$", dockerfile, re.M)
    python = re.search(r"^FROM python:(\d+\.\d+)", dockerfile, re.M)
    assert python and python[1] == "3.11" and 'PYTHON="${PYTHON:-python3.11}"' in setup
    java = re.search(r"openjdk-(\d+)-jre-headless", dockerfile)
    assert java and int(java[1]) >= MIN_JAVA
    assert re.search(r"^USER lakehouse$", dockerfile, re.M)
    assert re.search(r"^\s+DATA_DIR=/var/lib/lakehouse", dockerfile, re.M)


def test_secrets_and_local_state_stay_out_of_the_image() -> None:
    ignore = (REPO_ROOT / "docker" / "lakehouse.Dockerfile.dockerignore").read_text().split()
    for path in (".env", ".venv", "data", ".git", ".tools", "spark_thrift/jars"):
        assert path in ignore, f"{path} would be copied into the image"
