# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsr.ops.ops_metrics run as a process: the file passes promtool, idempotence, check and diff mode, atomicity.

Atomicity is shown the way node_exporter would see it: a module stopped (SIGSTOP) while its
temporary file exists leaves the old file in place, complete; killed there (SIGKILL) it leaves
the old file and a temporary one that the next run removes; a write that fails (the file-size
limit, EFBIG) leaves the old file and no temporary file.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time

import pytest

from conftest import COLLECTION, run_promtool

NOW = '2026-12-04T08:00:05+00:00'


def check_metrics(path):
    with open(path, 'rb') as handle:
        return run_promtool('check', 'metrics', stdin=handle)


def record(check, status='ok', environment='production', time=NOW, **figures):
    return {'time': time, 'environment': environment, 'run': 'morning', 'check': check, 'status': status,
            'summary': '%s: fine' % status, 'figures': figures, 'job_id': '4711'}


# every figure the daily_ops role reports, in a realistic morning
MORNING = [
    record('database', database_size_bytes=1234567890, disk_used_ratio=0.42, connections=37, slow_queries=2,
           database_growth_bytes_per_day=10000000, database_disk_full_days=41.5),
    record('backup', backup_last_success_timestamp_seconds=1796349600, backup_size_bytes=987654321, backup_duration_seconds=842.5),
    record('certificates', 'warning', certificate_days_left=[{'labels': {'endpoint': 'registry'}, 'value': 12},
                                                             {'labels': {'endpoint': 'api "v2"\\ \nedge'}, 'value': 88}]),
    record('errors', error_count=3),
    record('metrics', http_5xx_ratio=0.004, p95_latency_seconds=0.82),
    record('dr_test', dr_test_last_timestamp_seconds=1795000000, dr_test_rpo_seconds=300, dr_test_rto_seconds=1800),
    record('kubernetes', 'critical', workloads_unhealthy=1),
    record('security', 'unknown'),
    record('slow_queries', 'skipped', environment='staging'),
]


def args(path, records=None, **extra):
    return dict({'path': str(path), 'records': MORNING if records is None else records}, **extra)


def temp_files(directory):
    return sorted(name for name in os.listdir(directory) if name.startswith('.dsr-tmp-'))


def test_the_file_passes_promtool_and_holds_every_figure(run_module, module_env, tmp_path):
    path = tmp_path / 'dsr.prom'
    result = run_module('ops_metrics', args(path, labels={'site': 'manila'}))
    assert result.get('failed') is not True, result
    assert result['changed'] is True
    proc = check_metrics(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = path.read_text(encoding='utf-8')
    assert 'dsr_check_status{check="kubernetes",environment="production",site="manila"} 2\n' in text
    assert 'dsr_check_status{check="security",environment="production",site="manila"} 3\n' in text
    assert 'dsr_check_skipped{check="slow_queries",environment="staging",site="manila"} 1\n' in text
    assert 'check="slow_queries",environment="staging",site="manila"} 1\n' in text
    assert 'dsr_check_status{check="slow_queries"' not in text
    assert 'dsr_certificate_time_left_seconds{check="certificates",endpoint="registry",environment="production",site="manila"} 1036800\n' in text
    assert 'endpoint="api \\"v2\\"\\\\ \\nedge"' in text
    assert 'dsr_database_disk_full_in_seconds{check="database",environment="production",site="manila"} 3585600\n' in text
    assert 'dsr_check_last_run_timestamp_seconds{check="backup",environment="production",site="manila"} 1796371205\n' in text
    assert oct(os.stat(path).st_mode & 0o777) == '0o644'
    assert result['metrics'] == sum(1 for line in text.splitlines() if line and not line.startswith('#'))
    assert result['families'] == sorted({line.split()[2] for line in text.splitlines() if line.startswith('# TYPE')})
    # every metric name written is one the backend lists (the dashboards and alerts are checked against that list)
    assert set(result['families']) <= set(_metric_names(module_env))
    assert 'wrote' in result['summary'] and '1 critical, 1 unknown, 1 warning, 1 skipped' in result['summary']


def _metric_names(module_env):
    proc = subprocess.run([sys.executable, '-c', 'from ansible_collections.dsr.ops.plugins.module_utils._textfile.records import metric_names;'
                           'print("\\n".join(metric_names()))'], capture_output=True, text=True, check=True, env=module_env)
    return proc.stdout.split()


def test_one_file_per_environment_and_a_run_over_some_leaves_the_others_alone(run_module, tmp_path):
    pattern = str(tmp_path / 'dsr_ops_{environment}_morning.prom')
    both = [dict(r, environment='prod-it') for r in MORNING[:3]] + [dict(r, environment='staging.it') for r in MORNING[3:5]]
    result = run_module('ops_metrics', args(pattern, both))
    assert result.get('failed') is not True, result
    prod, staging = tmp_path / 'dsr_ops_prod_it_morning.prom', tmp_path / 'dsr_ops_staging_it_morning.prom'
    assert [f['path'] for f in result['files']] == [str(prod), str(staging)] and result['changed'] is True
    for path, mine, other in ((prod, 'prod-it', 'staging.it'), (staging, 'staging.it', 'prod-it')):
        proc = check_metrics(path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        text = path.read_text(encoding='utf-8')
        assert 'environment="%s"' % mine in text and 'environment="%s"' % other not in text
    assert result['metrics'] == sum(f['metrics'] for f in result['files'])
    staging_before = staging.read_bytes(), os.stat(staging).st_mtime_ns
    # a later run over prod-it alone, one check worse: prod-it's file changes, staging's is not touched
    again = run_module('ops_metrics', args(pattern, [dict(MORNING[0], environment='prod-it', status='critical')]))
    assert [f['path'] for f in again['files']] == [str(prod)] and again['changed'] is True
    assert 'dsr_check_status{check="database",environment="prod-it"} 2\n' in prod.read_text(encoding='utf-8')
    assert (staging.read_bytes(), os.stat(staging).st_mtime_ns) == staging_before
    unchanged = run_module('ops_metrics', args(pattern, [dict(MORNING[0], environment='prod-it', status='critical')]))
    assert unchanged['changed'] is False and unchanged['files'][0]['changed'] is False


def test_environments_that_would_share_a_file_are_refused(run_module, tmp_path):
    pattern = str(tmp_path / 'dsr_{environment}.prom')
    clash = run_module('ops_metrics', args(pattern, [dict(MORNING[0], environment='prod-a'), dict(MORNING[0], environment='prod_a')]))
    assert clash['failed'] is True and 'prod-a and prod_a would share one file' in clash['msg'], clash['msg']
    in_dir = run_module('ops_metrics', args(str(tmp_path / '{environment}' / 'dsr.prom'), MORNING[:1]))
    assert in_dir['failed'] is True and 'may appear in the file name only' in in_dir['msg'], in_dir['msg']
    bad = run_module('ops_metrics', args(pattern, [MORNING[0], dict(MORNING[1], status='fine')]))
    assert bad['failed'] is True and 'records[1].status' in bad['msg'], bad['msg']
    assert not [name for name in os.listdir(tmp_path) if name.endswith('.prom')]


def test_check_mode_then_apply_then_idempotent(run_module, tmp_path):
    path = tmp_path / 'dsr.prom'
    checked = run_module('ops_metrics', args(path, _ansible_check_mode=True, _ansible_diff=True))
    assert checked['changed'] is True and not path.exists()
    assert checked['diff']['before'] == '' and 'dsr_check_status' in checked['diff']['after']
    assert 'would write' in checked['summary']
    assert os.listdir(tmp_path) == [n for n in os.listdir(tmp_path) if not n.startswith('.dsr-tmp-')]

    applied = run_module('ops_metrics', args(path))
    assert applied['changed'] is True
    first = path.stat()

    again_checked = run_module('ops_metrics', args(path, _ansible_check_mode=True))
    assert again_checked['changed'] is False
    again = run_module('ops_metrics', args(path, _ansible_diff=True))
    assert again['changed'] is False and 'unchanged' in again['summary']
    assert again['diff']['before'] == again['diff']['after']
    second = path.stat()
    assert (second.st_ino, second.st_mtime_ns) == (first.st_ino, first.st_mtime_ns), 'an unchanged file must not be rewritten'

    # the same records in another order: the same file
    shuffled = run_module('ops_metrics', args(path, list(reversed(MORNING))))
    assert shuffled['changed'] is False

    changed = run_module('ops_metrics', args(path, MORNING[:1] + [record('backup', 'critical')], _ansible_diff=True))
    assert changed['changed'] is True
    assert 'dsr_backup_size_bytes' in changed['diff']['before'] and 'dsr_backup_size_bytes' not in changed['diff']['after']
    assert path.stat().st_ino != first.st_ino, 'a changed file is replaced by rename, not rewritten in place'
    assert temp_files(tmp_path) == []


def test_a_wrong_mode_is_corrected(run_module, tmp_path):
    path = tmp_path / 'dsr.prom'
    run_module('ops_metrics', args(path))
    path.chmod(0o600)
    assert run_module('ops_metrics', args(path, _ansible_check_mode=True))['changed'] is True
    assert oct(path.stat().st_mode & 0o777) == '0o600'
    assert run_module('ops_metrics', args(path))['changed'] is True
    assert oct(path.stat().st_mode & 0o777) == '0o644'


def test_the_newest_record_wins(run_module, tmp_path):
    path = tmp_path / 'dsr.prom'
    records = [record('backup', 'ok', time='2026-12-04T08:00:00Z', backup_size_bytes=2),
               record('backup', 'critical', time='2026-12-03T18:00:00Z', backup_size_bytes=1)]
    result = run_module('ops_metrics', args(path, records))
    text = path.read_text(encoding='utf-8')
    assert 'dsr_check_status{check="backup",environment="production"} 0\n' in text
    assert 'dsr_backup_size_bytes{check="backup",environment="production"} 2\n' in text
    assert '1 older records superseded' in result['summary']


@pytest.mark.parametrize('bad, message', [
    ({'records': [record('backup', backup_size_bytes=float('nan'))]},
     'records[0].figures.backup_size_bytes must be a finite number, got nan'),
    ({'records': [record('database'), record('backup', backup_size_bytes=float('inf'))]},
     'records[1].figures.backup_size_bytes must be a finite number, got inf'),
    ({'records': [record('backup', status='fine')]}, "records[0].status 'fine' is not one of ok, warning, critical, unknown, skipped"),
    ({'records': [record('Backup!')]}, "records[0].check 'Backup!' is not a check name (lower case, digits, underscores"),
    ({'records': [record('backup', time='yesterday')]}, "records[0].time is not an RFC 3339 time: 'yesterday'"),
    ({'records': [record('backup', time='2026-12-04T08:00:00')]}, 'records[0].time has no time zone'),
    ({'records': [record('backup', backup_age_days=3)]}, "records[0].figures.backup_age_days: the name must use the base unit 'seconds'"),
    ({'records': [record('backup', **{'bad-name': 3})]}, "records[0].figures: 'bad-name' is not a figure name"),
    ({'records': [record('backup', backup_size_bytes='12')]}, 'records[0].figures.backup_size_bytes must be a number, got str'),
    ({'records': [record('backup', backup_size_bytes=True)]}, 'records[0].figures.backup_size_bytes must be a number, got bool'),
    ({'records': [dict(record('backup'), secret='x')]}, 'records[0] has unknown fields: secret (a check record has time, environment'),
    ({'records': [record('certificates', certificate_days_left=[{'labels': {'environment': 'x'}, 'value': 1}])]},
     'records[0].figures.certificate_days_left[0].labels: label environment is reserved'),
    ({'path': '/tmp/dsr.txt'}, 'path must end in .prom'),
    ({'path': '/nonexistent-dir-dsr/dsr.prom'}, 'the directory of /nonexistent-dir-dsr/dsr.prom does not exist'),
    ({'prefix': 'DSR'}, 'prefix must be lower-case'),
    ({'labels': {'check': 'x'}}, 'labels.check is set from each record'),
    ({'labels': {'__x': 'y'}}, 'labels.__x must not start with __'),
    ({'labels': {'dc': 1}}, 'labels.dc must have a string value; quote it'),
])
def test_bad_input_fails_by_the_option_and_writes_nothing(run_module, tmp_path, bad, message):
    path = tmp_path / 'dsr.prom'
    path.write_text('old\n', encoding='utf-8')
    result = run_module('ops_metrics', dict(args(path), **bad))
    assert result.get('failed') is True, result
    assert message in result['msg'], result['msg']
    assert 'Traceback' not in result['msg'] + result['_stderr']
    assert path.read_text(encoding='utf-8') == 'old\n'
    assert temp_files(tmp_path) == []


def _big_records(count):
    return [record('check_%d' % i, environment='env-%03d' % (i % 100), **{'figure_%d_bytes' % j: i * j for j in range(10)})
            for i in range(count)]


def _start(module_env, tmp_path, module_args):
    """The module as a process; its output goes to ``proc.output`` (a file: the result, which repeats every record,
    is larger than a pipe's buffer, and a module blocked on a full pipe would never end)."""
    stamp = time.monotonic_ns()
    args_file = tmp_path / ('args-%d.json' % stamp)
    args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': module_args}))
    output = tmp_path / ('output-%d.json' % stamp)
    with output.open('wb') as out:
        proc = subprocess.Popen([sys.executable, str(COLLECTION / 'plugins' / 'modules' / 'ops_metrics.py'), str(args_file)],
                                env=module_env, cwd=str(tmp_path), stdout=out, stderr=subprocess.DEVNULL)
    proc.output = output
    return proc


def test_a_stopped_or_killed_writer_leaves_the_old_file_whole(run_module, module_env, tmp_path):
    out = tmp_path / 'textfile'
    out.mkdir()
    path = out / 'dsr.prom'
    run_module('ops_metrics', args(path))
    old = path.read_bytes()
    caught = 0
    for _attempt in range(40):
        proc = _start(module_env, tmp_path, args(path, _big_records(6000)))
        try:
            deadline = time.monotonic() + 60
            while proc.poll() is None and not temp_files(out) and time.monotonic() < deadline:
                pass
            if proc.poll() is None and temp_files(out):
                # stopped while its temporary file exists: a scrape now reads the complete old file
                os.kill(proc.pid, signal.SIGSTOP)
                assert temp_files(out), 'the temporary file vanished while the writer was stopped'
                assert path.read_bytes() == old
                assert check_metrics(path).returncode == 0
                assert all(not name.endswith('.prom') for name in temp_files(out)), 'node_exporter would read the temporary file'
                os.kill(proc.pid, signal.SIGKILL)
                caught += 1
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if caught:
            break
        path.write_bytes(old)
    assert caught, 'never caught the writer with its temporary file (40 tries)'
    assert path.read_bytes() == old
    assert temp_files(out), 'SIGKILL leaves the temporary file; the next run is what removes it'
    result = run_module('ops_metrics', args(path))
    assert result['changed'] is False, 'the old content was intact'
    result = run_module('ops_metrics', args(path, MORNING[:2]))
    assert result['changed'] is True
    assert temp_files(out) == [], 'the next writing run removes the dead run\'s temporary file'
    assert check_metrics(path).returncode == 0


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(run_module, module_env, tmp_path):
    out = tmp_path / 'textfile'
    out.mkdir()
    path = out / 'dsr.prom'
    run_module('ops_metrics', args(path))
    old = path.read_bytes()
    limit = 64 * 1024
    assert len(old) < limit

    def small_files():
        # Python ignores SIGXFSZ, so a write past the limit fails with EFBIG, as a full disk fails with ENOSPC
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    args_file = tmp_path / 'args-small-files.json'
    args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args(path, _big_records(2000))}))
    # the result goes to a pipe, read while it is written: a file would be cut by the same limit
    proc = subprocess.Popen([sys.executable, str(COLLECTION / 'plugins' / 'modules' / 'ops_metrics.py'), str(args_file)],
                            env=module_env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=small_files)
    stdout, _stderr = proc.communicate(timeout=120)
    result = json.loads(stdout)
    assert result.get('failed') is True, result
    assert 'cannot write %s' % path in result['msg'] and 'the old file is left as it was' in result['msg']
    assert path.read_bytes() == old
    assert temp_files(out) == []
