# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._textfile.errors import RecordError
from ansible_collections.dsr.ops.plugins.module_utils._textfile.metrics import render_records
from ansible_collections.dsr.ops.plugins.module_utils._textfile.records import (
    FIGURES,
    build_families,
    metric_names,
    validate_labels,
    validate_prefix,
)

T = '2026-12-04T08:00:05+00:00'


def rec(check='backup', status='ok', time=T, environment='production', **figures):
    return {'time': time, 'environment': environment, 'check': check, 'status': status, 'figures': figures}


def samples(records, prefix='dsr', labels=None):
    families, _facts = build_families(records, prefix, labels)
    return {f.name: {tuple(sorted(dict(k).items())): v for k, v in f.samples.items()} for f in families}


def problems(records, **kwargs):
    with pytest.raises(RecordError) as info:
        build_families(records, **kwargs)
    return str(info.value)


def test_status_values_and_skipped_instead_of_a_status():
    out = samples([rec('a', 'ok'), rec('b', 'warning'), rec('c', 'critical'), rec('d', 'unknown'), rec('e', 'skipped')])
    status = {dict(k)['check']: v for k, v in out['dsr_check_status'].items()}
    assert status == {'a': 0, 'b': 1, 'c': 2, 'd': 3}
    assert {dict(k)['check']: v for k, v in out['dsr_check_skipped'].items()} == {'e': 1}
    assert len(out['dsr_check_last_run_timestamp_seconds']) == 5


def test_last_run_is_the_records_time():
    out = samples([rec(time='2026-12-04T08:00:05Z')])
    assert list(out['dsr_check_last_run_timestamp_seconds'].values()) == [1796371205.0]


def test_newest_wins_and_on_a_tie_the_later_one():
    older = rec(status='critical', time='2026-12-04T07:00:00+00:00', backup_size_bytes=1)
    newer = rec(status='ok', time='2026-12-04T16:00:00+08:00', backup_size_bytes=2)  # 08:00 UTC
    out = samples([newer, older])
    assert list(out['dsr_check_status'].values()) == [0]
    assert list(out['dsr_backup_size_bytes'].values()) == [2]
    tie = samples([rec(status='warning'), rec(status='critical')])
    assert list(tie['dsr_check_status'].values()) == [2]
    _families, facts = build_families([newer, older, rec(environment='staging')])
    assert facts['superseded'] == 1 and facts['environments'] == ['production', 'staging'] and facts['checks'] == 2


def test_a_newer_record_without_a_figure_drops_it():
    out = samples([rec(time='2026-12-04T07:00:00Z', backup_size_bytes=1), rec(time='2026-12-04T08:00:00Z')])
    assert 'dsr_backup_size_bytes' not in out


def test_figures_with_labels_and_conversions():
    points = [{'labels': {'endpoint': 'registry'}, 'value': 12}, {'labels': {'endpoint': 'api'}, 'value': 0.5}]
    out = samples([rec('certificates', 'warning', certificate_days_left=points),
                   rec('database', database_disk_full_days=41.5, error_count=3)], labels={'site': 'manila'})
    cert = out['dsr_certificate_time_left_seconds']
    assert cert[(('check', 'certificates'), ('endpoint', 'registry'), ('environment', 'production'), ('site', 'manila'))] == 12 * 86400
    assert cert[(('check', 'certificates'), ('endpoint', 'api'), ('environment', 'production'), ('site', 'manila'))] == 43200.0
    assert list(out['dsr_database_disk_full_in_seconds'].values()) == [41.5 * 86400]
    assert list(out['dsr_errors'].values()) == [3]


def test_unknown_figures_get_a_generic_help_naming_the_check():
    families, _facts = build_families([rec('custom', queue_length=4)])
    family = next(f for f in families if f.name == 'dsr_queue_length')
    assert family.help == 'Figure queue_length of a DSR check (custom).'


def test_prefix():
    assert 'ops_check_status' in samples([rec()], prefix='ops')


@pytest.mark.parametrize('value', [float('nan'), float('inf'), float('-inf')])
def test_nan_and_infinities_are_refused_naming_the_index_and_field(value):
    message = problems([rec('database'), rec(backup_size_bytes=value)])
    assert message.startswith('records[1].figures.backup_size_bytes must be a finite number, got %r' % value)
    message = problems([rec('certificates', certificate_days_left=[{'labels': {'endpoint': 'x'}, 'value': value}])])
    assert 'records[0].figures.certificate_days_left[0].value must be a finite number' in message


def test_a_conversion_that_overflows_is_refused():
    assert 'records[0].figures.certificate_days_left: 1e+308 times 86400 is not a finite number' in problems(
        [rec('certificates', certificate_days_left=1e308)])


@pytest.mark.parametrize('record, message', [
    ('not a dict', 'records[0] must be a dict, got str'),
    ({'time': T, 'environment': 'p', 'check': 'x'}, 'records[0] has no status'),
    (dict(rec(), extra=1), 'records[0] has unknown fields: extra (a check record has time, environment, run, check, status, summary, '
                           'figures, job_id, affected)'),
    (rec(time=1796371205), 'records[0].time must be an RFC 3339 time string, got int'),
    (rec(time='2026-13-01T00:00:00Z'), "records[0].time is not an RFC 3339 time: '2026-13-01T00:00:00Z'"),
    (rec(time='2026-12-04T08:00:05'), "records[0].time has no time zone: '2026-12-04T08:00:05' (add Z or an offset)"),
    (rec(environment=''), 'records[0] has no environment'),
    (rec(environment=3), "records[0].environment '3' is not an inventory host name (letters, digits, dots, dashes, underscores)"),
    (rec(environment='x' * 300), 'records[0].environment %r is not an inventory host name' % ('x' * 64)),
    (rec(environment='prod east'), "records[0].environment 'prod east' is not an inventory host name"),
    (rec(check='Backup'), "records[0].check 'Backup' is not a check name (lower case, digits, underscores, starting with a letter)"),
    (rec(check='x' * 64), 'records[0].check %r is not a check name' % ('x' * 64)),
    (rec(status='OK'), "records[0].status 'OK' is not one of ok, warning, critical, unknown, skipped"),
    (dict(rec(), run='night'), "records[0].run 'night' is not one of morning, midday, evening, adhoc"),
    (dict(rec(), job_id=[1]), "records[0].job_id '[1]' is not a job id (1 to 64 letters, digits and _.:-)"),
    (dict(rec(), figures=[1]), 'records[0].figures must be a dict'),
    (rec(backup_size_bytes='12'), 'records[0].figures.backup_size_bytes must be a number, got str'),
    (rec(backup_size_bytes=None), 'records[0].figures.backup_size_bytes must be a number, got NoneType'),
    (rec(backup_size_bytes=False), 'records[0].figures.backup_size_bytes must be a number, got bool'),
    (rec(**{'1x': 1}), "records[0].figures: '1x' is not a figure name (lower case, digits, underscores, starting with a letter)"),
    (rec(Latency=1), "records[0].figures: 'Latency' is not a figure name"),
    (rec(check_status=1), 'records[0].figures.check_status: the name is a name the module writes itself'),
    (rec(latency_ms=1), "records[0].figures.latency_ms: the name must not use the abbreviated unit 'ms'"),
    (rec(requests_total=1), 'records[0].figures.requests_total: the name must not end in _total'),
    (rec(x=[{'value': 1, 'extra': 2}]), 'records[0].figures.x[0] must be {"labels": {...}, "value": number}'),
    (rec(x=[{'labels': {'check': 'y'}, 'value': 1}]), "records[0].figures.x[0].labels: label check is reserved (every figure carries the "
                                                      "record's own): use another name"),
    (rec(x=[{'labels': {'a-b': 'y'}, 'value': 1}]), "records[0].figures.x[0].labels: 'a-b' is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, "
                                                    "not starting with __)"),
    (rec(x=[{'labels': {'a': None}, 'value': 1}]), 'records[0].figures.x[0].labels.a must be a string'),
    (rec(x=[{'labels': {'a': 1.5}, 'value': 1}]), 'records[0].figures.x[0].labels.a must be a string'),
    (rec(x=[{'labels': {'a': 'y'}, 'value': 1}, {'labels': {'a': 'y'}, 'value': 2}]), "records[0].figures.x[1]: the labels {'a': 'y'} appear twice"),
    (rec(error_count=1, errors=2), 'records[0].figures.e'),
])
def test_bad_records_name_the_index_and_field(record, message):
    assert message in problems([rec('other'), record]).replace('records[1]', 'records[0]')


def test_an_integer_label_value_is_exported_as_its_text():
    out = samples([rec(x=[{'labels': {'shard': 1}, 'value': 5}])])
    assert out['dsr_x'] == {(('check', 'backup'), ('environment', 'production'), ('shard', '1')): 5}


def test_a_record_with_several_problems_reports_its_first_and_every_other_record_is_still_checked():
    message = problems([rec(status='bad', backup_size_bytes='12'), rec(check='Bad'), rec(latency_ms=1)])
    assert message.startswith("records[0].status 'bad' is not one of")
    assert "records[1].check 'Bad' is not a check name" in message
    assert "records[2].figures.latency_ms: the name must not use the abbreviated unit 'ms'" in message
    assert 'records[0].figures' not in message


def test_a_figure_label_may_not_shadow_a_constant_label():
    assert 'records[0].figures.x: label site is also a constant label' in problems(
        [rec(x=[{'labels': {'site': 'a'}, 'value': 1}])], labels={'site': 'manila'})


def test_every_problem_is_reported_at_once_and_capped():
    message = problems([rec(status='bad')] * 30)
    assert message.count("status 'bad' is not one of") == 20 and message.endswith('and 10 more problems')


def test_records_must_be_a_list():
    assert problems({'a': 1}) == 'records must be a list of check records'


def test_the_last_run_is_the_time_as_given_in_utc_to_the_fraction_of_a_second():
    last_run = [list(samples([rec(time=time)])['dsr_check_last_run_timestamp_seconds'].values())[0]
                for time in ('2026-12-04T08:00:05Z', '2026-12-04T16:00:05+08:00', '2026-12-04T08:00:05.25+00:00')]
    assert last_run == [1796371205.0, 1796371205.0, 1796371205.25]
    assert problems([rec(time='')]) == 'records[0] has no time'


@pytest.mark.parametrize('prefix, ok', [('dsr', True), ('dsr_ops', True), ('DSR', False), ('dsr_', False), ('1dsr', False), ('ms', False),
                                        ('', False)])
def test_prefix_validation(prefix, ok):
    assert (validate_prefix(prefix) is None) == ok


def test_labels_validation():
    assert validate_labels({'site': 'manila'}) == []
    assert validate_labels({'environment': 'x', 'dc': 1, 'bad-name': 'y'}) == [
        'labels.bad-name must match the label name pattern [a-zA-Z_][a-zA-Z0-9_]*', 'labels.dc must have a string value; quote it',
        'labels.environment is set from each record; use another name']


def test_metric_names_lists_every_known_figure_and_the_fixed_families():
    names = metric_names()
    assert len(names) == len(FIGURES) + 3
    assert 'dsr_certificate_time_left_seconds' in names and 'dsr_certificate_days_left' not in names
    assert metric_names('ops')[0].startswith('ops_')


def test_the_output_is_deterministic_whatever_the_order():
    records = [rec('a', backup_size_bytes=1, environment='p'), rec('b', 'skipped', environment='s'),
               rec('certificates', certificate_days_left=[{'labels': {'endpoint': 'z'}, 'value': 1}, {'labels': {'endpoint': 'a'}, 'value': 2}])]
    text, _families, _facts = render_records(records)
    assert render_records(list(reversed(records)))[0] == text
    lines = text.splitlines()
    types = [line.split()[2] for line in lines if line.startswith('# TYPE')]
    assert types == sorted(types) and len(types) == len(set(types))
    assert text.index('endpoint="a"') < text.index('endpoint="z"')
