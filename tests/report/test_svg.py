"""The geometry of the HTML report's pictures."""

from __future__ import annotations

import math

from grader.report import svg

from report_samples import heatmap_details


def test_heatmap_one_rect_per_cell_row_by_row():
    picture = svg.heatmap(heatmap_details(3, 4))
    assert len(picture["rects"]) == 12
    cell = picture["rects"][0]["size"]
    assert [(r["x"], r["y"]) for r in picture["rects"][:5]] == [(0, 0), (cell, 0), (2 * cell, 0), (3 * cell, 0),
                                                                (0, cell)]
    assert picture["map_width"] == 4 * cell and picture["map_height"] == 3 * cell
    assert picture["rects"][0]["fill"] == "rgb(255,255,255)"  # 0: white
    assert picture["rects"][-1]["fill"] == "rgb(200,0,0)"  # 1: red
    assert "sample 0, channel 2 shown" in picture["caption"]
    assert "max |difference| = 0.418" in picture["caption"]


def test_heatmap_tolerates_bad_data():
    assert svg.heatmap(None) is None
    assert svg.heatmap({"cells": []}) is None
    assert svg.heatmap({"cells": "nope"}) is None
    picture = svg.heatmap({"cells": [[float("nan"), "x", -3, 7], [0.5]], "max": float("nan")})
    assert len(picture["rects"]) == 5
    assert "first sample/channel shown" in picture["caption"]
    big = svg.heatmap({"cells": [[0.1] * 500] * 500, "max": 1.0})
    assert len(big["rects"]) == svg.MAX_CELLS ** 2


def test_speed_chart_bars():
    chart = svg.speed_chart({"student_s": 0.02, "vectorized_s": 0.01, "loops_s": 1.0, "vs_vectorized": 2.0,
                             "vs_loops": 0.02})
    labels = [b["label"] for b in chart["bars"]]
    assert labels == ["your code", "vectorized reference", "loop reference"]
    widths = {b["label"]: b["width"] for b in chart["bars"]}
    assert widths["vectorized reference"] < widths["your code"] < widths["loop reference"]
    assert math.isclose(widths["loop reference"], svg.BAR_AREA)
    assert all(b["value_x"] > chart["bar_x"] + b["width"] for b in chart["bars"])
    assert "2x slower" in chart["bars"][1]["value"] and "50x faster" in chart["bars"][2]["value"]


def test_speed_chart_from_ratios_and_bad_data():
    chart = svg.speed_chart({"vs_vectorized": 0.5})
    assert [b["label"] for b in chart["bars"]] == ["your code", "vectorized reference"]
    assert svg.speed_chart({}) is None
    assert svg.speed_chart({"vs_vectorized": 0.0}) is None
    assert svg.speed_chart("fast") is None
    equal = svg.speed_chart({"student_s": 0.01, "vectorized_s": 0.01, "vs_vectorized": 1.0})
    assert len(equal["bars"]) == 2 and all(b["width"] > 0 for b in equal["bars"])
