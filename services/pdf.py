"""Contract PDFs, set in DejaVu Sans (shipped in `pdf_fonts/`), so every customer's letters print.

fpdf2's built-in Helvetica covers Latin-1 only: "Łukasz" would print as "?ukasz" in a signed
document. fpdf2 embeds only the glyphs a document uses, so a PDF stays a few kilobytes.
Rendering is CPU work of tens of milliseconds: callers run it in a thread, outside any
transaction (`render_pdf_in_thread`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from fpdf import FPDF

FONT = "DejaVu"
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}


@dataclass(frozen=True)
class PdfSection:
    heading: str
    rows: Sequence[tuple[str, str]]


def _font_path(file: str) -> str:
    return str(resources.files("services").joinpath("pdf_fonts", file))


def _document(created_at: dt.datetime) -> FPDF:
    pdf = FPDF(format="A4")
    for style, file in _FONT_FILES.items():
        pdf.add_font(FONT, style=style, fname=_font_path(file))
    pdf.set_creation_date(created_at)
    return pdf


def render_pdf(
    *, title: str, intro: str, sections: Sequence[PdfSection], created_at: dt.datetime
) -> bytes:
    """A one-column document: a title, a paragraph, then label/value tables."""
    pdf = _document(created_at)
    pdf.set_title(title)
    pdf.add_page()
    pdf.set_font(FONT, style="B", size=16)
    pdf.multi_cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10)
    pdf.ln(2)
    pdf.multi_cell(0, 5, intro, new_x="LMARGIN", new_y="NEXT")
    for section in sections:
        pdf.ln(4)
        pdf.set_font(FONT, style="B", size=12)
        pdf.cell(0, 7, section.heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, size=10)
        for label, value in section.rows:
            pdf.cell(70, 6, label)
            pdf.multi_cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


async def render_pdf_in_thread(
    *, title: str, intro: str, sections: Sequence[PdfSection], created_at: dt.datetime
) -> bytes:
    """`render_pdf` off the event loop: requests go on being served while it works."""
    return await asyncio.to_thread(
        render_pdf, title=title, intro=intro, sections=sections, created_at=created_at
    )
