"""Streaming: one stateful pipeline for live streams and whole recordings.

:class:`StreamProcessor` turns samples into a window verdict every second and AF events;
:func:`analyze` runs it over a whole recording, with identical results.
"""

from cardiostream.stream.analyze import Analysis, analyze
from cardiostream.stream.events import EventConfig, EventTracker
from cardiostream.stream.processor import StreamProcessor

__all__ = ["Analysis", "EventConfig", "EventTracker", "StreamProcessor", "analyze"]
