# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ansible_collections.dsr.ops.plugins.module_utils._report import svg

NS = '{http://www.w3.org/2000/svg}'


def _series(unit='bytes', points=None):
    return {'name': 'database_size_bytes', 'title': 'Database <size>', 'unit': unit,
            'points': points if points is not None else {'a': [['2026-12-01', 1.5e9], ['2026-12-03', 1.75e9]], 'b': [['2026-12-02', 0.1]]}}


def test_line_chart_is_well_formed_with_every_value():
    root = ET.fromstring(svg.line_chart(_series(), ['a', 'b']))
    assert root.get('aria-label') == 'Database <size>'
    points = [(c.get('data-env'), c.get('data-date'), float(c.get('data-value'))) for c in root.iter(NS + 'circle')]
    assert points == [('a', '2026-12-01', 1.5e9), ('a', '2026-12-03', 1.75e9), ('b', '2026-12-02', 0.1)]
    titles = [t.text for t in root.iter(NS + 'title')]
    assert titles == ['a 2026-12-01: 1.4 GiB', 'a 2026-12-03: 1.63 GiB', 'b 2026-12-02: 0 B']
    ticks = [t.text for t in root.iter(NS + 'text') if t.get('class') == 'tick']
    assert 'date (UTC)' in [t.text for t in root.iter(NS + 'text')]
    assert any(label.endswith(' GiB') for label in ticks)
    # points lie inside the plot, later dates further right
    xs = [float(c.get('cx')) for c in root.iter(NS + 'circle')]
    assert svg.LEFT <= min(xs) and max(xs) <= svg.WIDTH - svg.RIGHT and xs[0] < xs[2] < xs[1]
    ys = [float(c.get('cy')) for c in root.iter(NS + 'circle')]
    assert all(svg.TOP <= y <= svg.HEIGHT - svg.BOTTOM for y in ys)


def test_bar_chart_starts_at_zero():
    series = _series('count', {'a': [['2026-12-01', 3], ['2026-12-02', 0]], 'b': [['2026-12-02', 7]]})
    root = ET.fromstring(svg.chart(series, ['a', 'b']))
    assert root.get('data-kind') == 'bar'
    bars = list(root.iter(NS + 'rect'))
    assert [int(b.get('data-value')) for b in bars] == [3, 0, 7]
    bottoms = {round(float(b.get('y')) + float(b.get('height'))) for b in bars if int(b.get('data-value'))}
    assert len(bottoms) == 1
    assert [t.text for t in root.iter(NS + 'text') if t.get('class') == 'tick'][0] == '0'


def test_no_points_gives_no_chart():
    assert svg.line_chart(_series(points={}), ['a']) is None


def test_one_point_and_equal_values():
    out = svg.line_chart(_series('seconds', {'a': [['2026-12-01', 300]]}), ['a'])
    ET.fromstring(out)
    assert not re.search(r'nan|inf', out)
