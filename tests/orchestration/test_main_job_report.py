"""The main job's closing report: the next steps it prints follow the settings."""

from __future__ import annotations

from rich.console import Console

from lakehouse.settings import Settings
from orchestration.main_job import print_report

REPORT = {
    "run_id": "run-1",
    "status": "completed",
    "seconds": 12.0,
    "stages": {"services": {"status": "ok", "seconds": 0.1}},
    "layer_counts": {"gold": {"dim_track": 3}},
    "model_version": "v1",
}


def printed(settings: Settings) -> str:
    console = Console(record=True, width=200)
    print_report(REPORT, settings, console)
    return console.export_text()


def test_local_services_are_stopped_with_services_down() -> None:
    text = printed(Settings(_env_file=None, app_host="127.0.0.1", app_port=8599))
    assert "http://127.0.0.1:8599" in text
    assert "lakehouse services down" in text
    assert "dim_track" in text and "Recommender: version v1" in text


def test_external_services_are_not_offered_to_stop() -> None:
    settings = Settings(
        _env_file=None,
        mongodb_uri="mongodb://user:pw@mongo:27017/",
        thrift_host="spark-thrift",
        thrift_port=10000,
    )
    text = printed(settings)
    assert "jdbc:hive2://spark-thrift:10000" in text
    assert "services down" not in text
    assert "pw@" not in text
