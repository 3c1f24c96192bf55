"""Contract PDFs, rendered with fpdf2's built-in Helvetica (no font files to ship)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from fpdf import FPDF


@dataclass(frozen=True)
class PdfSection:
    heading: str
    rows: Sequence[tuple[str, str]]


def _latin1(text: str) -> str:
    # Helvetica covers Latin-1 only: spell out what it cannot draw instead of failing.
    return text.replace("€", "EUR ").encode("latin-1", "replace").decode("latin-1")


def render_pdf(
    *, title: str, intro: str, sections: Sequence[PdfSection], created_at: dt.datetime
) -> bytes:
    """A one-column document: a title, a paragraph, then label/value tables."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(created_at)
    pdf.set_title(_latin1(title))
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=16)
    pdf.multi_cell(0, 9, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.ln(2)
    pdf.multi_cell(0, 5, _latin1(intro), new_x="LMARGIN", new_y="NEXT")
    for section in sections:
        pdf.ln(4)
        pdf.set_font("Helvetica", style="B", size=12)
        pdf.cell(0, 7, _latin1(section.heading), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)
        for label, value in section.rows:
            pdf.cell(70, 6, _latin1(label))
            pdf.multi_cell(0, 6, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
