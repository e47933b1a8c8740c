"""The confidence bar chart: well-formed, labelled SVG that never relies on colour alone."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from trainer.charts import Bar, Group, bar_chart

SVG = "{http://www.w3.org/2000/svg}"
SERIES = ["Before", "After", "Follow-up"]


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def chart(groups: list[Group], chart_id: str = "c1", **kwargs) -> ET.Element:
    return parse(bar_chart("Confident (4 or 5)", groups, SERIES, chart_id, **kwargs))


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == "chart-bar"]


def texts(root: ET.Element, cls: str | None = None) -> list[str]:
    return [
        "".join(t.itertext())
        for t in root.iter(f"{SVG}text")
        if cls is None or t.get("class") == cls
    ]


def one_group(*bar_list: Bar, label: str = "I can spot early signs") -> list[Group]:
    return [Group(label, list(bar_list))]


def contrast_with_white(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i : i + 2], 16)) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 1.05 / (luminance + 0.05)


def test_svg_is_named_by_its_title_and_desc():
    out = bar_chart(
        "Share confident", one_group(Bar("Before", 40)), SERIES, "conf", "Confidence rose."
    )
    assert isinstance(out, Markup)
    root = parse(out)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "conf-title conf-desc"
    assert root.get("width") == "100%"
    assert root.get("viewBox", "").startswith("0 0 ")
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.get("id") == "conf-title"
    assert title.text == "Share confident"
    assert desc is not None and desc.get("id") == "conf-desc"
    assert desc.text == (
        "Bar chart. The same figures are in the table that follows. Confidence rose."
    )


def test_one_rect_per_bar_with_width_proportional_to_percent():
    groups = [
        Group("First", [Bar("Before", 100), Bar("After", 50), Bar("Follow-up", 25)]),
        Group("Second", [Bar("Before", 0), Bar("After", 75)]),
    ]
    rects = bars(chart(groups))
    assert len(rects) == 5
    widths = [float(r.get("width")) for r in rects]
    full = widths[0]
    assert full > 100
    assert widths[1] == pytest.approx(full / 2)
    assert widths[2] == pytest.approx(full / 4)
    assert widths[3] == 0
    assert widths[4] == pytest.approx(full * 3 / 4)
    assert len({r.get("x") for r in rects}) == 1  # all start on the 0% line


def test_bars_follow_series_order_and_share_the_legend_style():
    root = chart(one_group(Bar("Follow-up", 30), Bar("Before", 10), Bar("After", 20)))
    rects = bars(root)
    assert [r.get("data-series") for r in rects] == SERIES
    assert [float(r.get("y")) for r in rects] == sorted(float(r.get("y")) for r in rects)
    legend = {
        g.get("data-series"): g.find(f"{SVG}rect")
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "chart-legend-entry"
    }
    for rect in rects:
        swatch = legend[rect.get("data-series")]
        assert rect.get("fill") == swatch.get("fill")
        assert rect.get("stroke") == swatch.get("stroke")


def test_value_labels_are_whole_percentages_rounded_half_up():
    values = [57.5, 58.4, 2.5]
    root = chart([Group(str(v), [Bar("Before", v)]) for v in values] + one_group(Bar("After", 0.5)))
    assert texts(root, "chart-value") == ["58%", "58%", "3%", "1%"]


def test_missing_values_have_zero_width_and_say_why():
    root = chart(
        one_group(Bar("Before", 58), Bar("After", None, "fewer than 5"), Bar("Follow-up", None))
    )
    assert texts(root, "chart-value") == ["58%", "fewer than 5", "no answers"]
    assert [float(r.get("width")) for r in bars(root)][1:] == [0, 0]


def test_grid_marks_quarters():
    root = chart(one_group(Bar("Before", 10)))
    assert texts(root, "chart-tick") == ["0%", "25%", "50%", "75%", "100%"]
    xs = [float(line.get("x1")) for line in root.iter(f"{SVG}line")]
    assert len(xs) == 5
    steps = {round(b - a, 6) for a, b in zip(xs, xs[1:], strict=False)}
    assert len(steps) == 1


def test_hostile_text_is_escaped_everywhere():
    hostile = '<script>alert("x")</script> Tom & Jerry\x00'
    out = str(
        bar_chart(
            hostile,
            [Group(hostile, [Bar("Before", None, "<b>few</b> & far")])],
            ["Before"],
            "c1",
            description=hostile,
        )
    )
    root = parse(out)  # well-formed despite the NUL and markup
    assert "<script" not in out and "<b>" not in out
    assert "&lt;script&gt;" in out and "Tom &amp; Jerry" in out
    assert not [e for e in root.iter() if e.tag in (f"{SVG}script", "script", f"{SVG}b")]
    assert root.find(f"{SVG}title").text == '<script>alert("x")</script> Tom & Jerry'
    assert "<b>few</b> & far" in texts(root, "chart-value")
    assert "Tom & Jerry" in " ".join(texts(root))


def test_long_labels_wrap_and_the_chart_grows():
    short = chart(one_group(Bar("Before", 10), label="Short"))
    label = "I know how to plan next steps with families and other professionals for a child"
    long = chart(one_group(Bar("Before", 10), label=label))
    lines = [t for t in texts(long) if t and t in label]
    assert len(lines) >= 2
    assert all(len(line) <= 40 for line in lines)
    assert " ".join(lines) == label
    two = chart(one_group(Bar("Before", 10), label="Short") * 2)

    def height(root: ET.Element) -> float:
        return float(root.get("viewBox").split()[3])

    assert height(short) < height(long)
    assert height(short) < height(two)


def test_pattern_ids_are_prefixed_per_chart_and_all_references_resolve():
    groups = one_group(Bar("Before", 10), Bar("After", 20), Bar("Follow-up", 30))
    ids = {}
    for chart_id in ("first", "second"):
        root = chart(groups, chart_id=chart_id)
        ids[chart_id] = {e.get("id") for e in root.iter() if e.get("id")}
        assert all(i.startswith(f"{chart_id}-") or i == chart_id for i in ids[chart_id])
        patterns = [p.get("id") for p in root.iter(f"{SVG}pattern")]
        assert len(patterns) == len(set(patterns)) == 3
        refs = {m for e in root.iter() for m in re.findall(r"url\(#([^)]+)\)", e.get("fill", ""))}
        assert refs == set(patterns)
    assert not ids["first"] & ids["second"]


def test_legend_shows_each_series_with_distinct_colour_and_pattern():
    root = chart(one_group(Bar("Before", 10)))
    entries = [g for g in root.iter(f"{SVG}g") if g.get("class") == "chart-legend-entry"]
    assert ["".join(g.find(f"{SVG}text").itertext()) for g in entries] == SERIES
    patterns = {p.get("id"): p for p in root.iter(f"{SVG}pattern")}
    kinds, colours = set(), set()
    for entry in entries:
        swatch = entry.find(f"{SVG}rect")
        pattern = patterns[swatch.get("fill")[5:-1]]
        kinds.add(pattern.get("data-style"))
        colours.add(swatch.get("stroke"))
        assert contrast_with_white(swatch.get("stroke")) >= 3
    assert len(kinds) == len(colours) == len(SERIES)


def test_text_is_dark_and_readable():
    root = chart(one_group(Bar("Before", 10)))
    assert root.get("fill") == "#0b0c0c"
    assert 14 <= float(root.get("font-size")) <= 16
    assert not [e for e in root.iter(f"{SVG}text") if e.get("fill") not in (None, "#0b0c0c")]


def test_empty_chart_says_no_answers_yet():
    root = parse(bar_chart("Nothing yet", [], SERIES, "empty"))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "empty-title empty-desc"
    assert root.find(f"{SVG}title").text == "Nothing yet"
    assert root.find(f"{SVG}desc").get("id") == "empty-desc"
    assert "No answers yet" in texts(root)
    assert not bars(root)


@pytest.mark.parametrize("percent", [-0.1, 100.01, math.nan, 250])
def test_percent_outside_0_to_100_is_refused(percent):
    with pytest.raises(ValueError):
        bar_chart("T", one_group(Bar("Before", percent)), SERIES, "c1")


def test_a_bar_checks_its_own_percent():
    with pytest.raises(ValueError):
        Bar("Before", 100.5)


@pytest.mark.parametrize("percent", [0, 100, 0.0, 99.99])
def test_percent_at_the_edges_is_accepted(percent):
    assert len(bars(chart(one_group(Bar("Before", percent))))) == 1


@pytest.mark.parametrize(
    ("groups", "series", "chart_id"),
    [
        (one_group(Bar("Later", 10)), SERIES, "c1"),  # unknown series
        (one_group(Bar("Before", 10), Bar("Before", 20)), SERIES, "c1"),  # repeated series
        (one_group(Bar("Before", 10)), SERIES, 'x" onload="alert(1)'),  # unsafe id
        (one_group(Bar("Before", 10)), [*SERIES, "E", "F"], "c1"),  # too many to tell apart
    ],
)
def test_inconsistent_input_is_refused(groups, series, chart_id):
    with pytest.raises(ValueError):
        bar_chart("T", groups, series, chart_id)
