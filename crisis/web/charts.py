"""SVG chart geometry computed on the server: no chart library, no inline script or style.

The templates draw what these return (templates/_charts.html); colours are SVG
presentation attributes, which the Content-Security-Policy allows."""
from __future__ import annotations

from dataclasses import dataclass, field

PALETTE = ("#2f6fdf", "#c0392b", "#27ae60", "#8e44ad", "#e67e22", "#16a085", "#7f8c8d", "#d35400")
W, H = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 10, 22


@dataclass
class Line:
    name: str
    color: str
    points: str


@dataclass
class Rect:
    x: float
    y: float
    w: float
    h: float
    color: str
    title: str


@dataclass
class Marker:
    x: float
    label: str
    href: str = ""


@dataclass
class Chart:
    width: int = W
    height: int = H
    lines: list[Line] = field(default_factory=list)
    dashed: list[Line] = field(default_factory=list)
    rects: list[Rect] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    yticks: list[tuple[float, str]] = field(default_factory=list)
    xticks: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    label: str = ""

    @property
    def empty(self) -> bool:
        return not (self.lines or self.rects)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000):
        if value <= step:
            return float(step)
    return float(value)


def _fmt(v: float) -> str:
    return str(int(v)) if v == int(v) else f"{v:.1f}"


def _axes(chart: Chart, labels: list[str], top: float, x_of: object) -> None:
    plot_h = H - TOP - BOTTOM
    chart.yticks = [(TOP + plot_h - plot_h * f, _fmt(top * f)) for f in (0, 0.5, 1)]
    every = max(1, len(labels) // 6)
    chart.xticks = [(x_of(i), labels[i]) for i in range(0, len(labels), every)]  # type: ignore[operator]


def line_chart(labels: list[str], series: dict[str, list[float | None]], *, baseline: dict[str, float] | None = None,
               markers: list[tuple[int, str, str]] | None = None, label: str = "") -> Chart:
    """Lines over an index axis; `baseline` draws a dashed level per series, `markers`
    (index, label, link) vertical rules such as the moment an incident opened."""
    chart = Chart(label=label)
    if not labels:
        return chart
    values = [v for vs in series.values() for v in vs if v is not None] + list((baseline or {}).values())
    top = _nice_max(max(values, default=0))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    steps = max(len(labels) - 1, 1)

    def x(i: float) -> float:
        return round(LEFT + plot_w * i / steps, 1)

    def y(v: float) -> float:
        return round(TOP + plot_h - plot_h * v / top, 1)

    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    for name, vs in series.items():
        points = " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(vs) if v is not None)
        if points:
            chart.lines.append(Line(name, colors[name], points))
        chart.legend.append((name, colors[name]))
    for name, level in (baseline or {}).items():
        color = colors.get(name, "#7f8c8d")
        chart.dashed.append(Line(name, color, f"{x(0)},{y(level)} {x(steps)},{y(level)}"))
    chart.markers = [Marker(x(i), text, href) for i, text, href in (markers or []) if 0 <= i < len(labels)]
    _axes(chart, labels, top, x)
    return chart


def bar_chart(labels: list[str], series: dict[str, list[float | None]], *, label: str = "") -> Chart:
    """Stacked bars, one per label."""
    chart = Chart(label=label)
    if not labels:
        return chart
    totals = [sum(vs[i] or 0 for vs in series.values()) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = plot_w / len(labels)
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    for i, lab in enumerate(labels):
        base = 0.0
        for name, vs in series.items():
            v = vs[i] or 0
            if v:
                h = plot_h * v / top
                chart.rects.append(Rect(round(LEFT + slot * i + slot * 0.15, 1),
                                        round(TOP + plot_h - plot_h * base / top - h, 1),
                                        round(slot * 0.7, 1), round(h, 1), colors[name], f"{lab} {name}: {_fmt(v)}"))
                base += v
    chart.legend = [(name, colors[name]) for name in series]
    _axes(chart, labels, top, lambda i: round(LEFT + slot * i + slot / 2, 1))
    return chart
