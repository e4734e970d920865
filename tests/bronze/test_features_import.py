"""`import-features`: Spotify Tracks Dataset CSV rows -> bronze; bad rows quarantined."""

from __future__ import annotations

from pathlib import Path

import pytest
from lake_support import lake_writer_running

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


def test_reimport_adds_nothing(lake_settings: Settings, tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "dataset.csv", [*GOOD, BAD["key"]])
    import_features(csv_file, lake_settings)

    again = import_features(csv_file, lake_settings)

    assert (again.imported, again.duplicates, again.rejected, again.quarantined) == (0, 3, 1, 0)
    assert len(landed(lake_settings)) == 3 and len(quarantined(lake_settings)) == 1


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
