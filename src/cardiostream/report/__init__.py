"""Reports for people: the one-page look at a recording behind ``cardiostream report``."""
