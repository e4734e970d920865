"""The gate's data docs site and the validation results behind it, kept to the last gate runs.

Each gate run stores one validation result per suite and a page for each. GX's
`build_data_docs()` renders every stored result again: on 2 cores (16 results a run), 0.4 s with
2 runs stored and 9.0-12.8 s (a 45 MB site) with 100 (benchmarks/results/quality_gate.md), so an
hourly pipeline's gate would spend minutes on its docs within months.
So a gate run renders its own pages and the index only, and the results of runs older than the
last QUALITY_KEEP_RUNS are deleted with their pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SITE = "local_site"  # quality/gx/great_expectations.yml


def _directory(context: Any, backend: dict[str, Any]) -> Path:
    return Path(context.root_directory) / backend["base_directory"]


def site_dir(context: Any) -> Path:
    return _directory(context, context.variables.data_docs_sites[SITE]["store_backend"])


def record_run_docs(
    context: Any, run_time: dt.datetime, suites: Iterable[str], keep_runs: int
) -> None:
    """Delete the results and pages of all but the last `keep_runs` runs (by run time), then
    render this run's pages (`run_time`'s results and its suites) and the index."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    store = context.validation_results_store
    keys = store.list_keys()
    kept = sorted({k.run_id.run_time for k in keys}, reverse=True)[:keep_runs]
    pages = site_dir(context) / "validations"
    for key in keys:
        if key.run_id.run_time not in kept:
            store.remove_key(key)
            *folders, name = key.to_tuple()
            pages.joinpath(*folders, f"{name}.html").unlink(missing_ok=True)
    results = context.variables.stores[context.variables.validation_results_store_name]
    for root in (pages, _directory(context, results["store_backend"])):
        _remove_empty_folders(root)
    ours = [k for k in keys if k.run_id.run_time == run_time]
    context.build_data_docs(
        resource_identifiers=[*ours, *(ExpectationSuiteIdentifier(name=s) for s in suites)]
    )


def _remove_empty_folders(root: Path) -> None:
    if not root.is_dir():
        return
    # Deepest first, so a run's folder goes once its pages have gone.
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()
