"""Geometry for the HTML report's inline pictures, as plain data.

Each function returns numbers (coordinates, sizes), colours built here from
numbers, and text for the template to escape; the template draws the
``<svg>`` elements.  Nothing here returns markup.
"""

from __future__ import annotations

import math
from typing import Any

from .common import finite, seconds

MAX_CELLS = 48  # rows and columns drawn at most
MAP_SIDE = 240  # the map's longest side, in pixels
LEGEND_STEPS = 10


def _red(value: float) -> str:
    """White (0) to red (1)."""
    v = min(max(value, 0.0), 1.0)
    return f"rgb({round(255 - 55 * v)},{round(255 * (1 - v) ** 1.1)},{round(255 * (1 - v) ** 1.1)})"


def _cell(value: Any) -> float:
    number = finite(value)
    if number is None:  # NaN or garbage: as different as it gets
        return 1.0
    return min(max(number, 0.0), 1.0)


def heatmap(data: Any) -> dict[str, Any] | None:
    """A heat map of ``details["heatmap"]`` ({"where", "max", "cells"}), or None when it has no cells.

    Returns width, height, cell (pixels), rects ([{x, y, size, fill}], one per
    cell, row by row), legend ([{x, size, fill}]), legend_y, and caption.
    """
    if not isinstance(data, dict) or not isinstance(data.get("cells"), (list, tuple)):
        return None
    rows = [list(row)[:MAX_CELLS] for row in data["cells"][:MAX_CELLS] if isinstance(row, (list, tuple))]
    rows = [row for row in rows if row]
    if not rows:
        return None
    n_cols = max(len(row) for row in rows)
    cell = max(4, min(24, MAP_SIDE // max(len(rows), n_cols)))
    rects = [{"x": c * cell, "y": r * cell, "size": cell, "fill": _red(_cell(v))}
             for r, row in enumerate(rows) for c, v in enumerate(row)]
    map_width, map_height = n_cols * cell, len(rows) * cell
    step = 12
    legend_y = map_height + 8
    legend = [{"x": i * step, "size": step, "fill": _red(i / (LEGEND_STEPS - 1))} for i in range(LEGEND_STEPS)]
    top = finite(data.get("max"))
    return {
        "width": max(map_width, LEGEND_STEPS * step + 80),
        "height": legend_y + step + 2,
        "map_width": map_width,
        "map_height": map_height,
        "rects": rects,
        "legend": legend,
        "legend_y": legend_y,
        "legend_step": step,
        "legend_width": LEGEND_STEPS * step,
        "legend_text_x": LEGEND_STEPS * step + 6,
        "legend_text_y": legend_y + step - 2,
        "legend_text": f"0 to {top:.3g}" if top is not None else "0 to max",
        "caption": (f"where your output differs from the reference ({_where(data.get('where'))} shown, "
                    f"max |difference| = {f'{top:.3g}' if top is not None else 'unknown'})"),
    }


def _where(where: Any) -> str:
    if isinstance(where, (list, tuple)) and where and all(finite(i) is not None for i in where):
        index = [int(finite(i)) for i in where]
        if len(index) == 2:
            return f"sample {index[0]}, channel {index[1]}"
        return "slice [" + ", ".join(map(str, index)) + "]"
    return "first sample/channel"


LABEL_WIDTH = 170
BAR_AREA = 300
VALUE_WIDTH = 230
BAR_HEIGHT = 20
BAR_GAP = 8


def speed_chart(speed: Any) -> dict[str, Any] | None:
    """Horizontal bars of the student's time and the references' (``details["speed"]``), or None.

    Times in seconds when the details have them, else relative to the
    vectorized reference from the ratios.  The scale is logarithmic (the loop
    reference is often 100x slower); the shortest bar is still visible.
    Returns width, height, scale, bars ([{label, y, width, fill, value,
    text_y, value_x}]) and label_x/bar_x.
    """
    if not isinstance(speed, dict):
        return None
    vs_vec, vs_loops = finite(speed.get("vs_vectorized")), finite(speed.get("vs_loops"))
    student, vectorized, loops = (finite(speed.get(k)) for k in ("student_s", "vectorized_s", "loops_s"))
    if student is not None and student > 0 and vectorized is not None and vectorized > 0:
        entries = [("your code", student), ("vectorized reference", vectorized), ("loop reference", loops)]
        unit = "seconds"
    elif vs_vec is not None and vs_vec > 0:
        loops_rel = vs_vec / vs_loops if vs_loops else None
        entries = [("your code", vs_vec), ("vectorized reference", 1.0), ("loop reference", loops_rel)]
        unit = "relative"
    else:
        return None
    entries = [(label, value) for label, value in entries if value is not None and value > 0]
    low, high = min(v for _, v in entries) / 3, max(v for _, v in entries)
    span = math.log(high / low)
    bars = []
    for i, (label, value) in enumerate(entries):
        y = i * (BAR_HEIGHT + BAR_GAP)
        width = max(4.0, BAR_AREA * math.log(value / low) / span)
        if unit == "seconds":
            text = seconds(value)
            if label != "your code":
                text += f" (yours is {_ratio(entries[0][1] / value)})"
        else:
            text = f"{value:.3g}x the vectorized time"
        bars.append({
            "label": label,
            "y": y,
            "width": round(width, 1),
            "height": BAR_HEIGHT,
            "fill": "#2f6fb5" if label == "your code" else "#9aa3ad",
            "text_y": y + BAR_HEIGHT * 0.7,
            "value_x": round(LABEL_WIDTH + width + 6, 1),
            "value": text,
        })
    height = len(bars) * (BAR_HEIGHT + BAR_GAP) + 16
    return {
        "width": LABEL_WIDTH + BAR_AREA + VALUE_WIDTH,
        "height": height,
        "label_x": LABEL_WIDTH - 8,
        "bar_x": LABEL_WIDTH,
        "axis_y": height - 4,
        "scale": "logarithmic scale; shorter is faster",
        "bars": bars,
    }


def _ratio(ratio: float) -> str:
    """"1.3x slower" or "25x faster" (the student's time over a reference's)."""
    factor, word = (ratio, "slower") if ratio >= 1 else (1 / ratio, "faster")
    return f"{factor:.2g}x {word}" if factor < 10 else f"{factor:.0f}x {word}"
