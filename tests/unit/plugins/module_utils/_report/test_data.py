# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._report import data as report_data
from ansible_collections.dsr.ops.plugins.module_utils._report.errors import ReportDataError


def test_valid_data_is_normalized(raw):
    del raw['trends'], raw['upcoming'], raw['notes']
    parsed = report_data.parse(raw)
    assert parsed['trends'] == {} and parsed['upcoming'] == [] and parsed['notes'] == []
    assert parsed['today']['staging']['database'] == {'status': 'critical', 'summary': 'replication lag 900 s',
                                                      'time': '2026-12-04T08:00:05+00:00'}
    assert parsed['series'][0]['points']['production'][0] == ['2026-11-28', 1200000000]


def _mutations():
    def set_(path, value):
        def apply(doc):
            target = doc
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        return apply

    def delete(key):
        return lambda doc: doc.pop(key)

    return [
        (set_(['title'], 5), 'data.title: must be a string, got a number'),
        (delete('series'), 'data: missing required key series'),
        (set_(['colour'], 'red'), "data: unknown key 'colour'"),
        (set_(['date'], '04/12/2026'), 'data.date: must be a date YYYY-MM-DD'),
        (set_(['date'], '2026-02-30'), 'data.date: is not a calendar date'),
        (set_(['generated_at'], '2026-12-04T18:00:00'), 'data.generated_at: must be an RFC 3339 time with an offset'),
        (set_(['checks', 1], 'Data Base'), 'data.checks[1]: a check must match'),
        (set_(['environments', 1], 'production'), "data.environments[1]: environment 'production' is listed twice"),
        (set_(['today', 'staging', 'database', 'status'], 'fine'), 'data.today.staging.database.status: must be one of ok, warning'),
        (set_(['today', 'qa'], {}), "data.today: environment 'qa' is not listed in data.environments"),
        (set_(['today', 'staging', 'dns'], {'status': 'ok'}), "data.today.staging: check 'dns' is not listed in data.checks"),
        (set_(['days', 1, 'date'], '2026-11-28'), 'data.days[1].date: days must be in date order'),
        (set_(['days', 0, 'status', 'production', 'backup'], None), 'data.days[0].status.production.backup: must be one of'),
        (set_(['series', 0, 'unit'], 'furlongs'), 'data.series[0].unit: must be one of bytes, seconds, count, days, ratio'),
        (set_(['series', 0, 'points', 'production', 3], [1, 2]), 'data.series[0].points.production[3][0]: must be a string'),
        (set_(['series', 0, 'points', 'production', 3], ['2026-12-01', 'big']),
         "data.series[0].points.production[3][1]: must be a number, got a string 'big'"),
        (set_(['series', 0, 'points', 'production', 3], ['2026-12-01', True]), 'data.series[0].points.production[3][1]: must be a number'),
        (set_(['series', 0, 'points', 'production', 3], ['2026-12-01', float('nan')]),
         'data.series[0].points.production[3][1]: must be a finite number'),
        (set_(['series', 0, 'points', 'production', 3], '2026-12-01'), 'data.series[0].points.production[3]: must be a pair'),
        (set_(['series', 1, 'name'], 'database_size_bytes'), "data.series[1].name: series 'database_size_bytes' is listed twice"),
        (set_(['trends', 'production', 'database_disk_full_days'], 'soon'), 'data.trends.production.database_disk_full_days: must be a number'),
        (set_(['incidents', 0, 'severity'], 'P0'), 'data.incidents[0].severity: must be one of P1, P2, P3, P4'),
        (set_(['incidents', 0, 'description'], None), 'data.incidents[0].description: must be a string, got null'),
        (set_(['incidents', 0, 'notice'], 'x' * 70000), 'data.incidents[0].notice: is 70000 characters long'),
        (set_(['upcoming', 0, 'when'], 'Saturday'), 'data.upcoming[0].when: must be an RFC 3339 time'),
        (set_(['notes'], 'just one'), 'data.notes: must be a list, got a string'),
    ]


@pytest.mark.parametrize('mutate, message', _mutations())
def test_every_bad_field_is_named(raw, mutate, message):
    mutate(raw)
    with pytest.raises(ReportDataError) as info:
        report_data.parse(raw)
    assert str(info.value).startswith(message), str(info.value)


def test_not_an_object():
    with pytest.raises(ReportDataError, match='^data: must be an object, got a list$'):
        report_data.parse([])


def test_load_file_refuses_bad_json_and_nan(tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"title": ')
    with pytest.raises(ReportDataError, match='is not valid JSON'):
        report_data.load_file(str(bad))
    nan = tmp_path / 'nan.json'
    nan.write_text('{"value": NaN}')
    with pytest.raises(ReportDataError, match='NaN is not a JSON number'):
        report_data.load_file(str(nan))
    with pytest.raises(ReportDataError, match='cannot be read'):
        report_data.load_file(str(tmp_path / 'missing.json'))


def test_json_is_deterministic(raw):
    parsed = report_data.parse(raw)
    text = report_data.to_json(parsed)
    assert text == report_data.to_json(report_data.parse(json.loads(text)))
    assert text.endswith('\n')


def test_overall_and_counts_treat_a_missing_cell_as_no_data(raw):
    parsed = report_data.parse(raw)
    assert report_data.overall(parsed) == 'critical'
    assert report_data.today_counts(parsed) == [('critical', 1), ('warning', 1), ('ok', 7), ('no data', 3)]
    raw['today']['staging'] = {'kubernetes': {'status': 'ok'}}
    parsed = report_data.parse(raw)
    assert report_data.overall(parsed) == 'unknown'


def test_utc_converts_offsets():
    assert report_data.utc('2026-12-04T10:00:00+08:00') == '2026-12-04 02:00 UTC'
    assert report_data.utc('2026-12-04T10:00:00Z') == '2026-12-04 10:00 UTC'
