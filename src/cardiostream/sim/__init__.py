"""Live sources: a switchable ECG simulator, playback of real records, and a sender that
streams either to a server's ``/v1/stream``.

Examples
--------
>>> from cardiostream.sim import Simulator
>>> sim = Simulator(fs=250, mode="nsr", hr_bpm=60, seed=1)
>>> sim.read(250).shape
(250,)
>>> sim.set_mode("af")
>>> sim.mode
'af'
"""

from cardiostream.sim.ecgsyn import ecgsyn
from cardiostream.sim.holter_day import HolterDay, holter_day
from cardiostream.sim.playback import Playback, af_playlist
from cardiostream.sim.sender import SendResult, StreamRefused, TokenRefused, send
from cardiostream.sim.simulator import MODES, Simulator
from cardiostream.sim.sources import LiveSource, chunks

__all__ = [
    "MODES",
    "HolterDay",
    "LiveSource",
    "Playback",
    "SendResult",
    "Simulator",
    "StreamRefused",
    "TokenRefused",
    "af_playlist",
    "chunks",
    "ecgsyn",
    "holter_day",
    "send",
]
