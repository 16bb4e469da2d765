"""``cardiostream download``: the PhysioNet databases, verified and resumable, into a data
folder laid out the way the benchmarks, the training and the data tests look for it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cardiostream.cli._common import RecordsOption, _guard, _names, app, console, err_console
from cardiostream.errors import InputError

if TYPE_CHECKING:
    from cardiostream.io.download import DownloadProgress, DownloadResult

_NAMES = ("mitdb", "nstdb", "cinc2017", "ltafdb")


def _databases(names: list[str]) -> list[str]:
    """The database names asked for, ``all`` spelled out, each once (else InputError)."""
    out: list[str] = []
    for name in names:
        if name != "all" and name not in _NAMES:
            raise InputError(f"unknown database {name!r} (one of {', '.join(_NAMES)}, all)")
        out += [n for n in (_NAMES if name == "all" else (name,)) if n not in out]
    return out


def _summary(result: DownloadResult) -> str:
    from rich.filesize import decimal

    checked = (
        "SHA-256 verified"
        if result.verified
        else "[yellow]not verified[/] (the server has no SHA256SUMS.txt)"
    )
    return (
        f"[bold]{result.name}[/]: {result.fetched} of {result.files} files fetched "
        f"({decimal(result.received)}), {result.skipped} already present, {checked} "
        f"-> {result.folder}"
    )


@app.command("download")
def download_command(
    names: Annotated[
        list[str],
        typer.Argument(help="mitdb, nstdb, cinc2017, ltafdb, or all.", show_default=False),
    ],
    to: Annotated[Path, typer.Option(help="The data folder; each database goes in NAME/.")],
    mirror: Annotated[
        str, typer.Option(help="Base URL holding <slug>/<version>/ (PhysioNet's by default).")
    ] = "https://physionet.org/files/",
    records: RecordsOption = None,
) -> None:
    """Download PhysioNet databases into --to DIR, one folder each: checksummed, resumable."""

    def body() -> None:
        from rich.filesize import decimal
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from cardiostream.io.download import download

        chosen = _databases(names)
        wanted = _names(records)
        if wanted is not None and len(chosen) > 1:
            raise InputError("--records: give one database (record names differ between them)")
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[amount]}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            # A pipe or a log gets the summary lines only, not the bar's last frame.
            disable=not err_console.is_terminal,
        )
        files = bar.add_task("", total=None, amount="")
        current = bar.add_task("", total=None, amount="")

        def show(p: DownloadProgress) -> None:
            bar.update(
                files,
                description=f"[bold]{p.database}[/]",
                completed=p.files_done,
                total=p.files_total or None,
                amount=f"{p.files_done}/{p.files_total} files, {decimal(p.received)}",
            )
            size = "" if p.file_size is None else f"/{decimal(p.file_size)}"
            bar.update(
                current,
                description=f"  {p.path}",
                completed=p.file_bytes,
                total=p.file_size,
                amount=f"{decimal(p.file_bytes)}{size}",
            )

        with bar:
            for name in chosen:
                result = download(name, to, mirror=mirror, records=wanted, progress=show)
                console.print(_summary(result), highlight=False, soft_wrap=True)

    _guard(body)
