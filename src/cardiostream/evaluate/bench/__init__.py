"""Benchmark harnesses: each runs a stage beside its peers in the same run and renders the
table (and plot) that the README quotes."""
