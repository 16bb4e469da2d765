"""``python -m cardiostream.cli``: the command line."""

from cardiostream.cli import main

main()
