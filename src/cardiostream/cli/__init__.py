"""The ``cardiostream`` command.

Every command exits 0 on success and 2 with a one-line message on bad input, never with a
traceback. Heavy imports happen inside the commands so that ``--help`` stays instant.

Each module registers one group of commands on ``app`` as it is imported, so the order of
the imports below is the order of ``cardiostream --help``.
"""

from __future__ import annotations

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
    app()
