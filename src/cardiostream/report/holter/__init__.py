"""The Holter report: one pass of the engine over a day of ECG, its numbers, HTML and PDF.

:func:`holter_report` gives the numbers (:class:`~.contract.HolterReport`, the JSON every
format is drawn from) and the samples of the strips.
"""

from cardiostream.report.holter.contract import SCHEMA, HolterReport, StripSignal
from cardiostream.report.holter.pipeline import HolterResult, holter_report

__all__ = ["SCHEMA", "HolterReport", "HolterResult", "StripSignal", "holter_report"]
