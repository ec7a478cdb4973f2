# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The report as ONE self-contained HTML file: inline CSS and SVG, no script, no external resource of any kind.

A Content-Security-Policy of ``default-src 'none'`` (inline styles only) makes a
browser refuse any fetch, should one ever slip in. Every string of the data is
escaped (:func:`text.esc`). Statuses are a colour AND a symbol and a word, and a
missing cell says "no data", never ok. The page is one column that the viewport
sizes; the wide matrices scroll inside their own box, never the page.
Machine-readable hooks for tests and scrapers: ``data-env``, ``data-check``,
``data-date``, ``data-status`` on matrix cells, ``data-series`` on charts and
``data-value`` on every chart point.
"""

from __future__ import annotations

from ansible_collections.dsr.ops.plugins.module_utils._report.data import day_cell, overall, today_cell, today_counts, utc
from ansible_collections.dsr.ops.plugins.module_utils._report.svg import chart, colour, dash
from ansible_collections.dsr.ops.plugins.module_utils._report.text import NO_DATA, SYMBOLS, esc, trend_title
from ansible_collections.dsr.ops.plugins.module_utils._report.units import human, human_trend

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'"

CSS = '''
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:#f5f6f8;color:#1b1f24;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:16px 20px 32px;overflow-wrap:anywhere}
h1{font-size:1.6em;margin:.2em 0 .1em}
h2{font-size:1.2em;margin:1.6em 0 .5em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
h3{font-size:1.02em;margin:0 0 .4em}
.meta{color:#57606a;margin:0}
.overall{display:inline-block;margin-top:.5em;padding:.2em .6em;border-radius:4px;font-weight:600}
.scroll{overflow-x:auto;max-width:100%;-webkit-overflow-scrolling:touch;border:1px solid #d0d7de;background:#fff;border-radius:6px}
table{border-collapse:collapse;background:#fff}
th,td{border:1px solid #d0d7de;padding:6px 8px;text-align:left;vertical-align:top}
thead th{background:#eef1f4;font-weight:600;white-space:nowrap}
tbody th{white-space:nowrap;font-weight:600}
.scroll table{border-style:hidden}
td.cell{white-space:nowrap;border-left-width:4px}
td.cell .sym{display:inline-block;width:1.1em;font-weight:700;text-align:center}
td.cell .summary{display:block;white-space:normal;min-width:10em;max-width:20em;font-size:.82em;color:#424a53}
td.cell .when{display:block;font-size:.75em;color:#57606a}
.s-ok{background:#e6f4ea;border-left-color:#1a7f37;color:#0f5323}
.s-warning{background:#fff5d6;border-left-color:#9a6700;color:#6b4700}
.s-critical{background:#ffe2e0;border-left-color:#cf222e;color:#8c111b}
.s-unknown{background:#efe8fb;border-left-color:#6639ba;color:#4a2888}
.s-skipped{background:#eef0f3;border-left-color:#6e7781;color:#424a53}
.s-nodata{background:repeating-linear-gradient(135deg,#f6f8fa 0 6px,#eaeef2 6px 12px);border-left-color:#afb8c1;color:#57606a;font-style:italic}
.counts{list-style:none;padding:0;margin:.6em 0 0;display:flex;flex-wrap:wrap;gap:6px}
.counts li{padding:.1em .5em;border-radius:4px;border-left:4px solid}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,520px),1fr));gap:16px}
figure.chart-box{margin:0;padding:10px 12px;background:#fff;border:1px solid #d0d7de;border-radius:6px;min-width:0}
figure.chart-box figcaption{font-weight:600;margin-bottom:4px}
svg.chart{display:block;width:100%;height:auto;font-family:inherit}
svg.chart .grid{stroke:#e6e9ed;stroke-width:1}
svg.chart .frame{stroke:#8c959f;stroke-width:1}
svg.chart .tick,svg.chart .label{font-size:12px;fill:#424a53}
svg.chart .line{fill:none;stroke-width:2.2}
svg.chart .point{stroke:#fff;stroke-width:1}
.legend{list-style:none;margin:6px 0 0;padding:0;font-size:.9em}
.legend li{margin:2px 0}
.swatch{display:inline-block;width:22px;height:0;border-top:3px solid;vertical-align:middle;margin-right:6px}
.nodata{color:#57606a;font-style:italic}
.incident{background:#fff;border:1px solid #d0d7de;border-left:4px solid #cf222e;border-radius:6px;padding:10px 12px;margin:0 0 12px}
.incident dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0 0 8px}
.incident dt{font-weight:600;color:#424a53}
.incident dd{margin:0;white-space:pre-wrap}
pre.notice{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;padding:8px;margin:0;
font:13px/1.4 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace}
footer{margin-top:2em;color:#57606a;font-size:.85em}
@media (max-width:640px){
main{padding:10px 10px 24px}
body{font-size:14px}
h1{font-size:1.35em}
svg.chart .tick,svg.chart .label{font-size:16px}
.incident dl{grid-template-columns:1fr}
}
'''


def _status_class(status):
    return 's-nodata' if status is None else 's-' + status


def _cell(status, env, check, date=None, summary=None, when=None):
    word = status or NO_DATA
    attrs = 'data-env="%s" data-check="%s" data-status="%s"' % (esc(env), esc(check), esc(word))
    if date is not None:
        attrs += ' data-date="%s"' % esc(date)
    body = '<span class="sym" aria-hidden="true">%s</span><span class="word">%s</span>' % (SYMBOLS[word], esc(word))
    if summary:
        body += '<span class="summary">%s</span>' % esc(summary)
    if when:
        body += '<span class="when">%s</span>' % esc(when)
    return '<td class="cell %s" %s>%s</td>' % (_status_class(status), attrs, body)


def _today(data):
    parts = ['<section id="today"><h2>Today, %s</h2>' % esc(data['date'])]
    if not data['environments'] or not data['checks']:
        return parts + ['<p class="nodata">no environments or checks in the data</p></section>']
    parts.append('<div class="scroll"><table class="matrix" id="matrix-today"><thead><tr><th scope="col">Environment</th>')
    parts.extend('<th scope="col">%s</th>' % esc(check) for check in data['checks'])
    parts.append('</tr></thead><tbody>')
    for env in data['environments']:
        parts.append('<tr><th scope="row">%s</th>' % esc(env))
        for check in data['checks']:
            record = today_cell(data, env, check)
            if record:
                parts.append(_cell(record['status'], env, check, summary=record['summary'],
                                   when=utc(record['time']) if record['time'] else None))
            else:
                parts.append(_cell(None, env, check))
        parts.append('</tr>')
    parts.append('</tbody></table></div></section>')
    return parts


def _days(data):
    parts = ['<section id="days"><h2>Last %d days</h2>' % len(data['days'])]
    if not data['days'] or not data['environments'] or not data['checks']:
        return parts + ['<p class="nodata">no data</p></section>']
    parts.append('<p class="meta">The worst status of each day.</p>')
    parts.append('<div class="scroll"><table class="matrix" id="matrix-days"><thead><tr><th scope="col">Environment</th>'
                 '<th scope="col">Check</th>')
    parts.extend('<th scope="col">%s</th>' % esc(day['date']) for day in data['days'])
    parts.append('</tr></thead><tbody>')
    for env in data['environments']:
        for position, check in enumerate(data['checks']):
            parts.append('<tr>')
            if position == 0:
                parts.append('<th scope="row" rowspan="%d">%s</th>' % (len(data['checks']), esc(env)))
            parts.append('<th scope="row">%s</th>' % esc(check))
            parts.extend(_cell(day_cell(day, env, check), env, check, date=day['date']) for day in data['days'])
            parts.append('</tr>')
    parts.append('</tbody></table></div></section>')
    return parts


def _legend(series, environments):
    items = []
    for index, env in enumerate(environments):
        pairs = series['points'].get(env) or []
        style = 'border-top-color:%s' % colour(index) + (';border-top-style:dashed' if dash(index) else '')
        if pairs:
            date, value = pairs[-1]
            text = '%s: <span class="last" data-env="%s">%s</span> on %s' % (
                esc(env), esc(env), esc(human(value, series['unit'])), esc(date))
        else:
            text = '%s: <span class="nodata">no data</span>' % esc(env)
        items.append('<li><span class="swatch" style="%s"></span>%s</li>' % (style, text))
    return '<ul class="legend">%s</ul>' % ''.join(items)


def _charts(data):
    parts = ['<section id="charts"><h2>Charts</h2>']
    if not data['series']:
        return parts + ['<p class="nodata">no series in the data</p></section>']
    parts.append('<div class="charts">')
    for series in data['series']:
        svg = chart(series, data['environments'])
        parts.append('<figure class="chart-box" data-series="%s"><figcaption>%s</figcaption>' % (esc(series['name']), esc(series['title'])))
        parts.append(svg if svg else '<p class="nodata">no data</p>')
        parts.append(_legend(series, data['environments']) + '</figure>')
    parts.append('</div></section>')
    return parts


def _trends(data):
    names = []
    for figures in data['trends'].values():
        names.extend(name for name in figures if name not in names)
    parts = ['<section id="trends"><h2>Trends and capacity</h2>']
    if not names:
        return parts + ['<p class="nodata">no trends in the data</p></section>']
    parts.append('<div class="scroll"><table id="trends-table"><thead><tr><th scope="col">Environment</th>')
    parts.extend('<th scope="col">%s</th>' % esc(trend_title(name)) for name in names)
    parts.append('</tr></thead><tbody>')
    for env in data['environments']:
        figures = data['trends'].get(env, {})
        parts.append('<tr><th scope="row">%s</th>' % esc(env))
        for name in names:
            value = figures.get(name)
            if name == 'database_disk_full_days' and value is None and figures.get('database_growth_bytes_per_day') is not None:
                shown = 'not growing'
            else:
                shown = human_trend(name, value) if value is not None else NO_DATA
            parts.append('<td data-env="%s" data-trend="%s">%s</td>' % (esc(env), esc(name), esc(shown)))
        parts.append('</tr>')
    parts.append('</tbody></table></div></section>')
    return parts


def _incidents(data):
    parts = ['<section id="incidents"><h2>Incidents (%d)</h2>' % len(data['incidents'])]
    if not data['incidents']:
        return parts + ['<p>No incident today.</p></section>']
    for incident in data['incidents']:
        parts.append('<article class="incident" data-incident="%s"><h3>%s &middot; %s &middot; %s &middot; %s</h3><dl>'
                     % (esc(incident['id']), esc(incident['id']), esc(incident['severity']), esc(incident['status']),
                        esc(incident['environment'])))
        rows = [('Started', utc(incident['started_at'])), ('Updated', utc(incident['updated_at']) if incident['updated_at'] else None),
                ('Description', incident['description']), ('Impact', incident['impact'])]
        parts.extend('<dt>%s</dt><dd>%s</dd>' % (label, esc(value)) for label, value in rows if value)
        parts.append('</dl>')
        if incident['notice']:
            parts.append('<details open><summary>Notice</summary><pre class="notice">%s</pre></details>' % esc(incident['notice']))
        parts.append('</article>')
    parts.append('</section>')
    return parts


def _upcoming(data):
    parts = ['<section id="upcoming"><h2>Upcoming</h2>']
    if not data['upcoming']:
        return parts + ['<p>Nothing scheduled.</p></section>']
    parts.append('<ul>')
    parts.extend('<li><strong>%s</strong>: %s</li>' % (esc(utc(item['when'])), esc(item['what'])) for item in data['upcoming'])
    parts.append('</ul></section>')
    return parts


def _notes(data):
    if not data['notes']:
        return []
    return ['<section id="notes"><h2>Notes</h2><ul>'] + ['<li>%s</li>' % esc(note) for note in data['notes']] + ['</ul></section>']


def render(data):
    """The HTML page of validated report data (str). Deterministic: the same data gives the same bytes."""
    status = overall(data)
    counts = ''.join('<li class="%s">%s %d %s</li>' % ('s-nodata' if name == NO_DATA else 's-' + name, SYMBOLS[name], count, esc(name))
                     for name, count in today_counts(data))
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" content="%s">' % esc(CSP),
        '<meta name="referrer" content="no-referrer">',
        '<title>%s %s</title>' % (esc(data['title']), esc(data['date'])),
        '<style>%s</style></head><body><main>' % CSS,
        '<header><h1>%s</h1>' % esc(data['title']),
        '<p class="meta">%s &middot; generated %s &middot; %d environment%s, %d check%s</p>' % (
            esc(data['date']), esc(utc(data['generated_at'])), len(data['environments']), '' if len(data['environments']) == 1 else 's',
            len(data['checks']), '' if len(data['checks']) == 1 else 's'),
        '<p class="overall %s" id="overall" data-status="%s">%s Today overall: %s</p>' % (
            _status_class(status), esc(status), SYMBOLS[status], esc(status)),
        '<ul class="counts">%s</ul></header>' % counts,
    ]
    for section in (_today, _days, _charts, _trends, _incidents, _upcoming, _notes):
        parts.extend(section(data))
    parts.append('<footer>dsr.ops.ops_report &middot; times in UTC &middot; a cell without a record says "no data"</footer>')
    parts.append('</main></body></html>\n')
    return ''.join(parts)
