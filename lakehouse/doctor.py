"""`lakehouse doctor`: check the machine and the install, and say exactly what to fix."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from dotenv import dotenv_values
from pydantic import SecretStr

from ingestion import ferretdb_server
from lakehouse.services import Service, all_services, moved_message
from lakehouse.settings import ENV_FILE, REPO_ROOT, Settings
from lakehouse.supervisor import ServiceError, port_is_free, port_owner
from spark_thrift import launcher

# The versions the stack was verified with (pinned in pyproject.toml and constraints.txt); a
# drift is reported, not fatal.
PINNED = {
    "pyspark": "4.1.1",
    "delta-spark": "4.3.1",
    "dbt-core": "1.11.",
    "dbt-spark": "1.11.0",
    "great-expectations": "1.24.1",
    "prefect": "3.8.8",
    "pandas": "2.",
    "deltalake": "1.6.6",
    "pymongo": "4.20.0",
    "spotipy": "2.26.0",
}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _guard(name: str, fn: Callable[[], str]) -> Check:
    try:
        return Check(name, True, fn())
    except ServiceError as exc:
        return Check(name, False, str(exc).split(": ", 1)[-1], str(exc))


def check_python() -> Check:
    ok = sys.version_info[:2] == (3, 11)
    return Check(
        "python",
        ok,
        sys.version.split()[0],
        "" if ok else "The project is pinned to Python 3.11: create the venv with python3.11.",
    )


def check_packages() -> list[Check]:
    checks = []
    for package, wanted in PINNED.items():
        try:
            found = metadata.version(package)
        except metadata.PackageNotFoundError:
            checks.append(Check(package, False, "not installed", "run `make setup`"))
            continue
        ok = found.startswith(wanted) if wanted.endswith(".") else found == wanted
        fix = (
            "" if ok else f"expected {wanted}*: run `make setup` to reinstall from constraints.txt"
        )
        checks.append(Check(package, ok, found, fix))
    return checks


def check_java(settings: Settings) -> Check:
    def probe() -> str:
        java = launcher.check_java(settings)
        return f"Java {launcher.java_version(java)} at {java}"

    return _guard("java", probe)


def check_jars(settings: Settings) -> Check:
    return _guard(
        "thrift server jars", lambda: ", ".join(j.name for j in launcher.server_jars(settings))
    )


def check_ferretdb(settings: Settings) -> Check:
    if not settings.mongodb_is_local:
        return Check("ferretdb", True, f"not needed: MONGODB_URI is {settings.mongodb_display}")
    return _guard("ferretdb", lambda: str(ferretdb_server.check_binary(settings)))


def check_port(service: Service) -> Check:
    """The local service's port: free, or held by the server this project started for it."""
    port, env = service.port, f"{service.name.upper()}_PORT"
    ours = service.process.running_process()
    if ours is not None:
        moved = moved_message(service, ours.pid)
        if moved:
            return Check(f"port {port}", False, f"our {service.name} runs elsewhere", moved)
        return Check(f"port {port}", True, f"used by our {service.name} (pid {ours.pid})")
    if port_is_free(service.host, port):
        return Check(f"port {port}", True, f"free on {service.host} for {service.name}")
    return Check(
        f"port {port}",
        False,
        f"busy ({port_owner(port)})",
        f"Stop {port_owner(port)} or set {env} to a free port in .env.",
    )


def check_service_address(service: Service) -> Check:
    """A service run here needs its port free (or ours); one run elsewhere must answer. Settings
    that cannot work (a malformed MONGODB_URI) are named first, not reported as no answer."""
    try:
        service.check_settings()
    except ServiceError as exc:
        return Check(service.title, False, "settings not usable", str(exc))
    if not service.external:
        return check_port(service)
    setting = service.external_setting
    where = f"external at {service.address} ({setting})"
    # A URI names the whole server; a host is only half of the address.
    check = setting if service.external_display else f"{setting}/{service.name.upper()}_PORT"
    try:
        if service.probe():
            return Check(service.title, True, f"{where}, answers")
    except ServiceError as exc:  # it answers, but refuses (a wrong login)
        return Check(service.title, False, f"{where}, refuses the login", str(exc))
    return Check(
        service.title,
        False,
        f"{where}, does not answer",
        f"Start that server, or check {check}; unset {setting} to run one here.",
    )


def check_data_dir(settings: Settings) -> Check:
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        ok = os.access(settings.data_dir, os.W_OK)
    except OSError:
        ok = False
    return Check(
        "data dir", ok, str(settings.data_dir), "" if ok else "Set DATA_DIR to a writable folder."
    )


def check_spotify(settings: Settings) -> Check:
    if settings.has_spotify_credentials:
        return Check("spotify", True, "credentials set (real Spotify API)")
    return Check("spotify", True, "no credentials: the crawl uses the bundled emulator")


def credentials_in(env_file: Path) -> list[str]:
    """The credential variables `env_file` sets to a value: the secret settings, and the MongoDB
    root password docker-compose builds its URI from."""
    names = {
        name.upper()
        for name, field in Settings.model_fields.items()
        if SecretStr in getattr(field.annotation, "__args__", (field.annotation,))
    } | {"MONGO_ROOT_PASSWORD"}
    values = dotenv_values(env_file)
    return sorted(key for key, value in values.items() if key.upper() in names and value)


def check_env_file(env_file: Path = ENV_FILE) -> Check:
    """A .env holding credentials must be readable by its owner alone: `cp .env.example .env`
    with the usual umask leaves it readable by every user of the machine."""
    if not env_file.is_file():
        return Check("env file", True, f"{env_file.name}: none (settings from the environment)")
    mode = stat.S_IMODE(env_file.stat().st_mode)
    credentials = credentials_in(env_file)
    if not credentials or not mode & 0o077:
        return Check("env file", True, f"{env_file} (mode {mode:o})")
    return Check(
        "env file",
        False,
        f"{env_file} holds {', '.join(credentials)} and is readable by other users (mode"
        f" {mode:o})",
        f"Make it private: chmod 600 {env_file}",
    )


def check_dbt_profile() -> Check:
    profile = REPO_ROOT / "dbt_spotify" / "profiles.yml"
    ok = profile.is_file()
    return Check(
        "dbt profile", ok, str(profile), "" if ok else "dbt_spotify/profiles.yml is missing"
    )


def run_checks(settings: Settings) -> list[Check]:
    return [
        check_python(),
        *check_packages(),
        check_java(settings),
        check_jars(settings),
        check_ferretdb(settings),
        *(check_service_address(service) for service in all_services(settings)),
        check_data_dir(settings),
        check_env_file(),
        check_dbt_profile(),
        check_spotify(settings),
    ]
