"""The ``cardiostream`` command.

Every command exits 0 on success and 2 with a one-line message on bad input, never with a
traceback. ``analyze`` and ``classify`` over several inputs go on past one that cannot be
read or analysed, name it, and exit 1 when others were done (2 when none was). Heavy
imports happen inside the commands so that ``--help`` stays instant.

Each module registers one group of commands on ``app`` as it is imported, so the order of
the imports below is the order of ``cardiostream --help``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cardiostream.cli._common import app

# isort: off
from cardiostream.cli import records as records
from cardiostream.cli import analysis as analysis
from cardiostream.cli import beats as beats
from cardiostream.cli import holter as holter
from cardiostream.cli import live as live
from cardiostream.cli import scale as scale
from cardiostream.cli import training as training
from cardiostream.cli import evaluation as evaluation
from cardiostream.cli import bench as bench
from cardiostream.cli import rr_af as rr_af
from cardiostream.cli import download as download
from cardiostream.cli import schema as schema

# isort: on

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``cardiostream`` script."""
    app(args=bare_cluster(sys.argv[1:]))


def bare_cluster(args: list[str]) -> list[str]:
    """``args`` with a ``--cluster`` given without a value made ``--cluster=local``.

    The command line parser has no options with an optional value, so the bare form is
    recognised here: ``--cluster`` last, before another option, or before a record (a file,
    a folder or a bundled sample's name) rather than ``local`` or an address.
    """
    from cardiostream.samples import resolve

    out = list(args)
    for i, arg in enumerate(out):
        if arg != "--cluster":
            continue
        nxt = out[i + 1] if i + 1 < len(out) else None
        if (
            nxt is None
            or nxt.startswith("-")
            or (nxt != "local" and "://" not in nxt and resolve(Path(nxt)).exists())
        ):
            out[i] = "--cluster=local"
    return out
