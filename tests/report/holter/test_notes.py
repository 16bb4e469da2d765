"""Reviewers' notes added to a finished report, as a server adds the notes of the moment."""

from __future__ import annotations

import copy

from cardiostream.io.user_annotations import UserAnnotation
from cardiostream.report.holter.contract import Annotation
from cardiostream.report.holter.notes import (
    episode_notes,
    from_user_annotations,
    with_annotations,
)

from .sample_report import holter_report


def test_notes_go_on_the_episodes_they_overlap_and_the_report_is_not_changed() -> None:
    report = holter_report()
    before = copy.deepcopy(report)
    notes: list[Annotation] = [
        {"t_s": 14000.0, "end_s": 14500.0, "label": "AF confirmed by dr-x", "note": ""},
        {"t_s": 70450.0, "end_s": None, "label": "symptom", "note": "dizzy"},
        {"t_s": 90.0, "end_s": 95.0, "label": "noise marked", "note": "lead off"},
    ]
    out = with_annotations(report, notes)
    assert report == before
    episodes = out["af"]["episodes"]
    assert [e["annotations"] for e in episodes] == [[], ["AF confirmed by dr-x"], ["dizzy"]]
    assert out["af"]["longest"] is episodes[0]
    assert out["annotations"] == notes
    # The rest is shared, not copied.
    assert out["hourly"] is report["hourly"]
    assert with_annotations(out, [])["af"]["episodes"][1]["annotations"] == []


def test_episode_notes_touching_edges_count() -> None:
    note: Annotation = {"t_s": 10.0, "end_s": 20.0, "label": "l", "note": ""}
    assert episode_notes(20.0, 30.0, [note]) == ["l"]
    assert episode_notes(0.0, 10.0, [note]) == ["l"]
    assert episode_notes(20.5, 30.0, [note]) == []


def test_user_annotations_become_notes_in_start_order() -> None:
    def one(start: float, kind: str, status: str, note: str, author: str) -> UserAnnotation:
        return UserAnnotation(id="0" * 32, kind=kind, status=status, start_s=start,
                              end_s=start + 60.0, note=note, event=None, author=author,
                              created="", updated="")  # fmt: skip

    found = from_user_annotations(
        [one(300.0, "noise", "rejected", "", ""), one(100.0, "af", "confirmed", "palp.", "dr-x")]
    )
    assert found == [
        {"t_s": 100.0, "end_s": 160.0, "label": "AF confirmed by dr-x", "note": "palp."},
        {"t_s": 300.0, "end_s": 360.0, "label": "noise rejected", "note": ""},
    ]
