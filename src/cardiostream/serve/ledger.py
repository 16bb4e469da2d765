"""What the web process keeps of every live stream, so that a crashed engine loses none.

For each stream the :class:`Ledger` holds how it was opened, its last checkpoint (the
processor's ``state_dict`` and recording position, which the engine sends every
``checkpoint_s`` of signal) and the frames pushed since. It lives in the web process, where
a dead engine cannot take it along: a restarted engine restores every stream from its
checkpoint and replays the frames after it (:class:`~cardiostream.serve.rpc.Restore`), which
brings it to exactly the samples acknowledged, with no window or event given twice or lost.
Its size is bounded: one checkpoint (about 35 kB) and at most ``checkpoint_s`` (15 s) of
frames per stream.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from cardiostream.serve.rpc import (
    Close,
    Disconnect,
    Open,
    Opened,
    Push,
    Pushed,
    Request,
    Restore,
    Watch,
)

Key = tuple[str, str]  # (token owner, stream id)


@dataclass
class Entry:
    """One stream as the web process knows it."""

    open: Open
    began: str = ""
    checkpoint: bytes | None = None
    frames: list[bytes] = field(default_factory=list)
    connected: bool = True
    #: Replies whose frames were processed but which could not be sent (the client left
    #: while they were computed): sent after ``ready`` when the stream resumes.
    unsent: list[str] = field(default_factory=list)
    #: The last replies, each with the samples consumed before its frame: what a client
    #: that says which ack it got last (``acked``) may have missed.
    replies: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=8))


class Ledger:
    """Every stream's latest checkpoint and the frames since (see the module notes)."""

    def __init__(self) -> None:
        self.entries: dict[Key, Entry] = {}
        #: Owners with a dashboard open: a new engine must draw their streams too.
        self.watched: set[str] = set()

    def __len__(self) -> int:
        return len(self.entries)

    def record(self, request: Request, result: Any) -> None:
        """Note a request the engine has carried out, with its result."""
        match request:
            case Open(owner, stream_id):
                entry = self.entries.get((owner, stream_id))
                opened: Opened = result
                if entry is None or not opened.resumed:
                    self.entries[(owner, stream_id)] = Entry(request, opened.began)
                    return
                else:
                    entry.connected = True
            case Push(owner, stream_id, samples):
                entry = self.entries.get((owner, stream_id))
                if entry is None:
                    return
                pushed: Pushed = result
                if pushed.checkpoint is not None:
                    entry.checkpoint = pushed.checkpoint
                    entry.frames.clear()
                else:
                    entry.frames.append(samples)
            case Close(owner, stream_id):
                self.entries.pop((owner, stream_id), None)
            case Disconnect(owner, stream_id):
                entry = self.entries.get((owner, stream_id))
                if entry is not None:
                    entry.connected = False
            case Watch(owner, on):
                if on:
                    self.watched.add(owner)
                else:
                    self.watched.discard(owner)

    def keep_unsent(self, key: Key, message: str) -> None:
        """Hold a reply the client did not get, for its resume."""
        entry = self.entries.get(key)
        if entry is not None:
            entry.unsent.append(message)

    def keep_reply(self, key: Key, before: int, message: str) -> None:
        """Note a reply (to the frame that began at sample ``before``) as it is sent."""
        entry = self.entries.get(key)
        if entry is not None:
            entry.replies.append((before, message))

    def take_unsent(self, key: Key, acked: int | None = None) -> list[str]:
        """The replies a resuming stream missed (and forget them): those after its last
        ack when it says which (``acked``), else those that could not be sent."""
        entry = self.entries.get(key)
        if entry is None:
            return []
        unsent, entry.unsent = entry.unsent, []
        if acked is None:
            return unsent
        after = [(before, text) for before, text in entry.replies if before >= acked]
        if after and after[0][0] != acked:
            return unsent  # older than the replies kept: the client resends from ready
        return [text for _, text in after]

    def forget(self, keys: list[Key]) -> None:
        """Drop streams the engine has dropped."""
        for key in keys:
            self.entries.pop(key, None)

    def restores(self) -> list[Restore | Watch]:
        """What a new engine needs to bring back every stream, and the dashboards' lines."""
        streams: list[Restore | Watch] = [
            Restore(e.open, e.checkpoint, tuple(e.frames), e.connected, e.began)
            for e in self.entries.values()
        ]
        return streams + [Watch(owner, True) for owner in sorted(self.watched)]

    def size_bytes(self) -> int:
        """Bytes held in checkpoints and frames."""
        return sum(
            len(e.checkpoint or b"") + sum(len(f) for f in e.frames) for e in self.entries.values()
        )
