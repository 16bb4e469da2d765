"""The model card is written from the training summary, with its figures."""

from __future__ import annotations

from cardiostream.training.model_card import model_card


def test_card_carries_the_cv_and_calibration_figures() -> None:
    summary = {
        "threshold": 0.71,
        "parameters": 67676,
        "f1_mean": [0.9, 0.8, 0.7, 0.6],
        "f1_sd": [0.01, 0.02, 0.03, 0.04],
        "cinc_mean": 0.8,
        "cinc_sd": 0.012,
        "temperature": 0.8,
        "ece_before": 0.08,
        "ece_after": 0.012,
        "coverage": 0.7,
        "confident_accuracy": 0.9,
        "class_counts": {"normal": 3800, "af": 570, "other": 1800, "noise": 220},
        "config": {"net": {"inputs": 3}},
    }
    card = model_card(summary)
    assert "67,676 parameters" in card
    assert "| af | 0.800 ± 0.020 |" in card
    assert "**0.800 ± 0.012**" in card
    assert "0.080 before, 0.012 after" in card
    assert "below 0.71" in card
    assert "normal 3,800" in card
    assert "ODC-By" in card
