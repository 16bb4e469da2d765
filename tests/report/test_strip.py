"""Printed strips: true to scale (25 mm/s, 10 mm/mV), header, gaps, beats, rows, pages."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from cardiostream.errors import InputError
from cardiostream.report.strip import render_strip

pytest.importorskip("matplotlib")

SVG = "{http://www.w3.org/2000/svg}"
PT_PER_MM = 72 / 25.4
FS = 250.0


def ecg(seconds: float, fs: float = FS, bpm: float = 60.0) -> np.ndarray:
    """A crude ECG: 1 mV R waves (20 ms wide) on a flat line, one every 60/bpm s."""
    t = np.arange(round(seconds * fs)) / fs
    phase = (t % (60.0 / bpm)) - 0.5
    return np.exp(-0.5 * (phase / 0.01) ** 2)


def svg_of(x: np.ndarray, **kwargs: object) -> ET.Element:
    return ET.fromstring(render_strip(x, FS, fmt="svg", **kwargs))  # type: ignore[arg-type]


def group(root: ET.Element, gid: str) -> ET.Element | None:
    return next((g for g in root.iter(SVG + "g") if g.get("id") == gid), None)


def points_mm(root: ET.Element, gid: str) -> list[np.ndarray]:
    """The polylines of a drawn line, each as an (n, 2) array in mm, y downwards."""
    found = group(root, gid)
    assert found is not None, gid
    paths = [p.get("d", "") for p in found.iter(SVG + "path")]
    runs = []
    for d in paths:
        for run in re.split(r"(?=M )", d):
            nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", run)]
            if nums:
                runs.append(np.array(nums).reshape(-1, 2) / PT_PER_MM)
    return runs


def size_mm(root: ET.Element) -> tuple[float, float]:
    w, h = (float(root.get(k, "").removesuffix("pt")) for k in ("width", "height"))
    return w / PT_PER_MM, h / PT_PER_MM


def texts(root: ET.Element) -> str:
    return "\n".join("".join(t.itertext()) for t in root.iter(SVG + "text"))


def test_ten_seconds_is_250_mm_and_one_millivolt_is_10_mm() -> None:
    root = svg_of(ecg(10.0))
    width, _ = size_mm(root)
    assert width == pytest.approx(297.0, abs=0.01)  # A4 landscape wide
    (trace,) = points_mm(root, "trace-0")
    span = trace[:, 0].max() - trace[:, 0].min()
    assert span == pytest.approx((10.0 - 1 / FS) * 25.0, abs=0.05)
    # The R waves are 1 mV above a flat baseline: 10 mm.
    assert trace[:, 1].max() - trace[:, 1].min() == pytest.approx(10.0, abs=0.1)
    (pulse,) = points_mm(root, "calibration-0")
    assert pulse[:, 1].max() - pulse[:, 1].min() == pytest.approx(10.0, abs=0.01)
    top = pulse[:, 1].min()
    high = pulse[np.isclose(pulse[:, 1], top)]
    assert high[:, 0].max() - high[:, 0].min() == pytest.approx(5.0, abs=0.01)  # 0.2 s
    # The trace starts where the pulse's baseline ends, on the pulse's baseline.
    assert trace[0, 0] == pytest.approx(pulse[-1, 0], abs=0.01)


def test_speed_and_gain_change_the_scale() -> None:
    root = svg_of(ecg(4.0), mm_per_s=50.0, mm_per_mv=20.0, row_s=4.0)
    (trace,) = points_mm(root, "trace-0")
    assert trace[:, 0].max() - trace[:, 0].min() == pytest.approx((4.0 - 1 / FS) * 50, abs=0.05)
    assert trace[:, 1].max() - trace[:, 1].min() == pytest.approx(20.0, abs=0.2)
    assert "50 mm/s · 20 mm/mV" in texts(root)


def test_header_names_bed_clock_zone_rate_rhythm_and_scale() -> None:
    cet = timezone(timedelta(hours=1), "CET")
    root = svg_of(
        ecg(10.0),
        title="Bed 4",
        subtitle="lead II",
        clock_start=datetime(2026, 12, 6, 8, 31, 10, tzinfo=cet),
        heart_rate_bpm=72.4,
        rhythm="AF",
    )
    text = texts(root)
    assert "Bed 4" in text and "lead II" in text
    assert "2026-12-06 08:31:10 – 08:31:20 CET (UTC+01:00)" in text
    assert "HR 72 bpm" in text and "Rhythm: AF" in text
    assert "25 mm/s · 10 mm/mV" in text
    assert "08:31:10" in "".join(group(root, "row-time-0").itertext())  # type: ignore[union-attr]


def test_without_a_clock_stream_seconds_are_printed_and_rate_comes_from_peaks() -> None:
    text = texts(svg_of(ecg(10.0), peaks=[0.5 + k for k in range(10)]))
    assert "stream time 0.0 s – 10.0 s (no clock time)" in text
    assert "HR 60 bpm" in text and "Rhythm: —" in text
    utc = texts(svg_of(ecg(2.0), clock_start=datetime(2026, 1, 1, 23, 59, 59, tzinfo=UTC)))
    assert "2026-01-01 23:59:59 – 2026-01-02 00:00:01 UTC" in utc  # the date changes: shown
    naive = texts(svg_of(ecg(2.0), clock_start=datetime(2026, 1, 1, 12, 0, 0)))
    assert "no time zone given" in naive


def test_a_nan_gap_is_drawn_as_a_gap() -> None:
    x = ecg(10.0)
    x[round(4.0 * FS) : round(5.0 * FS)] = np.nan
    runs = points_mm(svg_of(x), "trace-0")
    assert len(runs) == 2
    left, right = sorted(runs, key=lambda r: r[0, 0])
    assert right[:, 0].min() - left[:, 0].max() == pytest.approx(25.0 + 25 / FS, abs=0.05)


def test_beat_letters_above_their_r_peaks_and_n_left_unmarked() -> None:
    beats = [(0.5, "N"), (1.5, "V"), (2.5, "S"), (3.5, "N"), (4.5, "F"), (5.5, "Q"), (12.0, "V")]
    root = svg_of(ecg(10.0), beats=beats)
    ids = {g.get("id") for g in root.iter(SVG + "g") if (g.get("id") or "").startswith("beat-")}
    assert ids == {"beat-V-1.500", "beat-S-2.500", "beat-F-4.500", "beat-Q-5.500"}
    (trace,) = points_mm(root, "trace-0")
    v = group(root, "beat-V-1.500")
    letter = next(v.iter(SVG + "text"))  # type: ignore[union-attr]
    x, y = (float(letter.get(k, "nan")) / PT_PER_MM for k in ("x", "y"))
    r_peak = trace[np.argmin(np.abs(trace[:, 0] - x))]
    assert abs(r_peak[0] - x) < 0.2 and y < trace[:, 1].min()  # above the R wave (y down)


def test_thirty_seconds_wrap_into_three_rows_of_ten() -> None:
    root = svg_of(ecg(30.0), clock_start=datetime(2026, 12, 6, 8, 0, 0, tzinfo=UTC))
    rows = [points_mm(root, f"trace-{i}") for i in range(3)]
    assert group(root, "trace-3") is None
    lefts = [row[0][:, 0].min() for row in rows]
    assert lefts == pytest.approx([lefts[0]] * 3)
    for row in rows:
        assert row[0][:, 0].max() - row[0][:, 0].min() == pytest.approx(250 - 25 / FS, abs=0.05)
    tops = [row[0][:, 1].min() for row in rows]
    assert np.diff(tops) == pytest.approx([30.0, 30.0], abs=0.1)  # 30 mm rows, stacked
    labels = ["".join(group(root, f"row-time-{i}").itertext()).strip() for i in range(3)]  # type: ignore[union-attr]
    assert labels == ["08:00:00", "08:00:10", "08:00:20"]


def test_amplitudes_beyond_the_row_are_clipped_with_a_marker() -> None:
    x = ecg(10.0) * 5.0  # 5 mV: more than a 30 mm row holds
    x -= 4.0
    root = svg_of(x)
    (trace,) = points_mm(root, "trace-0")
    (pulse,) = points_mm(root, "calibration-0")
    baseline = pulse[0, 1]
    # The row spans 20 mm above the baseline (+2 mV) and 10 mm below; the trace stays inside.
    assert trace[:, 1].min() >= baseline - 20.0 and trace[:, 1].max() <= baseline + 10.0
    assert trace[:, 1].min() == pytest.approx(baseline - 19.5, abs=0.01)
    assert group(root, "clipped-0") is not None


def test_pdf_pages_are_a4_landscape_with_60_seconds_each(tmp_path: Path) -> None:
    pdf = render_strip(ecg(90.0), FS, fmt="pdf", title="Bed 4")
    assert pdf.startswith(b"%PDF")
    boxes = re.findall(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", pdf)
    assert len(boxes) == 2  # 60 s + 30 s
    for w, h in boxes:
        assert float(w) / PT_PER_MM == pytest.approx(297.0, abs=0.01)
        assert float(h) / PT_PER_MM == pytest.approx(210.0, abs=0.01)
    # Without a rasteriser, at least the pages' drawing: the grid, traces and text.
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
    drawn = b"".join(zlib.decompress(s) for s in streams if s[:1] == b"x")
    assert drawn.count(b" l\n") > 2000 and re.search(rb"\bT[jJ]\b", drawn)
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: the PDF is not rasterised")
    path = tmp_path / "strip.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(path),
                    str(tmp_path / "page")], check=True, timeout=60)  # fmt: skip
    from PIL import Image

    (page,) = tmp_path.glob("page*.png")
    pixels = np.asarray(Image.open(page).convert("RGB"), dtype=np.int32)
    assert (pixels.min(axis=2) < 64).mean() > 0.001  # dark trace and text
    assert ((pixels[..., 0] - pixels[..., 2]) > 40).mean() > 0.01  # the pink grid


def test_png_is_sized_in_millimetres_and_looks_like_ecg_paper() -> None:
    from PIL import Image

    png = render_strip(ecg(10.0), FS, fmt="png", dpi=200)
    image = Image.open(io.BytesIO(png))
    width_mm = image.width / 200 * 25.4
    assert width_mm == pytest.approx(297.0, abs=0.2)
    dpi = image.info.get("dpi")
    assert dpi is not None and round(dpi[0]) == 200  # a viewer knows the size in mm
    pixels = np.asarray(image.convert("RGB"), dtype=np.int32)
    pink = ((pixels[..., 0] > 200) & (pixels[..., 0] - pixels[..., 2] > 30)).mean()
    dark = (pixels.max(axis=2) < 80).mean()
    white = (pixels.min(axis=2) > 250).mean()
    assert pink > 0.05 and 0.002 < dark < 0.1 and white > 0.2


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        (([], FS), {}, "samples"),
        ((np.zeros((10, 2)), FS), {}, "samples"),
        ((["a", "b"], FS), {}, "samples"),
        ((np.zeros(10), 0.0), {}, "fs"),
        ((np.zeros(10), float("nan")), {}, "fs"),
        ((np.zeros(10), FS, float("inf")), {}, "t0_s"),
        ((np.zeros(10), FS), {"fmt": "jpg"}, "fmt"),
        ((np.zeros(10), FS), {"mm_per_s": -25.0}, "mm_per_s"),
        ((np.zeros(10), FS), {"mm_per_mv": 0}, "mm_per_mv"),
        ((np.zeros(10), FS), {"row_s": float("inf")}, "row_s"),
        ((np.zeros(10), FS), {"dpi": 5}, "dpi"),
        ((np.zeros(10), FS), {"rows_per_page": 0}, "rows_per_page"),
    ],
)
def test_bad_input_is_an_input_error_naming_the_field(
    args: tuple[object, ...], kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(InputError, match=rf"^{field}: "):
        render_strip(*args, **kwargs)  # type: ignore[arg-type]


def test_all_missing_samples_still_draw_paper_and_header() -> None:
    root = svg_of(np.full(500, np.nan), title="Bed 9")
    assert "Bed 9" in texts(root)
    assert group(root, "calibration-0") is not None
