"""`lakehouse export` and `lakehouse import-features` as a user runs them (subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lake_support import lake_writer_running
from pymongo.database import Database
from spotify_docs import BASE_TIME, documents

from ingestion.bronze_tables import open_table
from lakehouse.settings import Settings
from lakehouse.supervisor import free_port

CLI = str(Path(sys.executable).parent / "lakehouse")
CSV = Path(__file__).with_name("tracks_dataset_sample.csv")


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **env},
        timeout=300,
    )


def counts(stdout: str, entity: str) -> list[str]:
    """read, exported, already in bronze, rejected, newly quarantined from the counts table
    (the first of the two tables that list the entity)."""
    line = next(row for row in stdout.splitlines() if row.split()[:1] == [entity])
    return line.split()[1:6]


@pytest.fixture
def cli_env(bronze_settings: Settings) -> dict[str, str]:
    return {
        "MONGODB_DATABASE": bronze_settings.mongodb_database,
        "LAKE_ROOT": bronze_settings.lake_root,
        "FERRETDB_PORT": str(bronze_settings.ferretdb_port),
        "BRONZE_CHANGE_CAPTURE": bronze_settings.bronze_change_capture,
    }


def test_export_prints_a_summary_and_a_rerun_exports_nothing(
    cli_env: dict[str, str], bronze_settings: Settings, mongo_db: Database
) -> None:
    mongo_db.albums.insert_many(documents("albums", 0, 12, BASE_TIME))
    mongo_db.albums.insert_one({"_id": "no-stamp-album", "name": "x"})

    first = run_cli("export", "--no-register", env={**cli_env, "COLUMNS": "80"})

    assert first.returncode == 0, first.stderr
    # Both tables fit an 80-column terminal: no cell cut short with an ellipsis.
    assert "…" not in first.stdout and max(map(len, first.stdout.splitlines())) <= 80
    assert counts(first.stdout, "albums") == ["13", "12", "0", "1", "1"]
    assert "1 document(s) failed validation: see bronze.quarantine" in first.stdout
    assert open_table(bronze_settings, "albums").to_pyarrow_table().num_rows == 12

    again = run_cli("export", "--no-register", "--entity", "albums", env=cli_env)
    assert again.returncode == 0, again.stderr
    assert counts(again.stdout, "albums") == ["13", "0", "12", "1", "0"]

    # FerretDB's default reads the crawler's change journal, which holds nothing here; --rescan
    # also queries MongoDB, as the scan above did.
    journal_env = {**cli_env, "BRONZE_CHANGE_CAPTURE": "auto"}
    journal = run_cli("export", "--no-register", "--entity", "albums", env=journal_env)
    assert journal.returncode == 0, journal.stderr
    assert counts(journal.stdout, "albums") == ["0", "0", "0", "0", "0"]
    assert "journal (0)" in journal.stdout and "MongoDB" not in journal.stdout
    rescan = run_cli("export", "--no-register", "-e", "albums", "--rescan", env=journal_env)
    assert counts(rescan.stdout, "albums") == ["13", "0", "12", "1", "0"]
    assert "MongoDB + journal (0)" in rescan.stdout


def test_export_errors_name_the_problem_and_the_fix(cli_env: dict[str, str]) -> None:
    wrong_entity = run_cli("export", "--no-register", "-e", "podcasts", env=cli_env)
    assert wrong_entity.returncode == 1
    assert "unknown entity podcasts; choose from artists, albums, tracks, audio_features" in (
        wrong_entity.stderr
    )

    port = free_port()
    no_mongo = run_cli("export", "--no-register", env={**cli_env, "FERRETDB_PORT": str(port)})
    assert no_mongo.returncode == 1
    assert f"MongoDB at mongodb://127.0.0.1:{port}/ failed during the export" in no_mongo.stderr
    assert "lakehouse services up" in no_mongo.stderr
    assert "Traceback" not in no_mongo.stderr


def test_import_features_cli(cli_env: dict[str, str], tmp_path: Path) -> None:
    done = run_cli("import-features", str(CSV), "--no-register", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert (
        "tracks_dataset_sample.csv: 10 rows read, 8 imported, 0 repeated in the file, 2 rejected"
        " (2 newly quarantined)"
    ) in done.stdout

    again = run_cli("import-features", str(CSV), "--no-register", env=cli_env)
    assert again.returncode == 0, again.stderr
    assert "tracks_dataset_sample.csv: nothing imported, this content (sha256 " in again.stdout
    assert "was already imported as tracks_dataset_sample.csv (batch " in again.stdout
    assert "Run again with --force to import it anew." in again.stdout
    forced = run_cli("import-features", str(CSV), "--no-register", "--force", env=cli_env)
    assert forced.returncode == 0, forced.stderr
    assert "10 rows read, 8 imported, 0 repeated in the file, 2 rejected" in forced.stdout
    assert "(0 newly quarantined)" in forced.stdout

    missing = run_cli("import-features", str(tmp_path / "nope.csv"), env=cli_env)
    assert missing.returncode == 1
    assert "nope.csv does not exist or is not a file" in missing.stderr


def test_import_features_names_a_wrong_file_even_while_another_job_writes_the_lake(
    cli_env: dict[str, str], bronze_settings: Settings, tmp_path: Path
) -> None:
    """The file's problem is the one to fix; being refused first would only hide it a turn."""
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,tempo\nx,1\n", encoding="utf-8")
    with lake_writer_running(bronze_settings, "dbt build into gold"):
        refused = run_cli("import-features", str(wrong), "--no-register", env=cli_env)
        assert refused.returncode == 1
        error = " ".join(refused.stderr.split())
        assert "wrong.csv" in error and "was refused" not in error
        good = run_cli("import-features", str(CSV), "--no-register", env=cli_env)
        assert good.returncode == 1
        assert "was refused: another job is writing the lake on this machine (dbt build into" \
            " gold, pid" in " ".join(good.stderr.split())


def test_a_file_whose_every_row_is_rejected_fails_and_a_latin1_one_is_named(
    cli_env: dict[str, str], bronze_settings: Settings, tmp_path: Path
) -> None:
    # A cp1252 export of European music: every data row has an accented album name.
    header, *rows = CSV.read_text(encoding="utf-8").splitlines()
    accented = [",".join([*r.split(",")[:3], "Chanson d'été", *r.split(",")[4:]]) for r in rows[:3]]
    latin1 = tmp_path / "chansons.csv"
    latin1.write_bytes("\n".join([header, *accented, ""]).encode("cp1252"))

    result = run_cli("import-features", str(latin1), "--no-register", env=cli_env)

    assert result.returncode == 1
    assert "3 rows read, 0 imported, 0 repeated in the file, 3 rejected" in result.stdout
    out = " ".join(result.stdout.split())
    assert "3 of them hold bytes that are not UTF-8: the file was likely saved as Latin-1" in out
    assert "`iconv -f cp1252 -t utf-8 chansons.csv > chansons-utf8.csv`" in out
    error = " ".join(result.stderr.split())
    assert f"nothing imported: all 3 data rows of {latin1} were rejected" in error
    rejected = [r for r in open_table(bronze_settings, "quarantine").to_pyarrow_table().to_pylist()
                if r["reason"].startswith("undecodable")]
    assert len(rejected) == 3  # kept, with the raw line, for whoever fixes the file

    # Converted, the same rows import.
    utf8 = tmp_path / "chansons-utf8.csv"
    utf8.write_text(latin1.read_bytes().decode("cp1252"), encoding="utf-8")
    fixed = run_cli("import-features", str(utf8), "--no-register", env=cli_env)
    assert fixed.returncode == 0, fixed.stderr
    assert "3 rows read, 3 imported, 0 repeated in the file, 0 rejected" in fixed.stdout
    assert "not UTF-8" not in fixed.stdout


def test_register_without_a_thrift_server_keeps_the_data_and_says_what_to_do(
    cli_env: dict[str, str], bronze_settings: Settings
) -> None:
    port = free_port()
    result = run_cli("import-features", str(CSV), env={**cli_env, "THRIFT_PORT": str(port)})
    assert result.returncode == 1
    assert "the bronze data is written, but registering it failed" in result.stderr
    assert f"not answering on 127.0.0.1:{port}" in result.stderr
    assert open_table(bronze_settings, "imported_audio_features").to_pyarrow_table().num_rows == 8
