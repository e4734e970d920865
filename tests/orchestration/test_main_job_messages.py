"""What the main job tells the user: its closing report, when a service is down the fix, and
when Ctrl-C stops it what gold holds."""

from __future__ import annotations

import pytest
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


def test_a_stage_failing_because_a_service_died_names_the_service_and_the_fix(
    ferretdb: Settings, thrift: Settings
) -> None:
    """FerretDB dies mid-run: the stage fails with pymongo's error, then who is down and why."""
    import datetime as dt

    import pytest
    from lake_support import environment

    from ingestion.mongodb import database
    from lakehouse.settings import get_settings
    from lakehouse.supervisor import free_port
    from orchestration import run_log
    from orchestration.flows import StageFailed, _stage

    run = run_log.PipelineRun("run-t", "pipeline", dt.datetime.now(dt.UTC))
    dead = free_port()
    with environment(FERRETDB_PORT=str(dead)), pytest.raises(StageFailed) as failed:
        _stage(run, "export", lambda: database(get_settings()).command("ping"))
    message = str(failed.value)
    assert message.startswith("pipeline stage 'export' failed: ")
    assert message.endswith(
        f"Not answering now: MongoDB (FerretDB) (127.0.0.1:{dead}): start it with"
        " `lakehouse services up`."
    )
    assert run.stages["export"]["status"] == "failed"

    # With every service up, a failure is only the stage's own error.
    with pytest.raises(StageFailed) as plain:
        _stage(run, "quality", lambda: 1 / 0)
    assert str(plain.value) == "pipeline stage 'quality' failed: division by zero"


def test_a_failed_cli_run_prints_one_line_per_record_and_keeps_tracebacks_in_its_log(
    tmp_path,
) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    from lakehouse.supervisor import free_port

    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "LAKE_ROOT": "",
           "FERRETDB_PORT": str(free_port()), "THRIFT_PORT": str(free_port()),
           "PREFECT_LOGGING_LEVEL": "INFO", "COLUMNS": "200"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lakehouse"), "pipeline", "--no-crawl"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    assert "Task run 'check services" in output  # Prefect's own records, one line each
    log = tmp_path / "data" / "logs" / "pipeline.log"
    error = " ".join(result.stderr.split())
    assert "error: pipeline stage 'services' failed: not answering: MongoDB (FerretDB)" in error
    assert f"(The run's full log, with tracebacks: {log})" in error
    text = log.read_text()
    assert "Traceback (most recent call last)" in text
    assert "lakehouse.supervisor.ServiceError: not answering" in text
    assert "Error logging to API" not in output  # its logs reached the temporary server


def interrupted_run(stages: dict[str, str], failed_stage: str | None):
    import datetime as dt

    from orchestration import run_log

    run = run_log.PipelineRun("run-1", "pipeline", dt.datetime.now(dt.UTC), status="interrupted",
                              failed_stage=failed_stage)
    run.stages = {name: {"status": status, "seconds": 1.0} for name, status in stages.items()}
    return run


BEFORE_PUBLISH = {"services": "ok", "export": "ok", "dbt": "ok", "quality": "ok"}
CARRY_ON = (" Run the pipeline again to carry on: every stage is idempotent, and the crawl and the"
            " export resume from what is already in MongoDB and bronze.")


def test_a_ctrl_c_that_stops_the_publish_says_which_tables_gold_holds_and_how_to_finish() -> None:
    """A second Ctrl-C during the publish (the first waits for it) leaves gold part new."""
    from orchestration.flows import _interrupted_message
    from quality.publish import PublishedTable, PublishInterrupted

    run = interrupted_run({**BEFORE_PUBLISH, "publish": "interrupted"}, "publish")
    published = [PublishedTable("dim_album", 3, 5, 4, 10), PublishedTable("dim_artist", 3, 5, 4, 9)]
    stopped = PublishInterrupted(published, ["dim_track", "mart_track_search"], "gold_audit")
    try:  # as it reaches the flow: raised again by whatever it passed through
        raise KeyboardInterrupt from stopped
    except KeyboardInterrupt as exc:
        message = _interrupted_message(run, exc)
    assert message == (
        "Run run-1 was stopped by Ctrl-C during stage 'publish': the publish was stopped: after 2"
        " of 4 tables, gold holds the new version of dim_album, dim_artist and the previous one"
        " of dim_track, mart_track_search until the next publish. `lakehouse publish --skip-dbt`"
        " publishes the audited tables without building them again." + CARRY_ON
    )


def test_a_ctrl_c_in_the_publish_stage_without_its_detail_says_gold_may_be_mixed() -> None:
    from orchestration.flows import _interrupted_message

    run = interrupted_run({**BEFORE_PUBLISH, "publish": "interrupted"}, "publish")
    message = _interrupted_message(run, KeyboardInterrupt())
    assert "nothing was published" not in message
    assert message.startswith(
        "Run run-1 was stopped by Ctrl-C during stage 'publish': the publish was stopped: gold may"
        " hold the new version of some tables and the previous one of the others until the next"
        " publish. `lakehouse publish --skip-dbt` publishes the audited tables")


@pytest.mark.parametrize(("stages", "failed_stage", "kept"), [
    ({"services": "ok", "export": "ok", "dbt": "interrupted"}, "dbt",
     "during stage 'dbt': nothing was published, so gold is unchanged."),
    ({**BEFORE_PUBLISH, "publish": "ok"}, None,
     "after stage 'publish': gold was published; the recommender was not retrained"
     " (`lakehouse train`)."),
])
def test_a_ctrl_c_outside_the_publish_says_whether_gold_was_published(
    stages: dict[str, str], failed_stage: str | None, kept: str
) -> None:
    from orchestration.flows import _interrupted_message

    message = _interrupted_message(interrupted_run(stages, failed_stage), KeyboardInterrupt())
    assert message == f"Run run-1 was stopped by Ctrl-C {kept}{CARRY_ON}"

