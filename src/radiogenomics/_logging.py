"""The package logger and terminal-aware progress bars."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

logger = logging.getLogger("radiogenomics")
logger.addHandler(logging.NullHandler())

T = TypeVar("T")


def _attached_to_terminal() -> bool:
    return sys.stderr.isatty()


def progress(items: Iterable[T], *, description: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` with a progress bar on stderr when it is a terminal.

    Silent (a plain iteration) when stderr is not a terminal, as in CI, pipes and tests.
    """
    if not _attached_to_terminal():
        yield from items
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


def configure_cli_logging(verbosity: int, log_file: str | None) -> None:
    """Send package log records to stderr (INFO, or DEBUG with -v) and optionally to a file.

    The file always receives DEBUG records, including tracebacks of failures.
    """
    logger.setLevel(logging.DEBUG)
    for handler in list(logger.handlers):
        if not isinstance(handler, logging.NullHandler):
            logger.removeHandler(handler)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbosity > 0 else logging.INFO)
    console.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    logger.addHandler(console)
    if log_file:
        add_file_handler(log_file)


def add_file_handler(path: str) -> logging.Handler:
    """Attach a DEBUG-level file handler to the package logger and return it."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    logger.addHandler(handler)
    return handler
