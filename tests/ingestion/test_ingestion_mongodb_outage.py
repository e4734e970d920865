"""MongoDB dying in the middle of a crawl: `lakehouse crawl` stops with an error that names the
server and how to resume (no traceback), keeps what was stored, and the next crawl completes
with exactly the data of a clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid

from ingestion_crawl_checks import (
    CLI_CRAWL,
    assert_rerun_completes_as,
    clean_reference,
    cli_crawl_env,
    seed_names,
    snapshot,
    wait_until_artists_done,
)
from process_support import service_pid
from pymongo.errors import ServerSelectionTimeoutError

from ingestion.crawl import store_failed_message
from ingestion.mongodb import client
from lakehouse import services
from lakehouse.settings import REPO_ROOT, Settings


def test_mongodb_killed_mid_crawl_fails_clearly_and_the_next_crawl_completes(
    crawl_settings, emulator, mongo_db, own_ferretdb, tmp_path
):
    seeds = seed_names(emulator)
    reference = clean_reference(crawl_settings, emulator, mongo_db, seeds)
    seed_file = tmp_path / "seeds.txt"
    seed_file.write_text("\n".join(seeds) + "\n", encoding="utf-8")
    name = f"t_{uuid.uuid4().hex[:10]}"
    env = cli_crawl_env(emulator, name, seed_file, DATA_DIR=str(own_ferretdb.data_dir),
                        FERRETDB_PORT=str(own_ferretdb.ferretdb_port), COLUMNS="400")
    (service,) = services.select(own_ferretdb, ["ferretdb"])
    emulator.config.faults.rate_slow, emulator.config.faults.slow_s = 1.0, 0.03
    try:
        proc = subprocess.Popen(CLI_CRAWL, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        with client(own_ferretdb) as mongo:
            wait_until_artists_done(mongo[name], proc)
        os.kill(service_pid(own_ferretdb, "ferretdb"), signal.SIGKILL)
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
            assert_rerun_completes_as(reference, db, env)
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
