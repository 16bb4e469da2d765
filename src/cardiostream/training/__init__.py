"""Everything only training needs: the CinC 2017 and noise datasets, the training loop,
cross-validation, the heads' fitting, calibration, export, the model card and the training
report.

The runtime (:mod:`cardiostream.rhythm`) never imports this package; it needs torch (the
``train`` extra) for the network's training and export.
"""
