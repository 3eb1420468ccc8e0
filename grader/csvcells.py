"""Cells of the CSV files the grader writes (gradebooks, quiz grades), made safe to open.

A spreadsheet (Excel, LibreOffice, Google Sheets) runs a cell that starts with
``=``, ``+``, ``-`` or ``@`` as a formula, and some also after a leading tab or
carriage return (OWASP, "CSV Injection").  A submission folder or a student id
is chosen by a student, so every text cell goes through ``neutralise``: such a
cell gets a leading apostrophe, which spreadsheets show as text and hide.
Numbers the grader computed itself (scores) are written as numbers.

    neutralise("=HYPERLINK(...)")   ->  "'=HYPERLINK(...)"
    neutralise("-3")                ->  "'-3"    (text that looks like a number stays text)
    neutralise(-3.0)                ->  -3.0     (a number is a number)
"""

from __future__ import annotations

import csv
import io
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: Any) -> Any:
    """``cell`` unchanged unless it is text a spreadsheet would run: then with a leading ``'``."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def neutralise_row(row) -> list:
    """Every cell of ``row`` through ``neutralise``."""
    return [neutralise(cell) for cell in row]


def csv_text(rows) -> str:
    """``rows`` as CSV text (``\n`` line ends), every cell through ``neutralise``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow(neutralise_row(row))
    return buffer.getvalue()
