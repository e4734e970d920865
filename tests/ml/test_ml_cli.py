"""`lakehouse train` and `lakehouse ml evaluate|recommend|info` through the real CLI app."""

from __future__ import annotations

import json

import pytest
from ml_catalogues import track
from typer.testing import CliRunner

from lakehouse.settings import get_settings


@pytest.fixture
def cli_env(lake_settings, write_gold, monkeypatch):
    """The CLI reads get_settings(): point it at this test's lake and data folder."""
    monkeypatch.setenv("DATA_DIR", str(lake_settings.data_dir))
    monkeypatch.setenv("LAKE_ROOT", lake_settings.lake_root)
    monkeypatch.setenv("COLUMNS", "200")  # rich tables must not wrap the asserted text
    get_settings.cache_clear()
    write_gold([
        track("r1", "rock", artist="rock-a"),
        track("r2", "rock", artist="rock-b", offset=0.02),
        track("p1", "pop", artist="pop-a"),
        track("p2", "pop", artist="pop-b", offset=0.02),
        track("m1", None, artist="meta-a", genres=["pop"]),
    ])
    yield lake_settings
    get_settings.cache_clear()


def invoke(*args: str):
    from lakehouse.cli import app

    return CliRunner().invoke(app, list(args), terminal_width=200)


def test_train_recommend_info_and_evaluate(cli_env, tmp_path):
    result = invoke("train")
    assert result.exit_code == 0, result.output
    assert "audio+metadata" in result.output
    assert "gold.mart_recommender_features v0 (delta)" in result.output
    assert "1 of 5 tracks have no audio features" in result.output

    result = invoke("ml", "recommend", "r1", "-k", "1")
    assert result.exit_code == 0, result.output
    assert "Song r2 (r2)" in result.output and "shares genres: rock" in result.output

    result = invoke("ml", "info")
    assert result.exit_code == 0 and "exact, recall@10 1.0" in result.output

    output = tmp_path / "evaluation.json"
    result = invoke("ml", "evaluate", "-k", "1", "--output", str(output))
    assert result.exit_code == 0, result.output
    assert "(c) seed: unscaled cosine NearestNeighbors" in result.output
    methods = {m["method"]: m for m in json.loads(output.read_text())["methods"]}
    assert methods["audio_only"]["precision"] == 1.0 and methods["audio_only"]["queries"] == 4
    assert output.with_suffix(".md").exists()


def test_cli_errors_are_clear_and_exit_1(cli_env):
    result = invoke("ml", "recommend", "r1")
    assert result.exit_code == 1
    assert "No trained recommender" in result.output and "lakehouse train" in result.output
    assert invoke("train").exit_code == 0
    result = invoke("ml", "recommend", "nope")
    assert result.exit_code == 1 and "Unknown track id 'nope'" in result.output
    result = invoke("train", "--features", "sound")
    assert result.exit_code == 1 and "feature_set='sound'" in result.output
