"""ops_history against the harness's real PostgreSQL 15 and a real directory: record, report, trends, retention, failures."""

from __future__ import annotations

import datetime
import json
import os

import pytest

from conftest import connect, connection_args, drop_database, recreate_database

DB = 'dsr_ops_hist_test'
NOW = datetime.datetime(2026, 12, 4, 18, 0, tzinfo=datetime.timezone.utc)
MIB = 1024 * 1024


def stamp(moment):
    return moment.replace(microsecond=0).isoformat()


def week_of_records():
    """Seven days of morning checks for two environments: production's database grows 10 MiB a day exactly."""
    out = []
    for back in range(6, -1, -1):
        morning = (NOW - datetime.timedelta(days=back)).replace(hour=8, minute=0, second=5)
        out.append({'time': stamp(morning), 'environment': 'production', 'run': 'morning', 'check': 'database',
                    'status': 'warning' if back == 3 else 'ok', 'summary': 'day -%d' % back,
                    'figures': {'database_size_bytes': 1000 * MIB + (6 - back) * 10 * MIB, 'disk_used_ratio': 0.5 + (6 - back) * 0.01}})
        out.append({'time': stamp(morning + datetime.timedelta(seconds=30)), 'environment': 'production', 'run': 'morning', 'check': 'certificates',
                    'status': 'ok', 'summary': 'certs', 'figures': {'certificate_days_left': [
                        {'labels': {'endpoint': 'registry'}, 'value': 90 - (6 - back)}, {'labels': {'endpoint': 'portal'}, 'value': 40 - (6 - back)}]}})
        if back != 2:  # staging missed a day: its cell must be absent, not ok
            out.append({'time': stamp(morning), 'environment': 'staging', 'run': 'morning', 'check': 'database', 'status': 'ok',
                        'summary': 'staging', 'figures': {'database_size_bytes': 500 * MIB}})
        # two error readings a day: the day's value is their sum
        for hour, count in ((8, 3), (12, 4)):
            out.append({'time': stamp(morning.replace(hour=hour)), 'environment': 'production', 'run': 'morning' if hour == 8 else 'midday',
                        'check': 'errors', 'status': 'ok', 'summary': 'errors', 'figures': {'error_count': count + back}})
    return out


@pytest.fixture
def ops_db(harness):
    recreate_database(harness, DB, owner='postgres')
    yield DB
    drop_database(harness, DB)


def pg_args(harness, **extra):
    args = connection_args(harness, database=DB)
    args.update(extra)
    return args


def test_record_creates_the_table_then_report_builds_the_matrix_series_and_trends(harness, ops_db, run_module):
    records = week_of_records()
    first = run_module('ops_history', pg_args(harness, records=records, now=stamp(NOW)))
    assert first.get('failed') is not True, first.get('msg')
    assert first['created'] is True and first['recorded'] == len(records) and first['changed'] is True
    assert first['backend'] == {'kind': 'postgresql', 'where': 'dsr_ops.check_history in database %s' % DB}
    # 10 MiB a day exactly, and the disk ratio 0.01 a day from 0.56 to the 0.85 threshold: 29 days
    assert first['trends']['production']['database_growth_bytes_per_day'] == pytest.approx(10 * MIB, rel=1e-6)
    assert first['trends']['production']['database_disk_full_days'] == pytest.approx(29.0, abs=0.1)
    assert 'database_growth_bytes_per_day' not in first['trends']['staging'] or first['trends']['staging']['database_growth_bytes_per_day'] == 0
    conn = connect(harness, DB)
    with conn.cursor() as cur:
        cur.execute('SELECT count(*), count(DISTINCT environment) FROM dsr_ops.check_history')
        assert cur.fetchone() == (len(records), 2)
    conn.close()

    report = run_module('ops_history', pg_args(harness, mode='report', now=stamp(NOW)))
    assert report.get('failed') is not True, report.get('msg')
    data = report['report']
    assert report['changed'] is False and report['records_read'] == len(records)
    assert data['date'] == '2026-12-04' and data['environments'] == ['production', 'staging']
    assert data['checks'] == ['database', 'errors', 'certificates']
    assert [day['date'] for day in data['days']] == ['2026-11-28', '2026-11-29', '2026-11-30', '2026-12-01', '2026-12-02', '2026-12-03', '2026-12-04']
    assert data['days'][3]['status']['production']['database'] == 'warning'
    assert 'staging' not in data['days'][4]['status'], 'a day without a record must have no cell'
    assert data['days'][6]['status']['production']['errors'] == 'ok', 'two ok readings of a day are ok'
    assert data['today']['production']['database']['summary'] == 'day -0'
    series = {s['name']: s for s in data['series']}
    assert series['database_size_bytes']['points']['production'][0] == ['2026-11-28', 1000 * MIB]
    assert series['database_size_bytes']['points']['production'][-1] == ['2026-12-04', 1060 * MIB]
    assert len(series['database_size_bytes']['points']['staging']) == 6
    # errors: the sum of the day's two readings (3 + back) + (4 + back)
    assert series['error_count']['points']['production'] == [[d, 7 + 2 * back] for d, back in zip(
        [day['date'] for day in data['days']], range(6, -1, -1))]
    # certificates: the soonest endpoint
    assert series['certificate_days_left']['points']['production'][-1] == ['2026-12-04', 34]
    assert data['trends']['production']['database_growth_bytes_per_day'] == pytest.approx(10 * MIB, rel=1e-6)


def test_check_mode_writes_nothing_not_even_the_table(harness, ops_db, run_module):
    result = run_module('ops_history', dict(pg_args(harness, records=week_of_records()[:2], now=stamp(NOW)), _ansible_check_mode=True))
    assert result.get('failed') is not True, result.get('msg')
    assert result['changed'] is True and result['created'] is True and result['recorded'] == 0 and result['queries'] == []
    conn = connect(harness, DB)
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('dsr_ops.check_history')")
        assert cur.fetchone() == (None,)
    conn.close()


def test_retention_deletes_only_old_rows(harness, ops_db, run_module):
    old = {'time': stamp(NOW - datetime.timedelta(days=100)), 'environment': 'production', 'run': 'morning', 'check': 'database',
           'status': 'ok', 'summary': 'old', 'figures': {}}
    new = dict(old, time=stamp(NOW), summary='new')
    # recorded with keep_days=0 (keep everything), then pruned at 90 days
    assert run_module('ops_history', pg_args(harness, records=[old, new], keep_days=0, now=stamp(NOW)))['recorded'] == 2
    planned = run_module('ops_history', dict(pg_args(harness, mode='prune', now=stamp(NOW)), _ansible_check_mode=True))
    assert planned['pruned'] == 1 and planned['changed'] is True
    pruned = run_module('ops_history', pg_args(harness, mode='prune', now=stamp(NOW)))
    assert pruned['pruned'] == 1 and pruned['changed'] is True
    again = run_module('ops_history', pg_args(harness, mode='prune', now=stamp(NOW)))
    assert again['pruned'] == 0 and again['changed'] is False
    conn = connect(harness, DB)
    with conn.cursor() as cur:
        cur.execute('SELECT summary FROM dsr_ops.check_history')
        assert cur.fetchall() == [('new',)]
    conn.close()


def test_a_history_that_cannot_be_written_warns_and_does_not_fail(harness, run_module):
    args = dict(connection_args(harness, database=DB), port=1, records=week_of_records()[:1], now=stamp(NOW))
    warned = run_module('ops_history', args)
    assert warned.get('failed') is not True, warned.get('msg')
    assert warned['recorded'] == 0 and 'unable to connect' in warned['error']
    assert any('check history not recorded' in (w['event']['msg'] if isinstance(w, dict) else w) for w in warned['warnings'])
    assert harness['passwords']['postgres'] not in json.dumps(warned)
    failed = run_module('ops_history', dict(args, on_error='fail'))
    assert failed['failed'] is True and 'unable to connect' in failed['msg']
    assert harness['passwords']['postgres'] not in json.dumps(failed)


def test_bad_input_names_the_option(harness, run_module):
    records = week_of_records()[:2]
    records[1] = dict(records[1], status='fine')
    bad = run_module('ops_history', pg_args(harness, records=records))
    assert bad['failed'] is True and 'records[1].status' in bad['msg'] and 'fine' in bad['msg'], bad['msg']
    nan = run_module('ops_history', pg_args(harness, records=[dict(records[0], figures={'database_size_bytes': float('nan')})]))
    assert nan['failed'] is True and 'records[0].figures.database_size_bytes must be a finite number' in nan['msg'], nan['msg']
    registry = run_module('ops_history', dict(pg_args(harness), login_db='dsr_db'))
    assert registry['failed'] is True and "the registry's own database" in registry['msg']
    # several environments recorded at once: none of their registries may hold the history
    several = run_module('ops_history', dict(pg_args(harness), login_db='staging_db', registry_database=['dsr_db', 'staging_db']))
    assert several['failed'] is True and "login_db is staging_db, the registry's own database" in several['msg'], several['msg']
    directory = run_module('ops_history', {'backend': 'directory'})
    assert directory['failed'] is True and 'backend=directory needs directory' in directory['msg']
    assert 'Traceback' not in json.dumps(bad) + json.dumps(registry)


def test_directory_history_skips_untrusted_lines_and_prunes_only_its_own_files(run_module, tmp_path):
    directory = tmp_path / 'history'
    records = week_of_records()
    first = run_module('ops_history', {'backend': 'directory', 'directory': str(directory), 'records': records, 'now': stamp(NOW)})
    assert first.get('failed') is not True, first.get('msg')
    assert first['created'] is True and first['recorded'] == len(records)
    assert oct(directory.stat().st_mode & 0o777) == '0o700'
    files = sorted(p.name for p in directory.iterdir())
    assert files == ['history-2026-11-%d.jsonl' % d for d in (28, 29, 30)] + ['history-2026-12-0%d.jsonl' % d for d in (1, 2, 3, 4)]
    assert all(oct((directory / f).stat().st_mode & 0o777) == '0o600' for f in files)
    # untrusted content: garbage, a record with a bad status, a record from the "future" day file with a different day inside
    with open(directory / 'history-2026-12-04.jsonl', 'a', encoding='utf-8') as handle:
        handle.write('not json\n')
        handle.write(json.dumps(dict(records[0], status='<script>')) + '\n')
    report = run_module('ops_history', {'backend': 'directory', 'directory': str(directory), 'mode': 'report', 'now': stamp(NOW)})
    assert report['skipped_records'] == 2 and report['records_read'] == len(records)
    assert report['report']['days'][3]['status']['production']['database'] == 'warning'

    # files retention must never touch: a symlink and a look-alike name, both "old"
    outside = tmp_path / 'precious.txt'
    outside.write_text('keep me')
    os.symlink(outside, directory / 'history-2020-01-01.jsonl')
    (directory / 'history-2020-01-02.jsonl.bak').write_text('keep me too')
    pruned = run_module('ops_history', {'backend': 'directory', 'directory': str(directory), 'mode': 'prune', 'keep_days': 5, 'now': stamp(NOW)})
    assert pruned.get('failed') is not True, pruned.get('msg')
    # 5 days back from 2026-12-04T18:00 is 2026-11-29T18:00: the whole days before it are 11-28 (and the planted 2020 names)
    assert pruned['pruned_files'] == ['history-2026-11-28.jsonl'] and pruned['pruned'] == 1
    assert outside.read_text() == 'keep me' and os.path.islink(directory / 'history-2020-01-01.jsonl')
    assert (directory / 'history-2020-01-02.jsonl.bak').exists()
