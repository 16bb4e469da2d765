"""What the commands share: the application, its consoles, bad input as exit code 2, and the
console line of a window or event."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from numba.core.event import Listener
from rich.console import Console
from rich.markup import escape

from cardiostream.errors import InputError
from cardiostream.extras import missing_extra_message

if TYPE_CHECKING:
    from rich.progress import Progress, ProgressColumn

app = typer.Typer(
    name="cardiostream",
    help="Real-time ECG analysis: records, filters, R peaks, HRV and signal quality.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Tables stay whole when the output goes to a file or a pipe (rich assumes 80 columns there).
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)

T = TypeVar("T")


def _err_progress(*columns: str | ProgressColumn, transient: bool = True) -> Progress:
    """A progress bar on the error console that leaves standard output alone.

    By default a rich live display moves ``sys.stdout`` into its own console while it shows,
    so that a print lands above the bar. Our bars are on the error console, so the data a
    command writes meanwhile would go to the terminal and not to a redirected standard
    output (``analyze --format jsonl > out.jsonl`` would write nothing). Off where the error
    console is not a terminal: a log gets the messages only, not a blank line where the bar
    stopped.
    """
    from rich.progress import Progress

    return Progress(
        *columns,
        console=err_console,
        transient=transient,
        redirect_stdout=False,
        disable=not err_console.is_terminal,
    )


def _version() -> str:
    """The installed distribution's version, else the package's own (a source checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cardiostream")
    except PackageNotFoundError:
        from cardiostream import __version__

        return __version__


def _show_version(value: bool) -> None:
    if value:
        console.print(f"cardiostream {_version()}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Real-time ECG analysis: records, filters, R peaks, HRV and signal quality."""


# Options that several commands take, spelled once.
#: The help of an argument that takes a record.
RECORD_HELP = "A record file, or a bundled sample's name (see cardiostream samples)."
RECORDS_HELP = "Record files or folders (walked), or bundled samples' names."
FsOption = Annotated[
    float | None,
    typer.Option(
        "--fs",
        metavar="HZ",
        help="Sampling rate of a CSV or Parquet table without a time column; a record that "
        "states its rate must agree within 1 %.",
    ),
]
ModelOption = Annotated[
    Path | None, typer.Option(help="A model folder instead of the shipped one.")
]
RecordsOption = Annotated[
    str | None, typer.Option(help="Comma-separated record names; all by default.")
]
JsonOption = Annotated[Path | None, typer.Option("--json", help="Write the results as JSON.")]
TokenOption = Annotated[str | None, typer.Option(help="Bearer token (else $CARDIOSTREAM_TOKEN).")]
#: The shortest AF event, for the commands that run the engine (and its AF alarms' delay).
AfMinOption = Annotated[
    float,
    typer.Option(
        help="Shortest AF event reported, in seconds: 30 is the clinical definition of "
        "an AF episode; studies of device-detected AF use others (6 minutes: 360)."
    ),
]


def _af_min(af_min_s: float) -> float:
    """``--af-min-s``, checked: a finite number of seconds, 0 or more."""
    if not (math.isfinite(af_min_s) and af_min_s >= 0):
        raise InputError(f"--af-min-s: expected 0 or more seconds, got {af_min_s:g}")
    return float(af_min_s)


def _passed_over(exc: BaseException) -> None:
    """Name a file met while walking a folder that is not read as a record (a side file
    such as ``REFERENCE.csv``, or a broken record), on one line of the error console: a
    folder's records are never dropped unsaid."""
    err_console.print(
        f"passed over (not read): {escape(str(exc))}", highlight=False, soft_wrap=True
    )


def _names(text: str | None) -> list[str] | None:
    """The names of a comma-separated option, or None when it was not given."""
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def _folder(path: Path) -> Path:
    """``path`` when it is a folder (else InputError)."""
    if not path.is_dir():
        raise InputError(f"{path}: no such folder")
    return path


def _fail(message: str) -> None:
    # Escaped: messages quote things like 'cardiostream[train]' that rich would take as markup.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


#: The file name that an OSError of standard output carries (see :func:`_stdout`).
STDOUT = "<standard output>"


def _stdout(text: str) -> None:
    """Write ``text`` to standard output, where the commands' data goes; an OSError (a full
    disk, a closed device) comes out naming :data:`STDOUT`, for :func:`_guard` to say."""
    try:
        sys.stdout.write(text)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, STDOUT) from exc


def _flush_stdout() -> None:
    """Flush standard output, an OSError naming :data:`STDOUT`."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, STDOUT) from exc


def _os_error_message(exc: OSError) -> str:
    """One line for an OSError of the command's files or output, naming the path."""
    what = exc.strerror or str(exc)
    if exc.filename == STDOUT:
        _drop_stdout()
        return f"writing standard output: {what}"
    if exc.filename is None:
        try:  # no path: standard output, if it fails still (a full disk, a closed device)
            sys.stdout.flush()
        except OSError:
            _drop_stdout()
            return f"writing standard output: {what}"
        return what
    path = os.fsdecode(exc.filename)
    if isinstance(exc, FileExistsError):
        return f"{path}: exists and is not a folder"
    if isinstance(exc, NotADirectoryError):
        return f"{path}: not a folder (a part of the path is a file)"
    if isinstance(exc, IsADirectoryError):
        return f"{path}: is a folder, not a file"
    return f"{path}: {what}"


def _drop_stdout() -> None:
    """Point standard output at the null device, so that the interpreter's last flush of a
    failed or closed output neither fails again nor prints a second message."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture)
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    os.close(null)


def _guard(func: Callable[[], T]) -> T:
    """Run a command body, turning bad input into a one-line message and exit code 2.

    OSErrors (a path that is a file where a folder is wanted, a full disk, no permission)
    are bad input too; standard output is flushed here so that its errors are caught here
    as well. A closed pipe (``| head``) ends the command quietly.
    """
    try:
        with _compile_notice():
            result = func()
        _flush_stdout()
        return result
    except InputError as exc:
        _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except ModuleNotFoundError as exc:
        message = missing_extra_message(exc)
        if message is None:
            raise
        _fail(message)
    except BrokenPipeError:
        _drop_stdout()
        raise typer.Exit(0) from None
    except OSError as exc:
        _fail(_os_error_message(exc))
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(130) from None
    raise AssertionError("unreachable")


def _record_path(path: Path) -> Path:
    """``path``, or a bundled sample's header when ``path`` names one and no file does."""
    from cardiostream.samples import resolve

    return resolve(path)


#: What a command says while numba compiles the signal kernels (once after an install).
COMPILING = "compiling the signal kernels, once after an install (about a minute on two cores)"


class _CompileNotice(Listener):
    """Says :data:`COMPILING` on the error console while numba compiles (a fresh install),
    and nothing otherwise: it listens to numba's compile events, and the line goes once the
    compiles have stopped for a moment (they come in bursts, one kernel after another)."""

    def __init__(self, console: Console, quiet_s: float = 0.5) -> None:
        import threading

        self.console = console
        self.quiet_s = quiet_s
        self.depth = 0
        self.live: Any = None
        self.said = False
        self.lock = threading.Lock()
        self.timer: Any = None

    def on_start(self, event: Any) -> None:
        """A compile starts: show the line (once a command), hold off taking it away."""
        with self.lock:
            self.depth += 1
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if self.live is None and not self.said:
                self._show()

    def on_end(self, event: Any) -> None:
        """A compile ended: take the line away unless another starts soon."""
        import threading

        with self.lock:
            self.depth = max(self.depth - 1, 0)
            if self.depth == 0 and self.live is not None:
                self.timer = threading.Timer(self.quiet_s, self.stop)
                self.timer.start()

    def _show(self) -> None:
        from rich.errors import LiveError
        from rich.live import Live
        from rich.spinner import Spinner

        self.said = True
        try:
            # Not console.status(): its live display would take over sys.stdout, and a
            # command's output written just after a compile would go to the error console.
            spinner = Spinner("dots", text=COMPILING, style="status.spinner")
            self.live = Live(spinner, console=self.console, transient=True, redirect_stdout=False)
            self.live.start()
        except LiveError:  # a progress bar is showing: a plain line instead
            self.live = None
            self.console.print(COMPILING, highlight=False)

    def stop(self) -> None:
        """Take the line away now (if it is showing)."""
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if self.live is not None:
                self.live.stop()
                self.live = None


#: The notice of the command that is running, if any.
_notices: list[_CompileNotice] = []


@contextmanager
def _compile_notice() -> Iterator[None]:
    from numba.core import event

    notice = _CompileNotice(err_console)
    event.register("numba:compile", notice)  # type: ignore[no-untyped-call]
    _notices.append(notice)
    try:
        yield
    finally:
        _notices.remove(notice)
        event.unregister("numba:compile", notice)  # type: ignore[no-untyped-call]
        notice.stop()


def _warm(model: Path | None = None, *, records: bool = False) -> None:
    """Load the compiled kernels before the command's own work, so that what it times and
    shows is the work itself (on a fresh install numba compiles them here, once)."""
    from cardiostream.stream.warm import warm_up

    warm_up(model, records=records)
    for notice in _notices:  # the compiling is over: no line over the command's own output
        notice.stop()


def _resolve(path: Path | None, sample: str | None) -> Path:
    if (path is None) == (sample is None):
        raise InputError("give either a FILE or --sample NAME")
    if sample is not None:
        from cardiostream.samples import sample_path

        return sample_path(sample)
    assert path is not None
    return _record_path(path)


_LABEL_STYLE = {
    "normal": "green",
    "af": "bold red",
    "other": "yellow",
    "noise": "magenta",
    "uncertain": "dim",
}


def _console_line(item: Mapping[str, Any]) -> str:
    kind = item["type"]
    if kind == "window":
        hr = item["heart_rate_bpm"]
        q = item["quality"]
        label = item["label"]
        style = _LABEL_STYLE[label]
        p_top = item["probabilities"][item["raw_label"]]
        quality = "ok" if q["usable"] else ", ".join(q["reasons"]) or "unusable"
        if q["usable"] and q["reasons"]:
            quality = "ok (" + ", ".join(q["reasons"]) + ")"
        hr_text = "  --" if hr is None else f"{hr:4.0f}"
        return (
            f"{item['t_end']:9.1f} s  HR {hr_text} bpm  [{style}]{label:<9}[/]"
            f" p={p_top:.2f}  quality {escape(quality)}"
        )
    if kind == "event_open":
        return f"[bold red]{_episode_name(item)} started[/] at {item['start_s']:.1f} s"
    if kind == "event":
        reason = f" ({item['reason']})" if "reason" in item else ""
        conf = item["confidence"]
        conf_text = "" if conf is None else f", confidence {conf:.2f}"
        detail = item.get("detail") or {}
        measures = ", ".join(
            text
            for key, text in (
                ("n_beats", f"{detail.get('n_beats')} beats"),
                ("rate_bpm", f"{detail.get('rate_bpm')} bpm"),
                ("rr_s", f"RR {detail.get('rr_s')} s"),
            )
            if detail.get(key) is not None
        )
        return (
            f"[bold red]{_episode_name(item)}[/] {item['start_s']:.1f}-{item['end_s']:.1f} s"
            f"{', ' + measures if measures else ''}{conf_text}{reason}"
        )
    return f"[cyan]{kind}[/] {escape(json.dumps(item))}"


#: How the console names each kind of episode.
EPISODE_NAMES = {
    "af": "AF episode",
    "vt": "VT",
    "idioventricular_rhythm": "Idioventricular rhythm",
    "svt": "SVT",
    "ventricular_bigeminy": "Ventricular bigeminy",
    "ventricular_trigeminy": "Ventricular trigeminy",
    "asystole": "Asystole",
    "pause": "Pause",
    "bradycardia": "Bradycardia",
    "tachycardia": "Tachycardia",
    "sinus_tachycardia": "Sinus tachycardia",
    "paced_rhythm": "Paced rhythm",
}


def _episode_name(item: Mapping[str, Any]) -> str:
    kind = str(item.get("kind", ""))
    name = EPISODE_NAMES.get(kind, kind)
    if (item.get("detail") or {}).get("sustained"):
        name = "Sustained " + name
    return name
