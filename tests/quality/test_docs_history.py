"""The gate keeps the data docs of its last QUALITY_KEEP_RUNS runs and renders only its own pages,
on the real gate (local Spark + Great Expectations) over the session lakehouse."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from quality.config import load_config
from quality.docs_history import site_dir
from quality.gate import open_context, run_gate
from quality.publish import AUDIT_SCHEMA


def test_the_gate_keeps_the_last_runs_docs_and_renders_only_its_own(built_lakehouse) -> None:
    settings, _ = built_lakehouse
    keep_two = settings.model_copy(update={"quality_keep_runs": 2})
    context = open_context(settings)
    pages = site_dir(context) / "validations"
    results = []
    for _ in range(3):
        results.append(run_gate(keep_two, gold_schema=AUDIT_SCHEMA))
        if len(results) == 2:
            # A run renders its own pages only: one of the run before, removed, stays away.
            removed = next(p for p in pages.rglob("*.html") if _run_of(p) == _stamp(results[1]))
            removed.unlink()
    first, second, third = results
    assert all(r.passed for r in results)
    config = load_config()
    suites = len(config.tables) + len(config.checks) - len(first.skipped)

    keys = open_context(settings).validation_results_store.list_keys()
    # The last two runs, each whole: one result per suite it validated.
    assert Counter(k.run_id.run_time for k in keys) == {
        second.run_time: suites, third.run_time: suites}
    kept = sorted(pages.rglob("*.html"))
    assert Counter(_run_of(p) for p in kept) == {
        _stamp(second): suites - 1, _stamp(third): suites}
    assert not removed.exists()
    # The first run's folders are gone too, in the site and in the results store.
    assert not [p for p in pages.rglob("*") if p.is_dir() and not any(p.iterdir())]
    assert not list(pages.rglob(f"{_stamp(first)}*"))
    stored = Path(context.root_directory) / "uncommitted" / "validations"
    assert not list(stored.rglob(f"{_stamp(first)}*")) and list(stored.rglob(f"{_stamp(third)}*"))
    index = (site_dir(context) / "index.html").read_text(encoding="utf-8")
    assert _stamp(third) in index and _stamp(second) in index
    assert _stamp(first) not in index


def _stamp(result) -> str:
    return result.run_time.strftime("%Y%m%dT%H%M%S.%fZ")


def _run_of(page) -> str:
    return page.parent.name  # validations/<suite>/<run name>/<run time>/<batch>.html
