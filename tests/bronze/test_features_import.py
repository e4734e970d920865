"""`import-features`: Spotify Tracks Dataset CSV rows -> bronze; bad rows quarantined."""

from __future__ import annotations

from pathlib import Path

import pytest
from export_crash import SimulatedCrash
from lake_support import lake_writer_running

from ingestion import features_import
from ingestion.bronze_tables import open_table
from ingestion.features_import import FeaturesFormatError, import_features
from ingestion.spotify_ids import derived_id
from lakehouse.exclusive_lock import LakeBusy
from lakehouse.settings import Settings

HEADER = (
    ",track_id,artists,album_name,track_name,popularity,duration_ms,explicit,danceability,energy,"
    "key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,"
    "time_signature,track_genre"
)
T1, T2, T3 = (derived_id("csv", n) for n in range(3))
GOOD = [
    f'0,{T1},Gen Hoshino,Comedy,Comedy,73,230666,False,0.676,0.461,1,-6.746,0,0.143,0.0322,'
    f'1.01e-06,0.358,0.715,87.917,4,acoustic',
    f'1,{T2},"Ben Woodward;Kina Grannis",Ghost (Acoustic),"Ghost, Acoustic",,149610,True,0.42,'
    f'0.166,-1,-17.235,1,0.0763,0.924,5.56e-06,0.101,0.267,77.489,4,acoustic',
    # The same track listed under a second genre: a distinct row, kept.
    f'2,{T1},Gen Hoshino,Comedy,Comedy,73,230666,False,0.676,0.461,1,-6.746,0,0.143,0.0322,'
    f'1.01e-06,0.358,0.715,87.917,4,j-pop',
]
BAD = {
    "danceability": f"3,{T3},A,B,C,10,200000,False,1.7,0.5,1,-5,1,0.1,0.1,0,0.1,0.5,120,4,pop",
    "key": f"4,{T3},A,B,C,10,200000,False,0.5,0.5,12,-5,1,0.1,0.1,0,0.1,0.5,120,4,pop",
    "time_signature": f"5,{T3},A,B,C,10,200000,False,0.5,0.5,1,-5,1,0.1,0.1,0,0.1,0.5,120,9,pop",
    "tempo": f"6,{T3},A,B,C,10,200000,False,0.5,0.5,1,-5,1,0.1,0.1,0,0.1,0.5,fast,4,pop",
    "track_id": "7,,A,B,C,10,200000,False,0.5,0.5,1,-5,1,0.1,0.1,0,0.1,0.5,120,4,pop",
    "explicit": f"8,{T3},A,B,C,10,200000,maybe,0.5,0.5,1,-5,1,0.1,0.1,0,0.1,0.5,120,4,pop",
    "columns": f"9,{T3},A,B,C,10,200000",
}
EXPECTED_REASONS = {
    "danceability": "out_of_range: danceability 1.7 is not in [0, 1]",
    "key": "out_of_range: key 12 is not in [-1, 11]",
    "time_signature": "out_of_range: time_signature 9 is not in [3, 7]",
    "tempo": "wrong_type: tempo 'fast' is not a number",
    "track_id": "missing_id: track_id is empty",
    "explicit": "wrong_type: explicit 'maybe' is not True/False",
    "columns": "malformed_row: 7 fields, expected 20 (+ optional index)",
}


def write_csv(path: Path, lines: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def landed(settings: Settings) -> list[dict]:
    return open_table(settings, "imported_audio_features").to_pyarrow_table().to_pylist()


def quarantined(settings: Settings) -> list[dict]:
    return open_table(settings, "quarantine").to_pyarrow_table().to_pylist()


@pytest.fixture
def lake_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"lake_root": str(tmp_path / "lake")})


def test_good_rows_land_typed_with_provenance_and_bad_rows_are_quarantined(
    lake_settings: Settings, tmp_path: Path
) -> None:
    csv_file = write_csv(tmp_path / "dataset.csv", [*GOOD, *BAD.values()])

    summary = import_features(csv_file, lake_settings)

    assert (summary.rows, summary.imported, summary.rejected, summary.quarantined) == (10, 3, 7, 7)
    rows = sorted(landed(lake_settings), key=lambda r: r["source_row"])
    assert [(r["track_id"], r["track_genre"], r["source_row"]) for r in rows] == [
        (T1, "acoustic", 1),
        (T2, "acoustic", 2),
        (T1, "j-pop", 3),
    ]
    second = rows[1]
    assert second["artists"] == "Ben Woodward;Kina Grannis"
    assert second["track_name"] == "Ghost, Acoustic"
    assert second["popularity"] is None  # empty popularity is allowed (nullable)
    assert (second["explicit"], second["key"], second["mode"]) == (True, -1, 1)
    assert second["loudness"] == -17.235 and second["instrumentalness"] == 5.56e-06
    assert (second["duration_ms"], second["time_signature"]) == (149610, 4)
    assert {r["source_file"] for r in rows} == {"dataset.csv"}
    assert {r["batch_id"] for r in rows} == {summary.batch_id}
    assert len({r["content_hash"] for r in rows}) == 3

    reasons = {q["raw"]: q["reason"] for q in quarantined(lake_settings)}
    assert {q["entity"] for q in quarantined(lake_settings)} == {"imported_audio_features"}
    assert reasons == {line: EXPECTED_REASONS[kind] for kind, line in BAD.items()}


def latest_import(settings: Settings, track_id: str) -> list[dict]:
    """The track's rows of its latest import: what stg_spotify__imported_audio_features reads."""
    rows = [r for r in landed(settings) if r["track_id"] == track_id]
    newest = max(r["imported_at"] for r in rows)
    return sorted((r for r in rows if r["imported_at"] == newest), key=lambda r: r["source_row"])


def genres(rows: list[dict]) -> list[str]:
    return sorted(r["track_genre"] for r in rows)


def test_the_same_file_twice_writes_nothing_the_second_time(
    lake_settings: Settings, tmp_path: Path
) -> None:
    csv_file = write_csv(tmp_path / "dataset.csv", [*GOOD, BAD["key"]])
    first = import_features(csv_file, lake_settings)
    version = open_table(lake_settings, "imported_audio_features").version()

    again = import_features(csv_file, lake_settings)

    assert again.already_imported is not None
    assert (again.already_imported.source_file, again.already_imported.batch_id) == (
        "dataset.csv",
        first.batch_id,
    )
    assert again.file_sha256 == first.file_sha256
    assert (again.rows, again.imported, again.rejected, again.quarantined) == (0, 0, 0, 0)
    assert open_table(lake_settings, "imported_audio_features").version() == version
    assert len(landed(lake_settings)) == 3 and len(quarantined(lake_settings)) == 1
    # The same content under another name is the same import.
    copy = write_csv(tmp_path / "copy.csv", [*GOOD, BAD["key"]])
    assert import_features(copy, lake_settings).already_imported is not None
    assert len(landed(lake_settings)) == 3


def test_an_updated_file_is_a_whole_new_import_of_every_row(
    lake_settings: Settings, tmp_path: Path
) -> None:
    import_features(write_csv(tmp_path / "v1.csv", GOOD), lake_settings)
    k_pop = GOOD[2].replace("2,", "3,", 1).replace(",j-pop", ",k-pop")

    added = import_features(write_csv(tmp_path / "v2.csv", [*GOOD, k_pop]), lake_settings)

    assert (added.already_imported, added.imported, added.duplicates) == (None, 4, 0)
    assert genres(latest_import(lake_settings, T1)) == ["acoustic", "j-pop", "k-pop"]
    assert {r["batch_id"] for r in latest_import(lake_settings, T1)} == {added.batch_id}
    assert len(latest_import(lake_settings, T2)) == 1

    # A newer file no longer files T1 under j-pop: its latest import does not either.
    import_features(write_csv(tmp_path / "v3.csv", [GOOD[0], GOOD[1], k_pop]), lake_settings)
    assert genres(latest_import(lake_settings, T1)) == ["acoustic", "k-pop"]


def test_values_changing_back_are_the_latest_again(lake_settings: Settings, tmp_path: Path) -> None:
    value_a = GOOD[1]
    value_b = GOOD[1].replace(",0.42,", ",0.55,")
    a_file = write_csv(tmp_path / "a.csv", [value_a])
    import_features(a_file, lake_settings)
    import_features(write_csv(tmp_path / "b.csv", [value_b]), lake_settings)
    assert [r["danceability"] for r in latest_import(lake_settings, T2)] == [0.55]

    # Back to A in a file that differs otherwise (another track too): a new import.
    import_features(write_csv(tmp_path / "a2.csv", [value_a, GOOD[0]]), lake_settings)
    assert [r["danceability"] for r in latest_import(lake_settings, T2)] == [0.42]

    # The very file imported first is skipped unless forced.
    import_features(write_csv(tmp_path / "b2.csv", [value_b, GOOD[0]]), lake_settings)
    assert import_features(a_file, lake_settings).already_imported is not None
    assert [r["danceability"] for r in latest_import(lake_settings, T2)] == [0.55]
    forced = import_features(a_file, lake_settings, force=True)
    assert (forced.already_imported, forced.imported) == (None, 1)
    assert [r["danceability"] for r in latest_import(lake_settings, T2)] == [0.42]


def test_repeated_rows_within_one_file_land_once(lake_settings: Settings, tmp_path: Path) -> None:
    summary = import_features(write_csv(tmp_path / "d.csv", [*GOOD, GOOD[0]]), lake_settings)

    assert (summary.rows, summary.imported, summary.duplicates) == (4, 3, 1)
    assert genres(latest_import(lake_settings, T1)) == ["acoustic", "j-pop"]


def test_an_import_that_crashed_before_its_last_commit_lands_whole_when_run_again(
    lake_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv_file = write_csv(tmp_path / "dataset.csv", GOOD)
    monkeypatch.setattr(features_import, "CHUNK_ROWS", 2)
    real_write = features_import._write_chunk

    def crash_on_the_last_commit(settings: Settings, rows: list, completes: dict | None = None):
        if completes is not None:
            raise SimulatedCrash("killed before the import's last commit")
        real_write(settings, rows, completes)

    monkeypatch.setattr(features_import, "_write_chunk", crash_on_the_last_commit)
    with pytest.raises(SimulatedCrash):
        import_features(csv_file, lake_settings)
    monkeypatch.undo()
    assert len(landed(lake_settings)) == 2  # the first chunk

    again = import_features(csv_file, lake_settings)

    assert (again.already_imported, again.imported) == (None, 3)
    assert genres(latest_import(lake_settings, T1)) == ["acoustic", "j-pop"]
    assert import_features(csv_file, lake_settings).already_imported is not None


def test_an_import_while_another_writer_holds_the_lake_is_refused_and_writes_nothing(
    lake_settings: Settings, tmp_path: Path
) -> None:
    csv_file = write_csv(tmp_path / "dataset.csv", GOOD)
    with lake_writer_running(lake_settings, "bronze export batch held-by-test") as holder:
        with pytest.raises(LakeBusy) as refused:
            import_features(csv_file, lake_settings)
        message = str(refused.value)
        assert message.startswith("features import of dataset.csv (batch ")
        assert f"(bronze export batch held-by-test, pid {holder.pid}, since " in message
        assert open_table(lake_settings, "imported_audio_features") is None
    assert import_features(csv_file, lake_settings).imported == 3


def test_undecodable_bytes_spoil_only_their_row(lake_settings: Settings, tmp_path: Path) -> None:
    csv_file = tmp_path / "latin1.csv"
    bad = GOOD[1].replace("Kina Grannis", "Kina Gr\xe4nnis").encode("latin-1")
    csv_file.write_bytes(f"{HEADER}\n{GOOD[0]}\n".encode() + bad + b"\n")

    summary = import_features(csv_file, lake_settings)

    assert (summary.imported, summary.rejected) == (1, 1)
    (row,) = quarantined(lake_settings)
    assert row["reason"] == "undecodable: the row contains bytes that are not valid UTF-8"
    assert row["doc_id"] == T2 and "Kina Gr\\xe4nnis" in row["raw"]


def test_a_file_in_another_format_is_refused_before_anything_is_written(
    lake_settings: Settings, tmp_path: Path
) -> None:
    other = write_csv(tmp_path / "other.csv", ["x,1"], header="id,tempo")
    with pytest.raises(FeaturesFormatError) as error:
        import_features(other, lake_settings)
    message = str(error.value)
    assert "not in the Spotify Tracks Dataset format" in message
    assert "missing column(s) track_id, artists," in message
    assert open_table(lake_settings, "imported_audio_features") is None

    with pytest.raises(FeaturesFormatError, match="does not exist"):
        import_features(tmp_path / "nope.csv", lake_settings)
