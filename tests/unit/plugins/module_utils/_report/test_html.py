# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import html.parser
import re

from ansible_collections.dsr.ops.plugins.module_utils._report import data as report_data
from ansible_collections.dsr.ops.plugins.module_utils._report import html as report_html


class _Page(html.parser.HTMLParser):
    """Elements and text of a page, for assertions that do not depend on markup details."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements = []
        self.text = []
        self._stack = []

    def handle_starttag(self, tag, attrs):
        element = {'tag': tag, 'attrs': dict(attrs), 'text': ''}
        self.elements.append(element)
        if tag not in ('meta', 'line', 'polyline', 'br', 'input', 'link', 'img'):
            self._stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append({'tag': tag, 'attrs': dict(attrs), 'text': ''})

    def handle_endtag(self, tag):
        while self._stack:
            if self._stack.pop()['tag'] == tag:
                break

    def handle_data(self, data):
        self.text.append(data)
        for element in self._stack:
            element['text'] += data


def render(raw):
    page = _Page()
    text = report_html.render(report_data.parse(raw))
    page.feed(text)
    return text, page


def test_a_script_in_the_data_renders_as_text(raw):
    raw['today']['staging']['database']['summary'] = '<script>alert(1)</script>'
    raw['incidents'][0]['description'] = '"><img src=x onerror=alert(2)>'
    raw['environments'][1] = 'stag<i>ing'
    for section in ('today', 'days'):
        if section == 'today':
            raw['today']['stag<i>ing'] = raw['today'].pop('staging')
        else:
            for day in raw['days']:
                day['status']['stag<i>ing'] = day['status'].pop('staging')
    for series in raw['series']:
        if 'staging' in series['points']:
            series['points']['stag<i>ing'] = series['points'].pop('staging')
    text, page = render(raw)
    assert '<script' not in text and '<img' not in text and '<i>' not in text
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in text
    assert '<script>alert(1)</script>' in ''.join(page.text)
    assert not [e for e in page.elements if e['tag'] in ('script', 'img', 'i', 'iframe', 'link')]
    assert not [e for e in page.elements if any(name.startswith('on') for name in e['attrs'])]


def test_no_external_resource(raw):
    text, page = render(raw)
    assert not re.search(r'(?:src|href)\s*=', text)
    assert 'url(' not in text and '@import' not in text
    csp = [e['attrs']['content'] for e in page.elements if e['attrs'].get('http-equiv') == 'Content-Security-Policy']
    assert csp and csp[0].startswith("default-src 'none'")
    # the only namespace URI is SVG's, which is a name, not a fetch
    assert set(re.findall(r'https?://[^"\s<]+', text)) == {'http://www.w3.org/2000/svg'}


def _cells(page, table_id):
    inside = False
    cells = []
    for element in page.elements:
        if element['tag'] == 'table':
            inside = element['attrs'].get('id') == table_id
        elif inside and element['tag'] == 'td' and 'data-check' in element['attrs']:
            cells.append(element)
    return cells


def test_matrix_shows_no_data_for_a_missing_cell_never_ok(raw):
    _text, page = render(raw)
    today = {(c['attrs']['data-env'], c['attrs']['data-check']): c for c in _cells(page, 'matrix-today')}
    assert len(today) == 12
    metrics = today[('staging', 'metrics')]
    assert metrics['attrs']['data-status'] == 'no data'
    assert 'no data' in metrics['text'] and 'ok' not in metrics['text'].replace('no data', '')
    assert 's-nodata' in metrics['attrs']['class']
    assert today[('staging', 'database')]['attrs']['data-status'] == 'critical'
    assert 'critical' in today[('staging', 'database')]['text'] and 'replication lag 900 s' in today[('staging', 'database')]['text']
    days = _cells(page, 'matrix-days')
    assert len(days) == 2 * 6 * 7
    staging_errors = [c for c in days if c['attrs']['data-env'] == 'staging' and c['attrs']['data-check'] == 'errors']
    assert [c['attrs']['data-status'] for c in staging_errors] == ['no data'] * 7
    assert [c['attrs']['data-status'] for c in days if c['attrs']['data-env'] == 'staging' and c['attrs']['data-check'] == 'database'] \
        == ['ok'] * 6 + ['critical']


def test_charts_carry_every_value(raw):
    _text, page = render(raw)
    for series in raw['series']:
        points = [e for e in page.elements if e['tag'] in ('circle', 'rect') and 'data-value' in e['attrs']
                  and _series_of(page, e) == series['name']]
        got = {(p['attrs']['data-env'], p['attrs']['data-date']): float(p['attrs']['data-value']) for p in points}
        want = {(env, date): float(value) for env, pairs in series['points'].items() for date, value in pairs}
        assert got == want, series['name']
    bars = [e for e in page.elements if e['tag'] == 'svg' and e['attrs'].get('data-series') == 'error_count']
    assert bars[0]['attrs']['data-kind'] == 'bar'
    assert 'no data' in [f for f in page.elements if f['tag'] == 'figure' and f['attrs']['data-series'] == 'dr_test_rto_seconds'][0]['text']


def _series_of(page, element):
    index = page.elements.index(element)
    for candidate in reversed(page.elements[:index]):
        if candidate['tag'] == 'svg':
            return candidate['attrs'].get('data-series')
    return None


def test_human_units_in_titles_and_legend(raw):
    _text, page = render(raw)
    titles = [e['text'] for e in page.elements if e['tag'] == 'title']
    assert 'production 2026-11-28: 1.12 GiB' in titles
    assert 'production 2026-11-28: 10 min' in titles
    legend = [e['text'] for e in page.elements if e['tag'] == 'span' and 'last' in e['attrs'].get('class', '')]
    assert '1.17 GiB' in legend
    trends = {e['attrs']['data-trend']: e['text'] for e in page.elements if 'data-trend' in e['attrs'] and e['attrs']['data-env'] == 'production'}
    assert trends == {'database_growth_bytes_per_day': '9.54 MiB/day', 'database_disk_full_days': '41.5 days'}


def test_incident_notice_and_sections(raw):
    text, page = render(raw)
    notice = [e for e in page.elements if e['tag'] == 'pre'][0]['text']
    assert notice == raw['incidents'][0]['notice']
    assert 'Maintenance window: database vacuum' in text and 'history kept 400 days' in text


def test_empty_lists_render(raw):
    raw.update(days=[], series=[], incidents=[], upcoming=[], notes=[], trends={}, today={})
    text, _page = render(raw)
    assert 'No incident today.' in text and 'Nothing scheduled.' in text


def test_deterministic(raw):
    assert report_html.render(report_data.parse(raw)) == report_html.render(report_data.parse(raw))
