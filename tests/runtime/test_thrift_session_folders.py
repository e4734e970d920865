"""Hive's per-session folders live in DATA_DIR, not /tmp, and a start clears the ones earlier
servers left (Hive never removes its start-up session's folder, even on a clean stop)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from lakehouse import services
from lakehouse.settings import Settings
from spark_thrift import launcher
from spark_thrift.client import connect

SYSTEM_TMP = Path(tempfile.gettempdir())


def _resources_folders(folder: Path) -> set[Path]:
    return set(folder.glob("*_resources"))


def test_a_session_keeps_its_folder_in_data_dir_not_tmp(thrift: Settings) -> None:
    hive = launcher.hive_dir(thrift)
    in_tmp, in_data_dir = _resources_folders(SYSTEM_TMP), _resources_folders(hive)
    with connect(thrift) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT 1")
        assert cursor.fetchall() == [(1,)]
        # While the session is open its folder exists: it must be in DATA_DIR.
        opened = _resources_folders(hive) - in_data_dir
        assert len(opened) == 1, f"no new session folder in {hive}"
        assert _resources_folders(SYSTEM_TMP) - in_tmp == set()
        assert (hive / "operation_logs").is_dir()
    # A closed session removes its own folder.
    assert _resources_folders(hive) - in_data_dir == set()


def test_a_start_clears_the_empty_session_folders_earlier_servers_left(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    hive = launcher.hive_dir(settings)
    left = [hive / f"{n}-leftover_resources" for n in range(3)]
    for folder in left:
        folder.mkdir(parents=True)
    holding = hive / "with-a-file_resources"
    holding.mkdir()
    (holding / "udf.jar").write_bytes(b"jar")

    (thrift,) = services.select(settings, ["thrift"])
    command, _env, _cwd = thrift.prepare()

    assert [folder.exists() for folder in left] == [False, False, False]
    assert (holding / "udf.jar").read_bytes() == b"jar"
    assert f"spark.hadoop.hive.downloaded.resources.dir={hive}/${{hive.session.id}}_resources" in (
        command
    )
