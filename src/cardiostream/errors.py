"""Exceptions raised for bad input.

Every error that a user can cause (a missing file, a header that lies, an empty signal, a
sampling rate of zero) is an :class:`InputError` whose message is one line naming the file or
field at fault. The command line turns it into exit code 2 without a traceback.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: the message is one line that names the file or field at fault."""
