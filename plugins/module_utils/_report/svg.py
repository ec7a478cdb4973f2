# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Inline SVG charts for the report: a line chart (one line per environment) and a grouped bar chart.

Every point is an element carrying ``data-env``, ``data-date`` and ``data-value``
(the input number exactly, as JSON writes it) and a ``<title>`` with the value in
its human unit, so a person can hover it and a test can read the numbers back from
the DOM. Axes have tick labels in one human unit per chart. Environments keep their
colour and dash pattern across charts (by their position in ``environments``), so
lines are told apart without colour too. No script, no external resource.
"""

from __future__ import annotations

import datetime
import json

from ansible_collections.dsr.ops.plugins.module_utils._report.text import esc
from ansible_collections.dsr.ops.plugins.module_utils._report.units import human, nice_ticks, number, scale

WIDTH = 560
HEIGHT = 250
LEFT, RIGHT, TOP, BOTTOM = 70, 28, 28, 42
# Okabe-Ito, readable for the common colour-vision deficiencies
COLOURS = ('#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000', '#7f7f7f')
DASHES = ('', '6 3', '2 3', '8 3 2 3', '1 2', '10 4')


def colour(index):
    """The colour of the environment at ``index``."""
    return COLOURS[index % len(COLOURS)]


def dash(index):
    """The dash pattern of the environment at ``index`` ('' for a solid line)."""
    return DASHES[index % len(DASHES)]


def _fmt(value):
    return ('%.2f' % value).rstrip('0').rstrip('.')


def _tick_label(value, unit, suffix, divisor):
    if unit == 'count':
        return number(value)
    shown = number(value / divisor) if divisor != 1 else number(value)
    short = {'days': 'd'}.get(suffix, suffix)
    return '%s %s' % (shown, short) if short else shown


def _day(text):
    return datetime.date.fromisoformat(text).toordinal()


class _Frame:
    """The plot area and the scales from dates and values to SVG coordinates."""

    def __init__(self, dates, values, unit, from_zero):
        self.unit = unit
        self.first, self.last = min(dates), max(dates)
        low, high = min(values), max(values)
        if from_zero:
            low, high = min(low, 0), max(high, 0)
        # ticks are round numbers in the axis' display unit (0.5 GiB steps, not 0.47 GiB ones)
        self.suffix, self.divisor = scale(unit, max(abs(low), abs(high)))
        self.ticks = [tick * self.divisor for tick in nice_ticks(low / self.divisor, high / self.divisor)]
        self.low, self.high = self.ticks[0], self.ticks[-1]
        self.plot_w = WIDTH - LEFT - RIGHT
        self.plot_h = HEIGHT - TOP - BOTTOM

    def x(self, day):
        if self.last == self.first:
            return LEFT + self.plot_w / 2
        return LEFT + (day - self.first) * self.plot_w / (self.last - self.first)

    def y(self, value):
        span = (self.high - self.low) or 1
        return TOP + self.plot_h - (value - self.low) * self.plot_h / span

    def axes(self, dates, inset=0.0):
        parts = ['<g class="axis">']
        for tick in self.ticks:
            y = self.y(tick)
            parts.append('<line x1="%d" x2="%d" y1="%s" y2="%s" class="grid"/>' % (LEFT, WIDTH - RIGHT, _fmt(y), _fmt(y)))
            parts.append('<text x="%d" y="%s" text-anchor="end" class="tick">%s</text>'
                         % (LEFT - 6, _fmt(y + 4), esc(_tick_label(tick, self.unit, self.suffix, self.divisor))))
        shown = sorted(set(dates))
        if len(shown) > 8:
            step = -(-len(shown) // 7)
            shown = shown[::step] + ([shown[-1]] if shown[-1] not in shown[::step] else [])
        for day in shown:
            label = datetime.date.fromordinal(day).strftime('%m-%d')
            x = self.x(day) if not inset else self._bar_center(day, inset)
            parts.append('<text x="%s" y="%d" text-anchor="middle" class="tick">%s</text>' % (_fmt(x), HEIGHT - BOTTOM + 16, label))
        parts.append('<line x1="%d" x2="%d" y1="%d" y2="%d" class="frame"/>' % (LEFT, WIDTH - RIGHT, TOP + self.plot_h, TOP + self.plot_h))
        parts.append('<line x1="%d" x2="%d" y1="%d" y2="%d" class="frame"/>' % (LEFT, LEFT, TOP, TOP + self.plot_h))
        parts.append('<text x="%d" y="%d" text-anchor="middle" class="label">date (UTC)</text>' % (LEFT + self.plot_w // 2, HEIGHT - 6))
        unit_label = {'count': 'count', 'days': 'days', 'ratio': 'percent'}.get(self.unit, self.suffix)
        parts.append('<text x="6" y="14" class="label">%s</text>' % esc(unit_label))
        parts.append('</g>')
        return parts

    def _bar_center(self, day, inset):
        return self.bar_x(day, inset)

    def bar_x(self, day, slots):
        """The centre of the bar group of ``day`` when the axis holds ``slots`` days."""
        width = self.plot_w / slots
        return LEFT + (day - self.first + 0.5) * width


def _point_title(env, date, value, unit):
    return '<title>%s %s: %s</title>' % (esc(env), esc(date), esc(human(value, unit)))


def _data_attrs(env, date, value):
    return 'data-env="%s" data-date="%s" data-value="%s"' % (esc(env), esc(date), esc(json.dumps(value)))


def _open(series, kind):
    return ('<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" data-series="%s" data-kind="%s" '
            'xmlns="http://www.w3.org/2000/svg">' % (WIDTH, HEIGHT, esc(series['title']), esc(series['name']), kind))


def line_chart(series, environments):
    """SVG markup of a line chart of ``series`` (one line per environment with points), or None when it has no point."""
    points = {env: series['points'].get(env) or [] for env in environments}
    dates = [_day(date) for pairs in points.values() for date, _value in pairs]
    if not dates:
        return None
    values = [value for pairs in points.values() for _date, value in pairs]
    frame = _Frame(dates, values, series['unit'], from_zero=False)
    parts = [_open(series, 'line')] + frame.axes(dates)
    for index, env in enumerate(environments):
        pairs = points[env]
        if not pairs:
            continue
        coords = [(frame.x(_day(date)), frame.y(value)) for date, value in pairs]
        style = 'stroke:%s' % colour(index) + (';stroke-dasharray:%s' % dash(index) if dash(index) else '')
        parts.append('<g class="env" data-env="%s">' % esc(env))
        if len(coords) > 1:
            parts.append('<polyline class="line" style="%s" points="%s"/>'
                         % (style, ' '.join('%s,%s' % (_fmt(x), _fmt(y)) for x, y in coords)))
        for (date, value), (x, y) in zip(pairs, coords):
            parts.append('<circle class="point" cx="%s" cy="%s" r="3.5" style="fill:%s" %s>%s</circle>'
                         % (_fmt(x), _fmt(y), colour(index), _data_attrs(env, date, value), _point_title(env, date, value, series['unit'])))
        parts.append('</g>')
    parts.append('</svg>')
    return ''.join(parts)


def bar_chart(series, environments):
    """SVG markup of a grouped bar chart (per day, one bar per environment), or None when it has no point."""
    points = {env: series['points'].get(env) or [] for env in environments}
    dates = [_day(date) for pairs in points.values() for date, _value in pairs]
    if not dates:
        return None
    values = [value for pairs in points.values() for _date, value in pairs]
    frame = _Frame(dates, values, series['unit'], from_zero=True)
    slots = frame.last - frame.first + 1
    parts = [_open(series, 'bar')] + frame.axes(dates, inset=slots)
    with_points = [env for env in environments if points[env]]
    group = frame.plot_w / slots * 0.8
    bar_width = group / max(len(with_points), 1)
    zero = frame.y(0)
    for slot, env in enumerate(with_points):
        index = environments.index(env)
        parts.append('<g class="env" data-env="%s">' % esc(env))
        for date, value in points[env]:
            left = frame.bar_x(_day(date), slots) - group / 2 + slot * bar_width
            top, bottom = sorted((frame.y(value), zero))
            parts.append('<rect class="bar" x="%s" y="%s" width="%s" height="%s" style="fill:%s" %s>%s</rect>'
                         % (_fmt(left), _fmt(top), _fmt(max(bar_width - 1, 1)), _fmt(max(bottom - top, 0.5)), colour(index),
                            _data_attrs(env, date, value), _point_title(env, date, value, series['unit'])))
        parts.append('</g>')
    parts.append('</svg>')
    return ''.join(parts)


def chart(series, environments):
    """The chart that fits the series' unit: bars for counts per day, lines otherwise (None when it has no point)."""
    if series['unit'] == 'count':
        return bar_chart(series, environments)
    return line_chart(series, environments)
