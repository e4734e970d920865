"""Prefect flows: `crawl` (meant for an interval schedule) and `pipeline` (the whole chain).

pipeline: services check -> crawl (optional) -> bronze export -> dbt build into gold_audit ->
quality gate -> publish -> vacuum -> train recommender -> summary.

Only stages whose failures are transient retry (the crawl and the export talk to remote
services); dbt, the gate and publishing are deterministic, so a retry would only repeat the
failure. A failed stage fails the flow with a message naming the stage and the cause, and nothing
after a failed gate is published. Ctrl-C stops the run in its stage (RunInterrupted), except
that a publish is finished first. Every run is recorded in LAKE_ROOT/_meta/pipeline_runs.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from lakehouse import exclusive_lock
from lakehouse.interrupts import deferred_ctrl_c
from lakehouse.settings import Settings, get_settings
from orchestration import run_log
from orchestration.layer_counts import layer_counts
from orchestration.pipeline_lock import pipeline_lock

T = TypeVar("T")


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a pipeline run; the message says where and what it published.

    A KeyboardInterrupt still (Prefect marks the run Crashed and the interpreter's default
    applies), so a caller that does not know this class stops as for any Ctrl-C."""


class StageFailed(RuntimeError):
    """A pipeline stage failed; `stage` names it and the message gives the cause."""

    def __init__(self, stage: str, cause: BaseException, down: Sequence[str] = ()) -> None:
        # A service that died during the run shows up as a driver's error (pymongo, Thrift);
        # naming the dead service and its fix is what the reader needs.
        hint = f" Not answering now: {'; '.join(down)}." if down else ""
        super().__init__(f"pipeline stage '{stage}' failed: {cause}{hint}")
        self.stage = stage
        self.cause = cause


@dataclass(frozen=True)
class ServicesChecked:
    down: list[str]  # each service not answering, with its fix
    unusable: list[str]  # why a service's settings cannot work (a refused login), with the fix
    addresses: dict[str, str]  # every service's address by name


def check_each_service(settings: Settings) -> ServicesChecked:
    from lakehouse import services

    checked = [(s, services.state(s)) for s in services.all_services(settings)]
    down = [
        f"{st.title} ({st.address}): "
        + (f"check {s.external_setting}" if s.external else "start it with `lakehouse services up`")
        for s, st in checked
        if not st.healthy and not st.problem
    ]
    unusable = [st.problem for _, st in checked if st.problem]
    return ServicesChecked(down, unusable, {st.name: st.address for _, st in checked})


# --- tasks -----------------------------------------------------------------------------------
@task(name="check services", cache_policy=NO_CACHE)
def check_services(settings: Settings) -> dict[str, str]:
    from lakehouse.supervisor import ServiceError

    checked = check_each_service(settings)
    problems = checked.unusable + ([f"not answering: {'; '.join(checked.down)}."]
                                   if checked.down else [])
    if problems:
        raise ServiceError(" ".join(problems))
    return checked.addresses


def _retry_unless_refused(_task: Any, _task_run: Any, state: Any) -> bool:
    """Prefect's retry condition for the MongoDB tasks: retry a failure (a server restarting, a
    network blip) unless MongoDB refused the login or an action, which it would refuse again."""
    from ingestion.mongodb import is_access_refused

    failure = state.data
    return not (isinstance(failure, BaseException) and is_access_refused(failure))


@task(name="crawl Spotify into MongoDB", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE,
      retry_condition_fn=_retry_unless_refused)
def crawl_task(settings: Settings, artists_per_run: int | None, mode: str) -> dict[str, Any]:
    from ingestion.crawl import run_crawl
    from ingestion.crawl.endpoints import crawl_endpoint

    if mode != "auto":
        settings = settings.model_copy(update={"crawl_mode": mode})
    logger = get_run_logger()
    with crawl_endpoint(settings) as endpoint:
        logger.info("crawling %s (%s)", endpoint.api_url, endpoint.source)
        summary = run_crawl(settings, endpoint=endpoint, artists_per_run=artists_per_run)
    logger.info(
        "crawl %s: mode %s, %d artists done, %d failed, %d albums given up (gone), "
        "%d requests (%d x 429), %d documents written, features available: %s "
        "(%d stored tracks backfilled, %d left)",
        summary.crawl_id,
        summary.mode,
        summary.artists_done,
        len(summary.artists_failed),
        summary.albums_given_up,
        summary.requests_total,
        summary.rate_limited,
        summary.documents_written,
        summary.features_available,
        summary.features_backfilled,
        summary.features_backfill_left,
    )
    return summary.to_dict()


@task(name="export MongoDB to bronze", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE,
      retry_condition_fn=_retry_unless_refused)
def export_task(settings: Settings) -> dict[str, Any]:
    from ingestion.bronze_export import export_all

    summary = export_all(settings)
    # A document written during the export's scan is read again from the change journal (the
    # first export after a crawl reads nearly all twice): the second read is "already in bronze".
    get_run_logger().info(
        "bronze batch %s: %d read (%d from the change journal), %d exported, %d already in "
        "bronze, %d rejected (%d newly quarantined)",
        summary.batch_id,
        summary.read,
        summary.journal_read,
        summary.exported,
        summary.unchanged,
        summary.rejected,
        summary.quarantined,
    )
    return {
        "batch_id": summary.batch_id,
        "read": summary.read,
        "journal_read": summary.journal_read,
        "exported": summary.exported,
        "already_in_bronze": summary.unchanged,
        "rejected": summary.rejected,
        "quarantined": summary.quarantined,
    }


@task(name="dbt build into gold_audit", cache_policy=NO_CACHE)
def dbt_build_task(wap, full_refresh: bool) -> str:
    wap.write(full_refresh=full_refresh)
    get_run_logger().info("dbt: %s", wap.dbt_line)
    return wap.dbt_line


@task(name="quality gate (Great Expectations)", cache_policy=NO_CACHE)
def quality_gate_task(wap) -> dict[str, Any]:
    gate = wap.audit()
    get_run_logger().info(
        "gate passed: %d expectations; docs %s", gate.evaluated, gate.data_docs_url
    )
    return {"passed": gate.passed, "evaluated": gate.evaluated, "docs": gate.data_docs_url}


@task(name="publish gold", cache_policy=NO_CACHE)
def publish_task(wap) -> list[dict[str, Any]]:
    audit = wap.publish()
    get_run_logger().info("published %d gold tables (audit %s)", len(wap.published), audit.audit_id)
    return [vars(p) for p in wap.published]


@task(name="vacuum the lake", cache_policy=NO_CACHE)
def vacuum_task(settings: Settings) -> dict[str, Any]:
    from lakehouse.vacuum import vacuum_lake

    done = vacuum_lake(settings)
    get_run_logger().info("%s", done.line())
    return {"retain_hours": done.retain_hours, "tables": len(done.tables), "files": done.files,
            "bytes": done.bytes}


@task(name="train recommender", cache_policy=NO_CACHE)
def train_task(settings: Settings) -> dict[str, Any]:
    from ml.training import train

    info = train(settings)
    get_run_logger().info("recommender %s trained", info.version)
    return {"version": info.version, **{k: v for k, v in vars(info).items() if k != "version"}}


def _export_holding_the_lake(lake: ExitStack, settings: Settings, run_id: str) -> dict[str, Any]:
    # The run keeps the lake from export to publish, so no other writer changes bronze under the
    # build or gold_audit between the gate's check and the publish that copies it to gold. A
    # refusal fails the export stage with the holder's name.
    lake.enter_context(exclusive_lock.lake_writer(settings, f"pipeline {run_id}"))
    return export_task(settings)


# --- flows -------------------------------------------------------------------------------------
def _stage(run: run_log.PipelineRun, name: str, fn: Callable[..., T], *args: Any) -> T:
    started = time.monotonic()
    try:
        result = fn(*args)
    except Exception as exc:
        run.stages[name] = {"status": "failed", "seconds": round(time.monotonic() - started, 1)}
        raise StageFailed(name, exc, [] if name == "services" else _down_now()) from exc
    except KeyboardInterrupt:
        run.stages[name] = {
            "status": "interrupted",
            "seconds": round(time.monotonic() - started, 1),
        }
        raise
    run.stages[name] = {
        "status": "ok",
        "seconds": round(time.monotonic() - started, 1),
        "result": result,
    }
    return result


def _down_now() -> list[str]:
    try:
        return check_each_service(get_settings()).down
    except Exception:  # a hint only: never mask the stage's own error
        return []


@flow(name="spotify-crawl")
def crawl_flow(artists_per_run: int | None = None, mode: str = "auto") -> dict[str, Any]:
    """Crawl the next artists into MongoDB (the emulator when no Spotify credentials are set)."""
    return crawl_task(get_settings(), artists_per_run, mode)


@flow(name="spotify-pipeline")
def pipeline_flow(
    crawl: bool = True,
    artists_per_run: int | None = None,
    mode: str = "auto",
    full_refresh: bool = False,
    train: bool = True,
) -> dict[str, Any]:
    """The whole chain, from the crawl to a published, audited gold and a trained model.

    `artists_per_run` defaults to PIPELINE_ARTISTS_PER_RUN, whoever starts the flow (`lakehouse
    run`, `lakehouse pipeline`, the deployment); the crawl deployment's default is
    CRAWL_ARTISTS_PER_RUN."""
    from quality.write_audit_publish import WriteAuditPublish

    settings = get_settings()
    artists_per_run = artists_per_run or settings.pipeline_artists_per_run
    run = run_log.PipelineRun(
        run_id=f"run-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}",
        flow="pipeline",
        started_at=dt.datetime.now(dt.UTC),
        parameters={
            "crawl": crawl,
            "artists_per_run": artists_per_run,
            "mode": mode,
            "full_refresh": full_refresh,
            "train": train,
        },
    )
    with pipeline_lock(settings, run.run_id):
        try:
            _stage(run, "services", check_services, settings)
            if crawl:
                _stage(run, "crawl", crawl_task, settings, artists_per_run, mode)
            with ExitStack() as lake:
                _stage(run, "export", _export_holding_the_lake, lake, settings, run.run_id)
                wap = WriteAuditPublish(settings)
                _stage(run, "dbt", dbt_build_task, wap, full_refresh)
                _stage(run, "quality", quality_gate_task, wap)
                # A Ctrl-C here arrives once the stage is recorded as done, not halfway.
                with wap.holding_ctrl_c():
                    _stage(run, "publish", publish_task, wap)
                # Still holding the lake: with a short retention, another writer's files not yet
                # committed would look like leftovers of a failed write.
                _stage(run, "vacuum", vacuum_task, settings)
            if train:
                model = _stage(run, "train", train_task, settings)
                run.model_version = model["version"]
            run.status = "completed"
        except StageFailed as exc:
            run.status = "failed"
            run.failed_stage = exc.stage
            run.error = str(exc.cause)
            get_run_logger().error("%s", exc)
            raise
        except KeyboardInterrupt as exc:
            run.status = "interrupted"
            run.failed_stage = next(
                (n for n, s in run.stages.items() if s["status"] == "interrupted"), None
            )
            run.error = "stopped by Ctrl-C (SIGINT)"
            raise RunInterrupted(_interrupted_message(run, exc)) from exc
        finally:
            _finish(settings, run)
    return _report(run)


def _interrupted_message(run: run_log.PipelineRun, interrupt: BaseException | None = None) -> str:
    if run.failed_stage:
        where = f"during stage '{run.failed_stage}'"
    else:
        where = f"after stage '{next(reversed(run.stages), 'start')}'"
    publish = run.stages.get("publish", {}).get("status")
    if publish == "ok":
        kept = "gold was published; the recommender was not retrained (`lakehouse train`)"
    elif publish == "interrupted":
        kept = _publish_stopped(interrupt)
    else:
        kept = "nothing was published, so gold is unchanged"
    return (
        f"Run {run.run_id} was stopped by Ctrl-C {where}: {kept}. Run the pipeline again to"
        " carry on: every stage is idempotent, and the crawl and the export resume from what"
        " is already in MongoDB and bronze."
    )


def _publish_stopped(interrupt: BaseException | None) -> str:
    """What a Ctrl-C during the publish (a second one: the first waits for it) left in gold."""
    from quality.publish import PublishInterrupted

    # Prefect re-raises the task's own exception; its chain is searched all the same.
    stopped = interrupt
    while stopped is not None and not isinstance(stopped, PublishInterrupted):
        stopped = stopped.__cause__ or stopped.__context__
    if isinstance(stopped, PublishInterrupted):
        state = stopped.gold_state()
    else:  # it came outside the copying (e.g. Prefect's bookkeeping): which tables is unknown
        state = (
            "gold may hold the new version of some tables and the previous one of the others"
            " until the next publish"
        )
    return (
        f"the publish was stopped: {state}. `lakehouse publish --skip-dbt` publishes the audited"
        " tables without building them again"
    )


def _finish(settings: Settings, run: run_log.PipelineRun) -> None:
    with deferred_ctrl_c("recording the run", "the run log would miss this run"):
        try:
            run.layer_counts = layer_counts(settings)
        except Exception as exc:  # counting is informative; never mask the run's own outcome
            run.layer_counts = {"error": {str(exc)[:200]: 0}}
        run.finished_at = dt.datetime.now(dt.UTC)
        run_log.record(settings, run)


def _report(run: run_log.PipelineRun) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "status": run.status,
        "stages": run.stages,
        "layer_counts": run.layer_counts,
        "model_version": run.model_version,
        "seconds": (run.finished_at - run.started_at).total_seconds() if run.finished_at else None,
    }
