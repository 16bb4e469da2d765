"""``python -m cardiostream``: the command line."""

from cardiostream.cli import main

main()
