"""What may leave the server: no file-system path of the machine it runs on.

A record's metadata names the file it was converted from (``source``), and error messages of
the store name the files they are about. Both are useful on the server (its log keeps them)
but tell a client where the server keeps its data, so responses carry file names only.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import re
from pathlib import Path
from typing import Any

# An absolute path inside a longer text: a slash (or a drive letter) not preceded by a word
# character, a dot, a colon or another slash (so no URL, no "physionet.org/content/..."),
# followed by at least one more component.
_EMBEDDED = re.compile(r"(?<![\w.:/\\])(?:[A-Za-z]:[\\/]|/)(?:[^\s/\\'\"]+[\\/])+[^\s/\\'\"]*")
_DRIVE = re.compile(r"[A-Za-z]:[\\/]")


def _is_absolute(text: str) -> bool:
    return text.startswith(("/", "~/", "\\\\")) or bool(_DRIVE.match(text))


def file_name(text: str) -> str:
    """The last component of a path, POSIX or Windows (``/a/b/x.hea`` → ``x.hea``)."""
    return ntpath.basename(posixpath.basename(text.rstrip("/\\"))) or text


def redact_text(text: str, *roots: Path | str | None) -> str:
    """``text`` with the folders in ``roots`` removed from the front of the paths that
    start with them, and every other absolute path cut to its file name."""
    for root in roots:
        if root is None:
            continue
        # Absolute forms only: a relative folder name ("store") is also a plain word.
        for form in sorted({str(Path(root).absolute()), str(Path(root).resolve())}, key=len)[::-1]:
            text = text.replace(form + os.sep, "").replace(form, "the store")
    return _EMBEDDED.sub(lambda m: file_name(m.group(0)), text)


def redact(value: Any) -> Any:
    """A JSON value with every string that is (or holds) an absolute path cut to file names;
    dicts and lists are copied, other values returned as they are."""
    if isinstance(value, dict):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return file_name(value) if _is_absolute(value) else redact_text(value)
    return value
