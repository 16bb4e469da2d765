"""Short real ECG recordings shipped with the package, for demos, docs and tests.

Four one-minute excerpts of the MIT-BIH Arrhythmia Database (360 Hz, two leads, with the
reference beat and rhythm annotations) and four whole 30 s single-lead records of the
PhysioNet/CinC Challenge 2017 (300 Hz, one per class, labels in ``data/REFERENCE.csv``).
All are WFDB records: ``wfdb.rdrecord`` and :func:`cardiostream.read` open the path that
:func:`sample_path` returns. ``tools/make_samples.py`` cuts them from the databases; the
credits and licence (ODC-By 1.0) are in ``data/CREDITS.md``.

Examples
--------
>>> from cardiostream.samples import list_samples, sample_path
>>> "mitdb-201-af" in list_samples()
True
>>> sample_path("mitdb-201-af").name
'mitdb-201-af.hea'
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from cardiostream.errors import InputError

__all__ = ["SAMPLES", "SampleInfo", "list_samples", "resolve", "sample_path"]


@dataclass(frozen=True)
class SampleInfo:
    """Description of one bundled recording.

    Attributes
    ----------
    name : str
        The name to pass to :func:`sample_path`.
    description : str
        One sentence on what the recording shows.
    source : str
        Database and record it comes from, with the excerpt's place in the original.
    rhythm : str
        The reference rhythm class: ``normal``, ``af``, ``other`` or ``noise``.
    duration_s : float
        Length in seconds.
    fs : float
        Sampling frequency in Hz.
    record : str
        WFDB record name, the stem of the files in ``data/``.
    annotated : bool
        Whether a ``.atr`` file with reference beat and rhythm annotations comes with it.
    """

    name: str
    description: str
    source: str
    rhythm: str
    duration_s: float
    fs: float
    record: str
    annotated: bool


def _mitdb(name: str, record: str, start_s: int, rhythm: str, description: str) -> SampleInfo:
    return SampleInfo(
        name=name,
        description=description,
        source=f"MIT-BIH Arrhythmia Database record {record}, {start_s}-{start_s + 60} s",
        rhythm=rhythm,
        duration_s=60.0,
        fs=360.0,
        record=name,
        annotated=True,
    )


def _cinc(record: str, rhythm: str, description: str) -> SampleInfo:
    return SampleInfo(
        name=f"cinc2017-{record}",
        description=description,
        source=f"PhysioNet/CinC Challenge 2017 training record {record}",
        rhythm=rhythm,
        duration_s=30.0,
        fs=300.0,
        record=record,
        annotated=False,
    )


_ALL = (
    _mitdb("mitdb-100-nsr", "100", 10, "normal", "Normal sinus rhythm, leads MLII and V5."),
    _mitdb("mitdb-201-af", "201", 50, "af", "Atrial fibrillation, leads MLII and V1."),
    _mitdb(
        "mitdb-203-af",
        "203",
        150,
        "af",
        "Atrial fibrillation with baseline wander, noise and 5 PVCs, leads MLII and V1.",
    ),
    _mitdb(
        "mitdb-119-pvc",
        "119",
        1360,
        "other",
        "Sinus rhythm with runs of ventricular bigeminy (24 PVCs), leads MLII and V1.",
    ),
    _cinc("A00012", "normal", "Single-lead handheld ECG, normal rhythm (class N)."),
    _cinc("A00004", "af", "Single-lead handheld ECG, atrial fibrillation (class A)."),
    _cinc("A00020", "other", "Single-lead handheld ECG, other rhythm (class O)."),
    _cinc("A00034", "noise", "Single-lead handheld ECG, too noisy to classify (class ~)."),
)

#: Every bundled recording by name.
SAMPLES: dict[str, SampleInfo] = {info.name: info for info in _ALL}

#: Folder holding records copied out of an archive; created on first need.
_extracted: list[Path] = []


def list_samples() -> list[str]:
    """Return the names of the bundled recordings, in a fixed order."""
    return list(SAMPLES)


def sample_path(name: str) -> Path:
    """Return the path of a bundled recording's ``.hea`` file.

    Parameters
    ----------
    name : str
        One of :func:`list_samples`.

    Returns
    -------
    pathlib.Path
        The header; the signal (``.dat`` or ``.mat``) and annotation (``.atr``) files lie
        beside it.

    Raises
    ------
    InputError
        If ``name`` is not a bundled recording.
    """
    info = SAMPLES.get(name)
    if info is None:
        known = ", ".join(SAMPLES)
        raise InputError(f"sample: unknown name {name!r}; known samples: {known}")
    data = resources.files(__name__).joinpath("data")
    header = data.joinpath(f"{info.record}.hea")
    if isinstance(header, Path):
        return header
    return _extract(info.record, data)


def resolve(path: str | Path) -> Path:
    """A record path as given, or a bundled sample's header when ``path`` is its name.

    A file or WFDB record of that name on disk wins over the sample, so a name only stands
    for a sample where nothing else answers to it.

    Parameters
    ----------
    path : str or Path
        A path to a record, or the name of a bundled sample (see :func:`list_samples`).

    Returns
    -------
    pathlib.Path
        ``path`` unchanged, or :func:`sample_path` of the name.

    Examples
    --------
    >>> resolve("mitdb-201-af") == sample_path("mitdb-201-af")
    True
    >>> resolve("recording.csv") == Path("recording.csv")
    True
    """
    given = Path(path)
    name = str(path)
    if name not in SAMPLES or given.exists() or Path(name + ".hea").exists():
        return given
    return sample_path(name)


def _extract(record: str, data: Traversable) -> Path:
    # Reached only when the package is imported from an archive: WFDB readers need real
    # files side by side, so the record's files are copied into a temporary folder.
    if not _extracted:
        folder = Path(tempfile.mkdtemp(prefix="cardiostream-samples-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _extracted.append(folder)
    folder = _extracted[0]
    for item in data.iterdir():
        if item.name.split(".")[0] == record:
            (folder / item.name).write_bytes(item.read_bytes())
    return folder / f"{record}.hea"
