"""Cut the bundled sample records out of the PhysioNet databases.

The samples in ``src/cardiostream/samples/data`` are short excerpts of MIT-BIH Arrhythmia
Database records plus four whole PhysioNet/CinC Challenge 2017 records. Running this script
again rewrites them byte for byte from the databases, so the excerpts can be audited and
changed in one place.

Usage::

    python tools/make_samples.py [--data DIR] [--out DIR]

``--data`` defaults to ``$CARDIOSTREAM_DATA`` or ``../shared/data`` next to the repository.
"""

from __future__ import annotations

import argparse
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "src" / "cardiostream" / "samples" / "data"


@dataclass(frozen=True)
class Excerpt:
    """One MITDB excerpt: ``record`` from sample ``start`` for ``seconds``."""

    name: str
    record: str
    start: int
    seconds: int
    rhythm: str


# Windows chosen by reading the reference rhythm notes (aux_note) of each record: each lies
# wholly inside one annotated episode (100, 201, 203) or is the densest run of ventricular
# bigeminy (119), with no signal-quality ("~") annotations inside.
EXCERPTS = (
    Excerpt("mitdb-100-nsr", "100", 3_600, 60, "(N"),
    Excerpt("mitdb-201-af", "201", 18_000, 60, "(AFIB"),
    Excerpt("mitdb-203-af", "203", 54_000, 60, "(AFIB"),
    Excerpt("mitdb-119-pvc", "119", 489_600, 60, ""),
)

#: One CinC 2017 record per class (N normal, A AF, O other rhythm, ~ noisy), all 30 s long.
CINC_RECORDS = (("A00012", "N"), ("A00004", "A"), ("A00020", "O"), ("A00034", "~"))


def default_data_dir() -> Path:
    """Return ``$CARDIOSTREAM_DATA`` or ``../shared/data`` relative to the repository."""
    env = os.environ.get("CARDIOSTREAM_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def rhythm_state(ann: wfdb.Annotation, before: int) -> str:
    """Return the last rhythm note (``(AFIB``, ``(N``, ...) at or before sample ``before``."""
    state = ""
    for sample, note in zip(ann.sample, ann.aux_note, strict=True):
        if sample > before:
            break
        note = note.rstrip("\x00")
        if note.startswith("("):
            state = note
    return state


def cut_excerpt(ex: Excerpt, mitdb: Path, out: Path) -> None:
    """Write ``ex`` as a format-16 WFDB record with its shifted reference annotations."""
    src = str(mitdb / ex.record)
    fs = 360
    stop = ex.start + ex.seconds * fs
    # Digital values and the original gain/baseline: the excerpt reads back bit-exact.
    rec = wfdb.rdrecord(src, sampfrom=ex.start, sampto=stop, physical=False)
    wfdb.wrsamp(
        ex.name,
        fs=rec.fs,
        units=rec.units,
        sig_name=rec.sig_name,
        d_signal=rec.d_signal.astype(np.int64),
        fmt=["16"] * rec.n_sig,
        adc_gain=rec.adc_gain,
        baseline=rec.baseline,
        comments=[
            f"Excerpt of MIT-BIH Arrhythmia Database record {ex.record}, "
            f"samples {ex.start}-{stop} ({ex.start / fs:.0f}-{stop / fs:.0f} s).",
            "Source: physionet.org/content/mitdb/1.0.0, ODC-By 1.0. See CREDITS.md.",
        ],
        write_dir=str(out),
    )

    full = wfdb.rdann(src, "atr")
    inside = (full.sample >= ex.start) & (full.sample < stop)
    sample = full.sample[inside] - ex.start
    symbol = [s for s, k in zip(full.symbol, inside, strict=True) if k]
    subtype = full.subtype[inside]
    chan = full.chan[inside]
    num = full.num[inside]
    aux = [a.rstrip("\x00") for a, k in zip(full.aux_note, inside, strict=True) if k]

    # The rhythm in force at the cut would otherwise be lost: restate it at sample 0.
    state = rhythm_state(full, ex.start)
    has_note_at_0 = any(s == 0 and a.startswith("(") for s, a in zip(sample, aux, strict=True))
    if state and not has_note_at_0:
        sample = np.concatenate([[0], sample])
        symbol = ["+", *symbol]
        subtype = np.concatenate([[0], subtype])
        chan = np.concatenate([[0], chan])
        num = np.concatenate([[0], num])
        aux = [state, *aux]
    if ex.rhythm and state != ex.rhythm:
        raise SystemExit(f"{ex.name}: rhythm at the cut is {state!r}, expected {ex.rhythm!r}")

    wfdb.wrann(
        ex.name,
        "atr",
        sample=np.asarray(sample, np.int64),
        symbol=symbol,
        subtype=np.asarray(subtype, np.int64),
        chan=np.asarray(chan, np.int64),
        num=np.asarray(num, np.int64),
        aux_note=aux,
        fs=fs,
        write_dir=str(out),
    )


def copy_cinc(cinc: Path, out: Path) -> None:
    """Copy the chosen CinC 2017 records unchanged and write their REFERENCE.csv."""
    labels = dict(line.split(",") for line in (cinc / "REFERENCE.csv").read_text().split() if line)
    lines = []
    for name, expected in CINC_RECORDS:
        if labels[name] != expected:
            raise SystemExit(
                f"{name}: label {labels[name]!r} in REFERENCE.csv, expected {expected}"
            )
        for ext in (".hea", ".mat"):
            shutil.copyfile(cinc / f"{name}{ext}", out / f"{name}{ext}")
        lines.append(f"{name},{expected}\n")
    (out / "REFERENCE.csv").write_text("".join(lines))


def main() -> None:
    """Parse the command line and write every sample."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for ex in EXCERPTS:
        cut_excerpt(ex, args.data / "mitdb", args.out)
    copy_cinc(args.data / "cinc2017", args.out)
    total = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(f"wrote {len(EXCERPTS) + len(CINC_RECORDS)} records to {args.out} ({total} bytes)")


if __name__ == "__main__":
    main()
