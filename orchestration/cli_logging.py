"""How a CLI run of the pipeline logs: one line per record on the terminal, tracebacks in a file.

Prefect logs a failed task and then the failed flow with a traceback each (about 60 lines for
"FerretDB is not running"), ahead of the CLI's own `error:` line, which already says what failed
and the fix. For a CLI run the terminal gets each record without its traceback, and
DATA_DIR/logs/pipeline.log gets every record in full, for a bug report.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_NAME = "pipeline.log"


class _WithoutTraceback(logging.Formatter):
    """Formats as the wrapped formatter does, leaving out the exception and stack text."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            return self.inner.format(record)
        finally:  # other handlers (the file, Prefect's API) still get the traceback
            record.exc_info, record.exc_text, record.stack_info = saved


@contextmanager
def tracebacks_to_file(log_dir: Path) -> Iterator[Path]:
    """For the block: Prefect's console handler drops tracebacks, a file handler keeps them."""
    from prefect.logging.handlers import PrefectConsoleHandler

    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / LOG_NAME
    # Appended run after run, so bounded: 3 files of at most 10 MB.
    file_handler = RotatingFileHandler(path, maxBytes=10_000_000, backupCount=2, encoding="utf-8")
    file_handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s - %(message)s")
    )
    prefect_logger = logging.getLogger("prefect")
    with ExitStack() as undo:
        prefect_logger.addHandler(file_handler)
        undo.callback(prefect_logger.removeHandler, file_handler)
        undo.callback(file_handler.close)
        for handler in logging.getLogger().handlers:
            if isinstance(handler, PrefectConsoleHandler) and handler.formatter is not None:
                original = handler.formatter
                handler.setFormatter(_WithoutTraceback(original))
                undo.callback(handler.setFormatter, original)
        yield path
