"""The Holter report: one pass of the engine over a day of ECG, its numbers, HTML and PDF."""
