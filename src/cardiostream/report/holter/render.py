"""The Holter report as a document: one self-contained HTML file, and the same as an A4 PDF.

:func:`render_html` fills the Jinja2 template ``templates/report.html.j2`` from the report's
numbers (:class:`~cardiostream.report.holter.contract.HolterReport`) and the strips' samples;
CSS is inline and every picture is inline SVG, so the file opens anywhere, offline.
:func:`render_pdf` lays the same HTML out with WeasyPrint: A4 portrait pages with the record
and page numbers in the running header and footer, and A4 landscape pages for the strips,
which print true to scale (25 mm/s, 10 mm/mV).

What the numbers say is decided in :mod:`cardiostream.report.holter.view`; this module only
loads the template and the PDF engine (both from the ``report`` extra).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING

from cardiostream.errors import InputError
from cardiostream.extras import install_hint
from cardiostream.report.holter.contract import HolterReport, StripSignal
from cardiostream.report.holter.view import build_view

if TYPE_CHECKING:
    import jinja2

TEMPLATE = "report.html.j2"


def _missing(module: str) -> InputError:
    return InputError(
        f"{module} is not installed: the Holter report's HTML and PDF need the report extra "
        f"({install_hint('report')})"
    )


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    try:
        import jinja2
    except ModuleNotFoundError:
        raise _missing("jinja2") from None
    return jinja2.Environment(
        loader=jinja2.PackageLoader("cardiostream.report.holter", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,  # a misspelt field fails loudly, not as blank
    )


def render_html(report: HolterReport, strips: dict[str, StripSignal]) -> str:
    """The Holter report as one self-contained HTML document.

    Parameters
    ----------
    report : HolterReport
        Every number of the report (the JSON of ``cardiostream holter --format json``).
    strips : dict of str to StripSignal
        The samples of each strip, keyed by ``Strip.id``; a strip without samples is listed
        with a note instead of its trace.

    Returns
    -------
    str
        The HTML: CSS inline, plots and strips as inline SVG, no scripts, no external links.

    Raises
    ------
    InputError
        Jinja2 is not installed (the ``report`` extra).
    """
    return _environment().get_template(TEMPLATE).render(build_view(report, strips))


def render_pdf(report: HolterReport, strips: dict[str, StripSignal]) -> bytes:
    """The Holter report as a PDF: the HTML of :func:`render_html` laid out by WeasyPrint.

    Parameters
    ----------
    report : HolterReport
        Every number of the report.
    strips : dict of str to StripSignal
        The samples of each strip, keyed by ``Strip.id``.

    Returns
    -------
    bytes
        The PDF: A4 portrait, strips on A4 landscape pages true to scale, page numbers and
        the record's name on every page, fonts from the machine (DejaVu or Liberation Sans).

    Raises
    ------
    InputError
        WeasyPrint or Jinja2 is not installed (the ``report`` extra), or the system
        libraries WeasyPrint draws with (Pango) are missing.
    """
    html = render_html(report, strips)
    try:
        import weasyprint
    except ModuleNotFoundError:
        raise _missing("weasyprint") from None
    except OSError as exc:  # WeasyPrint loads Pango when imported
        raise InputError(
            f"weasyprint cannot load its system libraries (Pango): {str(exc).splitlines()[0]}"
        ) from None
    # WeasyPrint reports every CSS property it ignores; the template is written for it, so
    # what remains is noise on the command line.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    pdf = weasyprint.HTML(string=html, base_url=None).write_pdf()
    assert pdf is not None  # write_pdf returns the bytes when given no target
    return bytes(pdf)
