# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The report as Markdown for email (the text/plain part) and chat (the webhook).

Untrusted text is escaped (:func:`text.md`: no link, image, HTML or extra table
column can come from the data, so a chat client fetches nothing); notices keep
their lines in fenced blocks (:func:`text.md_block`). Charts become a table of
each series' first and last value per environment.
"""

from __future__ import annotations

from ansible_collections.dsr.ops.plugins.module_utils._report.data import day_cell, overall, today_cell, today_counts, utc
from ansible_collections.dsr.ops.plugins.module_utils._report.text import NO_DATA, SYMBOLS, md, md_block, trend_title
from ansible_collections.dsr.ops.plugins.module_utils._report.units import human, human_trend


def _status(status):
    word = status or NO_DATA
    return '%s %s' % (SYMBOLS[word], word)


def _table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(['---'] * len(header)) + '|']
    lines.extend('| ' + ' | '.join(row) + ' |' for row in rows)
    return lines


def _today(data):
    lines = ['## Today, %s' % md(data['date']), '']
    if not data['environments'] or not data['checks']:
        return lines + ['_no environments or checks in the data_', '']
    rows = [[md(env)] + [_status((today_cell(data, env, check) or {}).get('status')) for check in data['checks']]
            for env in data['environments']]
    lines.extend(_table(['Environment'] + [md(check) for check in data['checks']], rows))
    lines.append('')
    details = []
    for env in data['environments']:
        for check in data['checks']:
            record = today_cell(data, env, check)
            if record and record['status'] != 'ok' and record['summary']:
                details.append('- **%s / %s**: %s' % (md(env), md(check), md(record['summary'])))
    if details:
        lines.extend(['Not ok today:', ''] + details + [''])
    return lines


def _days(data):
    lines = ['## Last %d days (worst status of the day)' % len(data['days']), '']
    if not data['days'] or not data['environments'] or not data['checks']:
        return lines + ['_no data_', '']
    header = ['Environment', 'Check'] + [md(day['date'][5:]) for day in data['days']]
    rows = [[md(env), md(check)] + [_status(day_cell(day, env, check)) for day in data['days']]
            for env in data['environments'] for check in data['checks']]
    return lines + _table(header, rows) + ['']


def _series(data):
    lines = ['## Series', '']
    if not data['series']:
        return lines + ['_no series in the data_', '']
    rows = []
    for series in data['series']:
        for env in data['environments']:
            pairs = series['points'].get(env) or []
            if not pairs:
                rows.append([md(series['title']), md(env), NO_DATA, NO_DATA])
                continue
            rows.append([md(series['title']), md(env), '%s (%s)' % (md(human(pairs[0][1], series['unit'])), md(pairs[0][0])),
                         '%s (%s)' % (md(human(pairs[-1][1], series['unit'])), md(pairs[-1][0]))])
    return lines + _table(['Series', 'Environment', 'First', 'Last'], rows) + ['']


def _trends(data):
    names = []
    for figures in data['trends'].values():
        names.extend(name for name in figures if name not in names)
    if not names:
        return []
    rows = []
    for env in data['environments']:
        figures = data['trends'].get(env, {})
        row = [md(env)]
        for name in names:
            value = figures.get(name)
            if name == 'database_disk_full_days' and value is None and figures.get('database_growth_bytes_per_day') is not None:
                row.append('not growing')
            else:
                row.append(md(human_trend(name, value)) if value is not None else NO_DATA)
        rows.append(row)
    return ['## Trends and capacity', ''] + _table(['Environment'] + [md(trend_title(name)) for name in names], rows) + ['']


def _incidents(data):
    lines = ['## Incidents (%d)' % len(data['incidents']), '']
    if not data['incidents']:
        return lines + ['No incident today.', '']
    for incident in data['incidents']:
        lines.append('### %s - %s - %s - %s' % (md(incident['id']), md(incident['severity']), md(incident['status']),
                                                md(incident['environment'])))
        lines.append('')
        lines.append('- Started: %s' % (utc(incident['started_at'])))
        if incident['updated_at']:
            lines.append('- Updated: %s' % (utc(incident['updated_at'])))
        lines.append('- Description: %s' % md(incident['description']))
        if incident['impact']:
            lines.append('- Impact: %s' % md(incident['impact']))
        lines.append('')
        if incident['notice']:
            lines.extend([md_block(incident['notice']), ''])
    return lines


def render(data):
    """The Markdown text of validated report data (str, ends with a newline). Deterministic."""
    counts = ', '.join('%d %s' % (count, name) for name, count in today_counts(data))
    lines = ['# %s, %s' % (md(data['title']), md(data['date'])), '',
             '**Today overall: %s** (%s). Generated %s.' % (_status(overall(data)), counts or 'no cells', (utc(data['generated_at']))), '']
    for section in (_today, _days, _series, _trends, _incidents):
        lines.extend(section(data))
    lines.extend(['## Upcoming', ''])
    lines.extend(['- %s: %s' % ((utc(item['when'])), md(item['what'])) for item in data['upcoming']] or ['Nothing scheduled.'])
    lines.append('')
    if data['notes']:
        lines.extend(['## Notes', ''] + ['- %s' % md(note) for note in data['notes']] + [''])
    return '\n'.join(lines).rstrip('\n') + '\n'
