"""Ctrl-C during `lakehouse transform`: dbt lets its running statements finish and stops; the
command says what is kept and exits 130. Sent once dbt runs a model, where dbt-spark's own
cancelling could deadlock (lakehouse/dbt_connections.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dbt_catalogue as cat
import pytest
from dbt_fixtures import write_and_register
from process_support import (
    DBT_RUNS_A_MODEL,
    ctrl_c,
    killed_after,
    log_offset,
    wait_for_text,
    written_since,
)

from lakehouse.settings import Settings

pytestmark = pytest.mark.services


def test_ctrl_c_stops_transform_with_130_and_says_what_is_kept(
    thrift: Settings, tmp_path: Path
) -> None:
    # A lake of its own, in the default schemas (this module's metastore starts empty).
    settings = thrift.model_copy(update={"lake_root": str(tmp_path / "lake")})
    write_and_register(settings, cat.first_batch())
    dbt_log = settings.log_dir / "dbt" / "dbt.log"
    logged_before = log_offset(dbt_log)
    env = {**os.environ, "COLUMNS": "200", "LAKE_ROOT": settings.lake_root}
    with killed_after(subprocess.Popen(
        [str(Path(sys.executable).parent / "lakehouse"), "transform"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )) as cli:
        # Once dbt runs its first model (its log says so), Ctrl-C the whole group.
        if not wait_for_text(dbt_log, DBT_RUNS_A_MODEL, logged_before, cli, timeout=240):
            pytest.fail(f"dbt never started a model: {cli.communicate(timeout=60)}")
        out, err = ctrl_c(cli, timeout=180)
    assert cli.returncode == 130, out + err
    # dbt logs that it does not cancel (and, as plain dbt does, prints the KeyboardInterrupt on
    # stdout); the command's own last word is what was kept and what to do, not a traceback.
    assert b"does not support query cancellation" in written_since(dbt_log, logged_before)
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted: dbt finished the statements it was running and started")
    assert last.endswith("run `lakehouse transform` again to build the rest.")
    assert "Traceback" not in err
