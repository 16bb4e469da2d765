"""Streaming: turning per-window verdicts into events as the stream goes."""

from cardiostream.stream.events import EventConfig, EventTracker

__all__ = ["EventConfig", "EventTracker"]
