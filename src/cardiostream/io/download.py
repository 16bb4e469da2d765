"""Downloading the PhysioNet databases that the benchmarks, the training and the data tests use.

Each database comes from ``<mirror>/<slug>/<version>/`` (PhysioNet's ``/files/`` tree by
default) into ``<to>/<name>/``, the layout that ``$CARDIOSTREAM_DATA`` points at. The list of
files and their SHA-256 sums is the project's ``SHA256SUMS.txt``; every file is checked
against it, a file already present with the right sum is not fetched again, and an
interrupted file is resumed from its ``.part`` with an HTTP ``Range`` request. A file only
takes its final name once its sum matches, so a folder never holds half a file under a
record's name. Without ``SHA256SUMS.txt`` on the server the files come from ``RECORDS`` and
the headers instead, unverified, and the result says so.

``wfdb.dl_database`` is not used: it writes straight to the final names, keeps its server
in module-global configuration, and has neither checksums, resumption nor a progress hook.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import TypeVar

from cardiostream.errors import InputError

__all__ = [
    "DATABASES",
    "PHYSIONET",
    "Database",
    "DownloadProgress",
    "DownloadResult",
    "database",
    "download",
]

#: PhysioNet's file tree: ``<slug>/<version>/<path>`` under it.
PHYSIONET = "https://physionet.org/files/"

_CHECKSUMS = "SHA256SUMS.txt"
#: The local list of what was verified, in ``sha256sum -c`` form.
_LOCAL_SUMS = "SHA256SUMS"
_CHUNK = 1 << 16
_RESUMED = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")


@dataclass(frozen=True)
class Database:
    """One PhysioNet database and where it goes.

    Attributes
    ----------
    name : str
        The name on the command line and the folder under ``--to``.
    slug, version : str
        The project on PhysioNet: ``<mirror>/<slug>/<version>/``.
    subfolder : str
        The part of the project to take (``""`` for all of its top level).
    description : str
        One line: what it holds, its licence and whom to credit.
    annotators : tuple of str
        Annotation extensions, fetched per record when there is no checksum list (headers
        do not name them).
    side_files : tuple of str
        Files beside the records, fetched when there is no checksum list.
    flatten : bool
        Whether the server's record subfolders are dropped (CinC 2017 keeps its records in
        ``A00/`` … ``A08/``; the readers expect them side by side).
    """

    name: str
    slug: str
    version: str
    subfolder: str
    description: str
    annotators: tuple[str, ...] = ()
    side_files: tuple[str, ...] = ()
    flatten: bool = False


_CREDIT = "ODC-By 1.0; credit PhysioNet (Goldberger et al. 2000) and"

#: The databases, by their name on the command line.
DATABASES: dict[str, Database] = {
    db.name: db
    for db in (
        Database(
            "mitdb",
            "mitdb",
            "1.0.0",
            "",
            "MIT-BIH Arrhythmia Database: 48 half-hour two-lead records at 360 Hz, beats and "
            f"rhythms annotated ({_CREDIT} Moody & Mark 2001)",
            annotators=("atr",),
        ),
        Database(
            "nstdb",
            "nstdb",
            "1.0.0",
            "",
            "MIT-BIH Noise Stress Test Database: the bw, ma and em noise records and 118/119 "
            f"with noise added ({_CREDIT} Moody, Muldrow & Mark 1984)",
            annotators=("atr",),
        ),
        Database(
            "cinc2017",
            "challenge-2017",
            "1.0.0",
            "training",
            "PhysioNet/CinC Challenge 2017 training set: 8,528 short single-lead AliveCor ECGs "
            f"at 300 Hz with REFERENCE.csv labels ({_CREDIT} Clifford et al. 2017)",
            side_files=("REFERENCE.csv",),
            flatten=True,
        ),
        Database(
            "ltafdb",
            "ltafdb",
            "1.0.0",
            "",
            "Long-Term AF Database: 84 two-lead 24-25 h Holter records at 128 Hz, beats (.qrs) "
            f"and rhythms (.atr) annotated ({_CREDIT} Petrutiu, Sahakian & Swiryn 2007)",
            annotators=("atr", "qrs"),
        ),
    )
}


@dataclass(frozen=True)
class DownloadProgress:
    """Where a download stands, passed to the ``progress`` callback.

    Attributes
    ----------
    database : str
        The database's name.
    path : str
        The file at hand, relative to the database's folder.
    files_done, files_total : int
        Files finished (fetched or found present) and files to handle.
    file_bytes : int
        Bytes of the file at hand on disk (a resumed part included).
    file_size : int or None
        Its full size, when the server said.
    received : int
        Bytes received over the network for this database so far.
    """

    database: str
    path: str
    files_done: int
    files_total: int
    file_bytes: int
    file_size: int | None
    received: int


@dataclass(frozen=True)
class DownloadResult:
    """What one database's download did.

    Attributes
    ----------
    name : str
        The database's name.
    folder : Path
        Where its files are.
    files : int
        Files the download covered.
    fetched : int
        Files fetched (whole or resumed).
    skipped : int
        Files already present (with the right SHA-256 when ``verified``).
    received : int
        Bytes received over the network.
    verified : bool
        Whether every file was checked against the server's SHA-256 sums (False when the
        server has no ``SHA256SUMS.txt``).
    """

    name: str
    folder: Path
    files: int
    fetched: int
    skipped: int
    received: int
    verified: bool


Progress = Callable[[DownloadProgress], None]


def database(name: str) -> Database:
    """The catalogue entry called ``name`` (else InputError listing the names)."""
    try:
        return DATABASES[name]
    except KeyError:
        raise InputError(f"unknown database {name!r} (one of {', '.join(DATABASES)})") from None


@dataclass(frozen=True)
class _File:
    remote: str  # relative to the project's folder on the server
    local: str  # a name in the database's folder
    sha256: str | None
    optional: bool = False  # a guessed name (no checksum list): a 404 passes it over


class _Transient(Exception):
    """A failure worth another try: a dropped connection, a timeout, a 5xx."""


class _NotFound(InputError):
    """The server has no such file (HTTP 404)."""


_T = TypeVar("_T")


class _Client:
    """GETs under one project's folder on the mirror, with retries and a count of bytes."""

    def __init__(self, base: str, *, retries: int, backoff: float, timeout: float) -> None:
        self.base = base
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.received = 0

    def url(self, remote: str) -> str:
        return self.base + urllib.parse.quote(remote)

    def open(self, remote: str, start: int = 0) -> urllib.response.addinfourl:
        """The response for ``remote`` from byte ``start``. A 4xx is InputError (a 416 stays
        an HTTPError for the caller); what a retry may mend is _Transient."""
        url = self.url(remote)
        headers = {"User-Agent": "cardiostream"}
        if start:
            headers["Range"] = f"bytes={start}-"
        request = urllib.request.Request(url, headers=headers)
        try:
            response: urllib.response.addinfourl = urllib.request.urlopen(
                request, timeout=self.timeout
            )
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 416:
                raise
            if exc.code == 404:
                raise _NotFound(f"{url}: HTTP 404 {exc.reason}") from None
            if exc.code < 500:
                raise InputError(f"{url}: HTTP {exc.code} {exc.reason}") from None
            raise _Transient(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, HTTPException) as exc:
            raise _Transient(f"{url}: {getattr(exc, 'reason', exc)}") from None
        return response

    def retrying(self, attempt: Callable[[], _T]) -> _T:
        """``attempt()``, tried again after a transient failure, waiting longer each time."""
        for n in range(self.retries + 1):
            try:
                return attempt()
            except _Transient as exc:
                if n == self.retries:
                    raise InputError(f"{exc} (gave up after {n + 1} tries)") from None
                time.sleep(self.backoff * 2**n)
        raise AssertionError("unreachable")

    def get(self, remote: str) -> bytes:
        """A small file whole (_NotFound when the server has none)."""

        def attempt() -> bytes:
            with self.open(remote) as response:
                try:
                    body: bytes = response.read()
                except (OSError, HTTPException) as exc:
                    raise _Transient(f"{self.url(remote)}: {exc}") from None
            self.received += len(body)
            return body

        return self.retrying(attempt)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0]


def _local_name(rel: str, db: Database, url: str) -> str | None:
    """The name a file of the server's listing takes locally, or None to pass it over."""
    if "/" in rel and not db.flatten:
        return None  # documentation and extra folders beside the records
    name = posixpath.basename(rel)
    if name in ("", ".", ".."):
        raise InputError(f"{url}: unsafe path {rel!r}")
    if name in (_CHECKSUMS, _LOCAL_SUMS) or name.endswith(".zip"):
        return None  # a zip repeats the records it sits beside
    return name


def _from_checksums(text: str, db: Database, url: str) -> list[_File]:
    prefix = f"{db.subfolder}/" if db.subfolder else ""
    files: dict[str, _File] = {}
    for line in text.splitlines():
        fields = line.strip().split(maxsplit=1)
        if len(fields) != 2:
            continue
        digest, path = fields[0].lower(), fields[1].lstrip("*")
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise InputError(f"{url}: not a SHA-256 list (line {line.strip()[:40]!r})")
        if not path.startswith(prefix):
            continue
        name = _local_name(path[len(prefix) :], db, url)
        if name is None:
            continue
        if name in files:
            raise InputError(f"{url}: two files would both be {name}")
        files[name] = _File(path, name, digest)
    if not files:
        raise InputError(f"{url}: lists no files of {db.subfolder or db.slug}")
    return list(files.values())


def _signal_files(header: str) -> tuple[list[str], list[str]]:
    """The files a WFDB header names, and its segments' records (a multi-segment header)."""
    lines = [ln.split() for ln in header.splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines:
        return [], []
    if "/" in lines[0][0]:
        return [], [ln[0] for ln in lines[1:] if ln[0] != "~"]
    return list(dict.fromkeys(ln[0] for ln in lines[1:] if ln[0] != "~")), []


def _select(
    files: list[_File], records: Sequence[str] | None, db: Database, where: str
) -> tuple[list[_File], list[str]]:
    """The files of the chosen records and the side files; and the records taken, in order."""
    names = [_stem(f.local) for f in files if f.local.endswith(".hea")]
    if records is None:
        return files, names
    missing = [r for r in records if r not in names]
    if missing:
        raise InputError(f"{db.name}: no record {', '.join(missing)} at {where}")
    chosen = set(records)
    known = set(names)
    keep = [f for f in files if _stem(f.local) in chosen or _stem(f.local) not in known]
    return keep, [n for n in names if n in chosen]


def _write_if_changed(path: Path, text: str) -> None:
    if path.is_file() and path.read_text() == text:
        return
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text)
    os.replace(tmp, path)


class _Run:
    """One database's download: the listing, then each file in turn."""

    def __init__(
        self, db: Database, folder: Path, client: _Client, progress: Progress | None
    ) -> None:
        self.db = db
        self.folder = folder
        self.client = client
        self.progress = progress
        self.files_done = 0
        self.files_total = 0
        self.fetched = 0
        self.skipped = 0

    def report(self, path: str, file_bytes: int, file_size: int | None) -> None:
        if self.progress is not None:
            self.progress(
                DownloadProgress(
                    self.db.name,
                    path,
                    self.files_done,
                    self.files_total,
                    file_bytes,
                    file_size,
                    self.client.received,
                )
            )

    def listing(self, records: Sequence[str] | None) -> tuple[list[_File], list[str], bool]:
        """The files to fetch, the records they hold, and whether they carry checksums."""
        try:
            text = self.client.get(_CHECKSUMS).decode("utf-8", errors="replace")
        except _NotFound:
            return self.listing_from_headers(records)
        files = _from_checksums(text, self.db, self.client.url(_CHECKSUMS))
        files, taken = _select(files, records, self.db, self.client.url(_CHECKSUMS))
        return files, taken, True

    def listing_from_headers(
        self, records: Sequence[str] | None
    ) -> tuple[list[_File], list[str], bool]:
        """Without a checksum list: ``RECORDS``, then the files each header names, the
        database's annotators and side files (the guessed ones may be absent)."""
        prefix = f"{self.db.subfolder}/" if self.db.subfolder else ""
        listed = self.client.get(prefix + "RECORDS").decode("utf-8", errors="replace").split()
        by_name = {posixpath.basename(r): r for r in listed}
        where = self.client.url(prefix + "RECORDS")
        missing = [r for r in records or () if r not in by_name]
        if missing:
            raise InputError(f"{self.db.name}: no record {', '.join(missing)} at {where}")
        queue = [by_name[r] for r in records] if records is not None else listed
        files: dict[str, _File] = {}
        taken: list[str] = []
        while queue:
            record = queue.pop(0)
            base = posixpath.dirname(record)
            header = self.header(prefix + record + ".hea", posixpath.basename(record) + ".hea")
            signals, segments = _signal_files(header)
            queue[:0] = [posixpath.join(base, s) for s in segments]
            taken.append(posixpath.basename(record))
            guessed = [f"{posixpath.basename(record)}.{ext}" for ext in self.db.annotators]
            for name, optional in [(s, False) for s in signals] + [(g, True) for g in guessed]:
                rel = posixpath.join(base, name)
                local = _local_name(rel if self.db.flatten else name, self.db, where)
                if local is not None:
                    files.setdefault(local, _File(prefix + rel, local, None, optional))
        for name in self.db.side_files:
            files.setdefault(name, _File(prefix + name, name, None, optional=True))
        if records is None and not self.db.flatten:
            files["RECORDS"] = _File(prefix + "RECORDS", "RECORDS", None)
        return list(files.values()), taken, False

    def header(self, remote: str, local: str) -> str:
        """A header's text: the local copy, else fetched and kept (it is one of the files)."""
        path = self.folder / local
        if path.is_file():
            self.skipped += 1
            return path.read_text(errors="replace")
        body = self.client.get(remote)
        part = path.with_name(path.name + ".part")
        part.write_bytes(body)
        os.replace(part, path)
        self.fetched += 1
        return body.decode("utf-8", errors="replace")

    def take(self, file: _File) -> None:
        """Make ``file`` present and verified under its final name."""
        final = self.folder / file.local
        part = final.with_name(final.name + ".part")
        if final.is_file():
            if file.sha256 is None or _sha256(final) == file.sha256:
                part.unlink(missing_ok=True)
                self.skipped += 1
                return
            final.unlink()  # another version, or damaged: fetched anew below
        url = self.client.url(file.remote)
        got = ""
        for fresh in (False, True):
            if fresh:
                part.unlink(missing_ok=True)
            try:
                resumed = self.client.retrying(lambda: self.transfer(file, part))
            except _NotFound:
                if file.optional:
                    return
                raise
            got = "" if file.sha256 is None else _sha256(part)
            if got == (file.sha256 or ""):
                os.replace(part, final)
                self.fetched += 1
                return
            if not resumed:
                break  # a resumed part may have been stale: one clean try before giving up
        part.unlink(missing_ok=True)
        raise InputError(
            f"{final}: SHA-256 mismatch ({got[:12]}…, expected {(file.sha256 or '')[:12]}…), "
            f"deleted; from {url}"
        )

    def transfer(self, file: _File, part: Path) -> bool:
        """Fetch ``file`` into ``part``, from where ``part`` stops when the server takes a
        Range; True when it carried on from an earlier part."""
        start = part.stat().st_size if part.is_file() else 0
        url = self.client.url(file.remote)
        try:
            response = self.client.open(file.remote, start)
        except urllib.error.HTTPError:  # 416: the part is whole already (the sum will tell)
            return True
        with response:
            resumed = bool(start) and response.status == 206
            if resumed:
                match = _RESUMED.fullmatch(response.headers.get("Content-Range", ""))
                if match is None or int(match.group(1)) != start:
                    part.unlink()
                    raise _Transient(f"{url}: Content-Range does not follow the part")
            else:
                start = 0  # no Range (or none asked): the whole file from the top
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            size = None if expected is None else start + expected
            got = 0
            self.report(file.local, start, size)
            with part.open("ab" if resumed else "wb") as out:
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except (OSError, HTTPException) as exc:
                        raise _Transient(f"{url}: {exc}") from None
                    if not chunk:
                        break
                    out.write(chunk)
                    got += len(chunk)
                    self.client.received += len(chunk)
                    self.report(file.local, start + got, size)
        if expected is not None and got < expected:
            # http.client hands back a short body without complaint when the peer hangs up.
            raise _Transient(f"{url}: connection closed after {start + got} of {size} bytes")
        return resumed


def download(
    name: str,
    to: str | Path,
    *,
    mirror: str = PHYSIONET,
    records: Sequence[str] | None = None,
    progress: Progress | None = None,
    retries: int = 3,
    backoff: float = 1.0,
    timeout: float = 60.0,
) -> DownloadResult:
    """Download one database into ``<to>/<name>/``, verified and resumable.

    Parameters
    ----------
    name : str
        A key of :data:`DATABASES` (``mitdb``, ``nstdb``, ``cinc2017``, ``ltafdb``).
    to : str or Path
        The data folder; the database goes in its subfolder ``name``.
    mirror : str
        The base URL holding ``<slug>/<version>/`` (PhysioNet's by default).
    records : sequence of str, optional
        Take only these records (and the files beside them); all by default.
    progress : callable, optional
        Called with a :class:`DownloadProgress` as each file starts, grows and ends.
    retries : int
        Further tries of a request that failed on the way (a dropped connection, a timeout,
        a 5xx); a resumed file carries on from where it stopped.
    backoff : float
        Seconds before the first retry, doubled for each next one.
    timeout : float
        Seconds a connection may stay silent.

    Returns
    -------
    DownloadResult
        Files covered, fetched and found present, bytes received, and whether the files
        were checked against the server's SHA-256 sums.

    Raises
    ------
    InputError
        An unknown database or record, a mirror that is not an http(s) URL, a file the
        server does not have (naming its URL), a request that kept failing, or a file whose
        SHA-256 differs from the list (deleted, named in the message).
    """
    db = database(name)
    parsed = urllib.parse.urlsplit(mirror)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InputError(f"{mirror}: not an http:// or https:// URL")
    base = f"{mirror.rstrip('/')}/{db.slug}/{db.version}/"
    folder = Path(to) / db.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{folder}: {exc.strerror}") from None
    client = _Client(base, retries=retries, backoff=backoff, timeout=timeout)
    run = _Run(db, folder, client, progress)
    try:
        files, taken, verified = run.listing(records)
        if db.flatten or records is not None:
            # The server's RECORDS would name records that are not here (a subset) or paths
            # that are not (flattened): the local one lists what the folder holds.
            files = [f for f in files if f.local != "RECORDS"]
        run.files_total = len(files)
        for file in files:
            run.report(file.local, 0, None)
            run.take(file)
            run.files_done += 1
            got = folder / file.local
            size = got.stat().st_size if got.is_file() else 0
            run.report(file.local, size, size)
        if db.flatten or records is not None:
            _write_records(folder, taken)
        if verified:
            _write_sums(folder, files)
    except OSError as exc:
        raise InputError(f"{exc.filename or folder}: {exc.strerror}") from None
    return DownloadResult(
        db.name,
        folder,
        run.files_total + (0 if verified else len(taken)),
        run.fetched,
        run.skipped,
        client.received,
        verified,
    )


def _write_records(folder: Path, taken: Sequence[str]) -> None:
    """``RECORDS`` naming the records present: those of an earlier run, then these."""
    listing = folder / "RECORDS"
    earlier = listing.read_text().split() if listing.is_file() else []
    present = [n for n in earlier if (folder / f"{n}.hea").is_file()]
    seen = set(present)
    present += [n for n in taken if n not in seen]
    _write_if_changed(listing, "".join(f"{n}\n" for n in present))


def _write_sums(folder: Path, files: Iterable[_File]) -> None:
    """``SHA256SUMS`` (``sha256sum -c`` form) of the verified files, earlier runs' kept."""
    sums: dict[str, str] = {}
    path = folder / _LOCAL_SUMS
    if path.is_file():
        for line in path.read_text().splitlines():
            fields = line.split(maxsplit=1)
            if len(fields) == 2:
                sums[fields[1]] = fields[0]
    for file in files:
        if file.sha256 is not None and (folder / file.local).is_file():
            sums[file.local] = file.sha256
    _write_if_changed(path, "".join(f"{sums[n]}  {n}\n" for n in sorted(sums)))
