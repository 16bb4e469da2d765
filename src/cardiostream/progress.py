"""The progress bar that long jobs show: what is being done, a bar, steps done of the total,
time spent and time left. rich loads when a bar is first made."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.progress import Progress


def counted_bar(
    title: str, *, enabled: bool = True, console: Any = None, transient: bool = False
) -> Progress:
    """A bar over counted steps; ``title`` is rich markup and may name the task's fields
    (``{task.description}``, ``{task.fields[record]}``); a ``transient`` bar goes when done."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(title),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=transient,
    )
