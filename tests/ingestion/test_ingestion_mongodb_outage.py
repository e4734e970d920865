"""MongoDB dying in the middle of a crawl: `lakehouse crawl` stops with an error that names the
server and how to resume (no traceback), keeps what was stored, and the next crawl completes
with exactly the data of a clean run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from ingestion_crawl_checks import snapshot
from pymongo.errors import ServerSelectionTimeoutError

from ingestion.crawl import emulator_endpoint, run_crawl, store_failed_message
from ingestion.mongodb import client
from lakehouse import services
from lakehouse.settings import REPO_ROOT, Settings
from lakehouse.supervisor import free_port


@pytest.fixture
def own_ferretdb(ferretdb: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A FerretDB of this test's own (the session's is shared: it must not be killed)."""
    settings = ferretdb.model_copy(update={
        "data_dir": tmp_path / "data", "ferretdb_port": free_port()})
    (service,) = services.select(settings, ["ferretdb"])
    services.start(service)
    yield settings
    services.stop(service)


def _ferretdb_pid(settings: Settings) -> int:
    (service,) = services.select(settings, ["ferretdb"])
    running = service.process.running_process()
    assert running is not None
    return running.pid


def _crawl_env(emulator, settings: Settings, db_name: str, seed_file: Path) -> dict[str, str]:
    return dict(
        os.environ,
        DATA_DIR=str(settings.data_dir),
        FERRETDB_PORT=str(settings.ferretdb_port),
        MONGODB_DATABASE=db_name,
        SPOTIFY_CLIENT_ID=emulator.client_id,
        SPOTIFY_CLIENT_SECRET=emulator.client_secret,
        SPOTIFY_API_URL=emulator.api_url,
        SPOTIFY_TOKEN_URL=emulator.token_url,
        CRAWL_SEED_FILE=str(seed_file),
        CRAWL_CHUNK_ARTISTS="2",
        CRAWL_ARTISTS_PER_RUN="1000",
        COLUMNS="400",
    )


def test_mongodb_killed_mid_crawl_fails_clearly_and_the_next_crawl_completes(
    crawl_settings, emulator, mongo_db, own_ferretdb, tmp_path
):
    seeds = [a.name for a in list(emulator.catalogue.artists.values())[:4]]
    reference_run = run_crawl(crawl_settings, endpoint=emulator_endpoint(emulator), db=mongo_db,
                              seeds=seeds)
    assert reference_run.completed and not reference_run.artists_failed
    reference = snapshot(mongo_db)

    seed_file = tmp_path / "seeds.txt"
    seed_file.write_text("\n".join(seeds) + "\n", encoding="utf-8")
    name = f"t_{uuid.uuid4().hex[:10]}"
    env = _crawl_env(emulator, own_ferretdb, name, seed_file)
    command = [sys.executable, "-m", "lakehouse.cli", "crawl"]
    (service,) = services.select(own_ferretdb, ["ferretdb"])
    emulator.config.faults.rate_slow, emulator.config.faults.slow_s = 1.0, 0.03
    try:
        proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        with client(own_ferretdb) as mongo:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                if mongo[name].crawl_artists.count_documents({"status": "done"}) >= 2:
                    break
                time.sleep(0.05)
        assert proc.poll() is None, "the crawl finished before MongoDB could be killed"
        os.kill(_ferretdb_pid(own_ferretdb), signal.SIGKILL)
        _out, err = proc.communicate(timeout=120)

        assert proc.returncode == 1
        assert "Traceback" not in err
        message = " ".join(err.split())
        address = own_ferretdb.mongodb_display  # mongodb://127.0.0.1:<port>/
        assert f"error: MongoDB at {address} could not be reached during crawl crawl-" in message
        assert "start it (`lakehouse services up --only ferretdb`), then crawl again" in message
        assert "it resumes with the artists still pending" in message
        assert "Topology Description" not in message  # pymongo's long tail is cut

        emulator.config.faults.rate_slow = 0.0
        services.start(service)  # the same data folder: what was stored before the kill
        with client(own_ferretdb) as mongo:
            db = mongo[name]
            partial = snapshot(db)
            assert 0 < len(partial["tracks"]) < len(reference["tracks"])
            rerun = subprocess.run([*command, "--json"], cwd=REPO_ROOT, env=env,
                                   capture_output=True, text=True, timeout=300)
            assert rerun.returncode == 0, rerun.stderr
            summary = json.loads(rerun.stdout.strip().splitlines()[-1])
            assert summary["stopped_reason"] is None and not summary["artists_failed"]
            assert snapshot(db) == reference
            statuses = sorted(r["status"] for r in db.crawl_runs.find({}))
            assert statuses == ["completed", "interrupted"]
    finally:
        emulator.config.faults.rate_slow = 0.0


def test_for_a_remote_server_the_advice_names_the_setting_and_never_the_password():
    settings = Settings(
        _env_file=None,
        mongodb_uri="mongodb+srv://etl:s3cret-pw@cluster0.example.mongodb.net/?retryWrites=true",
    )
    cause = ServerSelectionTimeoutError(
        "cluster0.example.mongodb.net:27017: timed out, Timeout: 5.0s, Topology Description:"
        " <TopologyDescription id: 1, topology_type: Unknown, servers: []>"
    )
    message = store_failed_message(settings, "crawl-x", cause)
    assert "s3cret-pw" not in message
    redacted = "mongodb+srv://***@cluster0.example.mongodb.net/?***"
    assert message.startswith(f"MongoDB at {redacted} could not be reached during crawl crawl-x")
    assert "check that the server in MONGODB_URI is up and reachable from here" in message
    assert "services up" not in message and "Topology Description" not in message
    assert "(ServerSelectionTimeoutError: cluster0.example.mongodb.net:27017: timed out," in message
