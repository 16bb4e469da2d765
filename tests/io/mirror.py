"""A PhysioNet look-alike on 127.0.0.1 for the download tests: ``<slug>/<version>/...`` with
tiny databases and their ``SHA256SUMS.txt``, served by a handler that honours ``Range`` (or
not, on request), can hang up part-way through a file, and logs what it sent."""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Sent:
    """One GET the mirror answered."""

    path: str  # relative to the mirror's root
    status: int
    start: int
    nbytes: int


class Mirror(ThreadingHTTPServer):
    """The server; ``ranges``, ``drop`` and ``sent`` steer and record it."""

    daemon_threads = True

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ranges = True
        self.drop: dict[str, int] = {}  # path -> bytes sent before hanging up (once)
        self.sent: list[Sent] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def bytes_sent(self, path: str) -> int:
        return sum(s.nbytes for s in self.sent if s.path == path)


class _Handler(SimpleHTTPRequestHandler):
    server: Mirror

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(args[2].root), **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        rel = self.path.split("?")[0].lstrip("/")
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start, status = 0, 200
        wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if wanted and self.server.ranges:
            start, status = int(wanted.group(1)), 206
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.server.sent.append(Sent(rel, 416, start, 0))
                self.end_headers()
                return
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        cut = self.server.drop.pop(rel, None)
        if cut is not None:
            body = body[:cut]
        # Logged before it goes out, so that a client done reading finds it logged.
        self.server.sent.append(Sent(rel, status, start, len(body)))
        self.wfile.write(body)
        if cut is not None:
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)


@contextmanager
def serve(root: Path) -> Iterator[Mirror]:
    """Serve ``root`` on 127.0.0.1 (a free port) until the block ends."""
    server = Mirror(root)
    # A short poll keeps shutdown quick (it waits out one poll).
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _noise(n: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _write_sums(project: Path) -> None:
    lines = [
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(project).as_posix()}\n"
        for p in sorted(project.rglob("*"))
        if p.is_file() and p.name != "SHA256SUMS.txt"
    ]
    (project / "SHA256SUMS.txt").write_text("".join(lines))


def _wfdb(folder: Path, name: str, fs: int, size: int, seed: int, notes: tuple[str, ...]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.hea").write_text(
        f"{name} 2 {fs} {size // 3}\n"
        f"{name}.dat 212 200 11 1024 0 0 0 MLII\n"
        f"{name}.dat 212 200 11 1024 0 0 0 V5\n"
        "# made for the download tests\n"
    )
    (folder / f"{name}.dat").write_bytes(_noise(size, seed))
    for i, ext in enumerate(notes):
        (folder / f"{name}.{ext}").write_bytes(_noise(300 + i, seed + 100 + i))


#: What the fake holds: database -> record -> .dat size.
BIG = 300_000


def fake_physionet(root: Path) -> Path:
    """The four databases, tiny, laid out as PhysioNet's ``/files/`` tree under ``root``."""
    mitdb = root / "mitdb" / "1.0.0"
    for i, (rec, size) in enumerate({"100": BIG, "101": 5000, "201": 7000}.items()):
        _wfdb(mitdb, rec, 360, size, i, ("atr",))
    (mitdb / "RECORDS").write_text("100\n101\n201\n")
    (mitdb / "ANNOTATORS").write_text("atr\treference beat, rhythm, and signal quality\n")
    (mitdb / "mitdbdir").mkdir()
    (mitdb / "mitdbdir" / "intro.htm").write_text("<html>the book</html>\n")
    _write_sums(mitdb)

    nstdb = root / "nstdb" / "1.0.0"
    _wfdb(nstdb, "118e24", 360, 4000, 10, ("atr",))
    _wfdb(nstdb, "bw", 360, 3000, 11, ())
    (nstdb / "RECORDS").write_text("118e24\nbw\n")
    _write_sums(nstdb)

    cinc = root / "challenge-2017" / "1.0.0"
    training = cinc / "training"
    for i, rec in enumerate(("A00001", "A00002")):
        (training / "A00").mkdir(parents=True, exist_ok=True)
        (training / "A00" / f"{rec}.hea").write_text(
            f"{rec} 1 300 1500 05-May-2016 13:53:21\n{rec}.mat 16+24 1000/mV 16 0 0 0 0 ECG\n"
        )
        (training / "A00" / f"{rec}.mat").write_bytes(_noise(3024, 20 + i))
    (training / "RECORDS").write_text("A00/A00001\nA00/A00002\n")
    (training / "REFERENCE.csv").write_text("A00001,N\nA00002,A\n")
    (cinc / "validation").mkdir()
    (cinc / "validation" / "RECORDS").write_text("A00001\n")
    (cinc / "training2017.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    _write_sums(cinc)

    ltafdb = root / "ltafdb" / "1.0.0"
    _wfdb(ltafdb, "00", 128, 6000, 30, ("atr", "qrs"))
    (ltafdb / "RECORDS").write_text("00\n")
    _write_sums(ltafdb)
    return root
