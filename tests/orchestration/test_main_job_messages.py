"""What the main job tells the user: its closing report and, when a service is down, the fix."""

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


def test_a_service_down_is_named_with_its_own_fix(tmp_path) -> None:
    """A local service is started with `services up`; an external one is checked in settings."""
    import pytest

    from lakehouse.supervisor import ServiceError, free_port
    from orchestration.flows import check_services

    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        mongodb_uri="mongodb://user:pw@127.0.0.1:1/?serverSelectionTimeoutMS=500",
        thrift_host="127.0.0.1",
        thrift_port=free_port(),
    )
    with pytest.raises(ServiceError) as raised:
        check_services.fn(settings)
    message = str(raised.value)
    assert "MongoDB (mongodb://***@127.0.0.1:1/?***): check MONGODB_URI" in message
    assert f"(127.0.0.1:{settings.thrift_port}): start it with `lakehouse services up`" in message
    assert "pw" not in message
