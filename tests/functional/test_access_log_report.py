# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsr.ops.access_log_report run as a process, its figures compared with awk, grep, zcat and sort run here.

The logs come from tools/access_log_gen.py (rotated plain and gzip'd files, brute-force IPs,
a burst, malformed lines). awk reads the same files; a line is well-formed for awk when it
matches WELL_FORMED, the combined format written as an awk regex, which is the module's
definition. No PostgreSQL: these tests use ``run_module`` only.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / 'tools' / 'access_log_gen.py'

D = '[0-9]'
WELL_FORMED = ('^[^ ]+ - [^ ]* \\[%(d)s%(d)s\\/[A-Z][a-z][a-z]\\/%(d)s%(d)s%(d)s%(d)s:%(d)s%(d)s:%(d)s%(d)s:%(d)s%(d)s [+-]%(d)s%(d)s%(d)s%(d)s\\] '
               '"[^"]*" %(d)s%(d)s%(d)s [0-9]+ "[^"]*" "[^"]*"$') % {'d': D}
LOGIN = '$7 ~ /^\\/(api\\/auth\\/login|login)([\\/?;#]|$)/ && ($9 == 401 || $9 == 403)'
ENV = dict(os.environ, LC_ALL='C')


def sh(command):
    """Run a shell pipeline (C locale) and return its stdout."""
    return subprocess.run(['sh', '-c', command], check=True, capture_output=True, env=ENV, text=True).stdout


def cat(files):
    """A shell expression printing the files decompressed, as zcat -f does."""
    return 'zcat -f %s' % ' '.join("'%s'" % f for f in files)


def awk_counts(files, program):
    """{key: count} from ``awk program | sort | uniq -c`` over the files."""
    out = sh("%s | awk '%s' | sort | uniq -c" % (cat(files), program))
    counts = {}
    for line in out.splitlines():
        count, key = line.strip().split(' ', 1)
        counts[key] = int(count)
    return counts


def top(counts, n):
    """The n largest, ties by key (the module's order)."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].encode()))[:n]


@pytest.fixture(scope='module')
def logs(tmp_path_factory):
    """A host's logs: nginx/access.log, access.log.1, access.log.2.gz and dsr/*.log (about 12 MB)."""
    base = tmp_path_factory.mktemp('acl')
    out = subprocess.run([sys.executable, str(GENERATOR), '--out', str(base), '--size', '12MB', '--seed', '7'],
                         check=True, capture_output=True, text=True).stdout
    summary = json.loads(out)
    nginx = base / 'nginx'
    return {'base': base, 'files': sorted(str(p) for p in nginx.iterdir()), 'glob': str(nginx / 'access.log*'), 'summary': summary}


@pytest.fixture(scope='module')
def big(tmp_path_factory):
    """One 30 MB access log, plain and gzip'd, enough for the module to start its worker processes."""
    base = tmp_path_factory.mktemp('acl-big')
    plain = base / 'access.log'
    subprocess.run([sys.executable, str(GENERATOR), '--output', str(plain), '--size', '30MB', '--seed', '11'], check=True, capture_output=True)
    packed = base / 'access.log.1.gz'
    with open(plain, 'rb') as source, gzip.open(packed, 'wb', compresslevel=1) as target:
        shutil.copyfileobj(source, target)
    return {'plain': str(plain), 'gz': str(packed)}


def report(run_module, **args):
    args.setdefault('fail_on', 'never')
    result = run_module('access_log_report', args)
    assert 'exception' not in result, result.get('exception')
    return result


def test_figures_equal_awk_on_rotated_plain_and_gzip_files(run_module, logs):
    files = logs['files']
    result = report(run_module, paths=[logs['glob']], top=10)
    assert not result['failed'] if 'failed' in result else True
    assert result['changed'] is False
    assert [f['path'] for f in result['files']] == files
    assert [f['compressed'] for f in result['files']] == [False, False, True]

    total = int(sh('%s | wc -l' % cat(files)))
    clients = awk_counts(files, '$0 ~ /%s/ {print $1}' % WELL_FORMED)
    well_formed = sum(clients.values())
    assert result['lines'] == {'total': total, 'malformed': total - well_formed, 'outside_window': 0, 'counted': well_formed}
    assert result['lines']['malformed'] > 0
    assert result['distinct_ips'] == len(clients)
    assert [(e['ip'], e['requests']) for e in result['top_ips']] == top(clients, 10)

    statuses = awk_counts(files, '$0 ~ /%s/ {print $9}' % WELL_FORMED)
    assert result['status_codes'] == statuses
    assert result['unauthorized'] == statuses.get('401', 0)
    assert result['forbidden'] == statuses.get('403', 0)
    assert result['rate_limited'] == statuses.get('429', 0)
    assert result['server_errors'] == sum(v for k, v in statuses.items() if k.startswith('5'))
    assert sum(result['status_classes'].values()) == well_formed

    failed = awk_counts(files, '$0 ~ /%s/ && %s {print $1}' % (WELL_FORMED, LOGIN))
    assert result['failed_logins']['total'] == sum(failed.values())
    assert result['failed_logins']['ips'] == len(failed)
    assert [(e['ip'], e['failed_logins']) for e in result['failed_logins']['top']] == top(failed, 10)
    brute = set(logs['summary']['brute_force_ips'])
    assert brute <= {e['ip'] for e in result['flagged_ips']}

    pairs = awk_counts(files, '$0 ~ /%s/ {print $1, substr($4, 2, 17)}' % WELL_FORMED)
    peaks = {}
    for key, count in pairs.items():
        ip = key.split(' ')[0]
        peaks[ip] = max(peaks.get(ip, 0), count)
    assert result['peak_per_minute']['exact'] is True
    assert [(e['ip'], e['peak_per_minute']) for e in result['peak_per_minute']['top']] == top(peaks, 10)
    assert result['peak_per_minute']['top'][0]['ip'] == logs['summary']['burst_ip']
    by_ip = {e['ip']: e for e in result['top_ips']}
    for ip, entry in by_ip.items():
        assert entry['peak_per_minute'] == peaks[ip]
        assert entry['failed_logins'] == failed.get(ip, 0)


def test_malformed_lines_are_counted_and_sampled_never_fatal(run_module, tmp_path):
    log = tmp_path / 'access.log'
    good = '198.51.100.7 - - [16/Mar/2026:08:59:59 +0800] "POST /login HTTP/1.1" 401 12 "-" "curl/8.5.0"\n'
    log.write_bytes((good * 3 + '\n' + 'x' * 5000 + '\n' + good.replace(' 401 ', ' 4O1 ') + '\x16\x03\x01\x02\x00\n' + good).encode('latin-1')
                    + b'no newline at the end')
    result = report(run_module, paths=[str(log)])
    assert result['lines'] == {'total': 9, 'malformed': 5, 'outside_window': 0, 'counted': 4}
    assert int(sh("awk 'END {print NR}' '%s'" % log)) == 9
    assert result['failed_logins']['total'] == 4
    assert len(result['malformed_samples']) == 5
    long_one = [s for s in result['malformed_samples'] if s['truncated']]
    assert len(long_one) == 1 and len(long_one[0]['text']) == 200
    assert result['checks']['malformed']['status'] == 'warning'  # 5 of 9 is over 5 %


def test_every_line_malformed_means_the_format_is_wrong(run_module, logs):
    result = report(run_module, paths=[logs['files'][0]], log_format='$remote_addr $status [$time_local] "$request"')
    assert result['checks']['malformed']['status'] == 'unknown'
    assert 'check log_format' in result['checks']['malformed']['msg']
    assert result['status'] == 'unknown'


def test_fixed_window_equals_awk_on_one_day(run_module, logs):
    files = logs['files']
    result = report(run_module, paths=[logs['glob']], **{'from': '2026-03-15T00:00:00+08:00', 'to': '2026-03-16T00:00:00+08:00'})
    inside = 'substr($4, 2, 11) == "15/Mar/2026"'
    clients = awk_counts(files, '$0 ~ /%s/ && %s {print $1}' % (WELL_FORMED, inside))
    well_formed = sum(awk_counts(files, '$0 ~ /%s/ {print "x"}' % WELL_FORMED).values())
    assert result['lines']['counted'] == sum(clients.values())
    assert result['lines']['outside_window'] == well_formed - sum(clients.values())
    assert [(e['ip'], e['requests']) for e in result['top_ips']] == top(clients, 10)
    assert result['window'] == {'from': '2026-03-14T16:00:00Z', 'to': '2026-03-15T16:00:00Z', 'since_seconds': None}
    assert result['time_range'] == {'first': '2026-03-14T16:00:00Z', 'last': '2026-03-15T15:59:59Z'}
    failed = awk_counts(files, '$0 ~ /%s/ && %s && %s {print $1}' % (WELL_FORMED, inside, LOGIN))
    assert result['failed_logins']['total'] == sum(failed.values())


def test_since_counts_back_from_now(run_module, logs):
    files = logs['files']
    result = report(run_module, paths=[logs['glob']], since='6h', now='2026-03-16T09:00:00+08:00')
    after = 'substr($4, 2, 20) >= "16/Mar/2026:03:00:00"'
    clients = awk_counts(files, '$0 ~ /%s/ && %s {print $1}' % (WELL_FORMED, after))
    assert result['lines']['counted'] == sum(clients.values())
    assert [(e['ip'], e['requests']) for e in result['top_ips']] == top(clients, 10)
    assert result['window']['since_seconds'] == 21600.0
    empty = report(run_module, paths=[logs['glob']], since='1h', now='2027-01-01T00:00:00Z')
    assert empty['lines']['counted'] == 0
    assert empty['checks']['traffic']['status'] == 'warning'
    assert 'no request inside the window' in empty['checks']['traffic']['msg']


def test_application_log_patterns_equal_grep_and_zcat(run_module, logs):
    dsr = logs['base'] / 'dsr'
    plain = sorted(str(p) for p in dsr.glob('*.log'))
    expected = sum(int(sh("grep -c 'authentication failed' '%s' || true" % f)) for f in plain)
    expected += int(sh("zcat '%s' | grep -c 'authentication failed' || true" % (dsr / 'auth.log.1.gz')))
    insensitive = int(sh("zcat -f %s | grep -ci 'authentication failed' || true" % ' '.join(str(p) for p in dsr.iterdir())))
    result = report(run_module, paths=[logs['glob']], patterns=[
        {'name': 'authentication_failed', 'pattern': 'authentication failed', 'paths': [str(dsr / '*')], 'warning': 10},
        {'name': 'any_case', 'pattern': 'authentication failed', 'ignore_case': True, 'paths': [str(dsr / '*')]},
        {'name': 'failed_for_admin', 'pattern': r'failed for (admin|root) from', 'regex': True, 'paths': [str(dsr / '*.log')]},
    ])
    by_name = {p['name']: p for p in result['patterns']}
    assert by_name['authentication_failed']['count'] == expected > 0
    assert by_name['any_case']['count'] == insensitive > expected
    regex_expected = sum(int(sh("grep -cE 'failed for (admin|root) from' '%s' || true" % f)) for f in plain)
    assert by_name['failed_for_admin']['count'] == regex_expected
    assert result['checks']['pattern_authentication_failed']['status'] == 'warning'
    assert [f['compressed'] for f in by_name['authentication_failed']['files']] == [False, False, True]


def test_a_glob_without_files_is_unknown_never_zero_failures(run_module, logs, tmp_path):
    result = run_module('access_log_report', {'paths': [str(tmp_path / 'missing*.log')],
                                              'patterns': [{'name': 'auth', 'pattern': 'authentication failed', 'paths': [str(tmp_path / 'none*.log')]}]})
    assert result['failed'] is True
    assert result['status'] == 'unknown'
    assert result['checks']['files']['status'] == 'unknown'
    assert 'missing*.log matched no file' in result['msg']
    assert result['checks']['pattern_auth']['status'] == 'unknown'
    assert 'exception' not in result


def test_unreadable_and_corrupt_files_are_findings(run_module, logs, tmp_path):
    corrupt = tmp_path / 'access.log.3.gz'
    data = Path(logs['files'][2]).read_bytes()
    corrupt.write_bytes(data[:len(data) // 2])
    directory = tmp_path / 'adir'
    directory.mkdir()
    result = report(run_module, paths=[str(corrupt), str(directory), logs['files'][0]])
    assert result['checks']['files']['status'] == 'unknown'
    errors = {f['path']: f['error'] for f in result['files']}
    assert 'corrupt or truncated gzip data' in errors[str(corrupt)]
    assert 'is a directory' in errors[str(directory)]
    assert errors[logs['files'][0]] is None
    assert 'exception' not in result


def test_check_mode_reads_the_same(run_module, logs):
    normal = report(run_module, paths=[logs['glob']])
    checked = report(run_module, paths=[logs['glob']], _ansible_check_mode=True)
    assert checked['changed'] is False
    for key in ('lines', 'top_ips', 'status_codes', 'failed_logins', 'peak_per_minute', 'flagged_ips'):
        assert checked[key] == normal[key]


def test_worker_processes_give_the_same_figures_as_one_process(run_module, big):
    single = report(run_module, paths=[big['plain'], big['gz']], workers=1)
    double = report(run_module, paths=[big['plain'], big['gz']], workers=2)
    assert single['engine']['workers'] == 1 and double['engine']['workers'] == 2
    for key in ('lines', 'status_codes', 'failed_logins', 'distinct_ips'):
        assert double[key] == single[key], key
    assert [(e['ip'], e['requests']) for e in double['top_ips']] == [(e['ip'], e['requests']) for e in single['top_ips']]
    clients = awk_counts([big['plain'], big['gz']], '$0 ~ /%s/ {print $1}' % WELL_FORMED)
    assert [(e['ip'], e['requests']) for e in double['top_ips']] == top(clients, 10)
    # the same lines twice (plain and gzip'd) overlap in time: minutes are revisited, so the peaks are flagged as lower bounds
    assert double['peak_per_minute']['exact'] is False and double['peak_per_minute']['late_lines'] > 0
    alone = report(run_module, paths=[big['plain']], workers=2)
    assert alone['engine']['workers'] == 2
    assert alone['peak_per_minute']['exact'] is True
    pairs = awk_counts([big['plain']], '$0 ~ /%s/ {print $1, substr($4, 2, 17)}' % WELL_FORMED)
    peaks = {}
    for key, count in pairs.items():
        ip = key.split(' ')[0]
        peaks[ip] = max(peaks.get(ip, 0), count)
    assert [(e['ip'], e['peak_per_minute']) for e in alone['peak_per_minute']['top']] == top(peaks, 10)
    # over both copies each minute holds every request twice: the lower bounds lie between one copy's peak and that
    for entry in double['peak_per_minute']['top']:
        assert peaks[entry['ip']] <= entry['peak_per_minute'] <= 2 * peaks[entry['ip']]


@pytest.mark.parametrize('args, words', [
    ({'since': '24h', 'from': '2026-03-15T00:00:00Z'}, 'since cannot be combined with from/to'),
    ({'since': 'yesterday'}, 'since: cannot read'),
    ({'from': 'noon'}, 'from: cannot read'),
    ({'from': '2026-03-16T00:00:00Z', 'to': '2026-03-15T00:00:00Z'}, 'from must be before to'),
    ({'log_format': '$remote_addr [$time_local] $request'}, 'log_format has no $status'),
    ({'log_format': '$status $request'}, 'log_format has no $remote_addr'),
    ({'log_format': '$remote_addr $status', 'login_paths': [], 'since': '1h'}, 'since needs a time in the lines'),
    ({'failed_logins_warning': 50, 'failed_logins_critical': 10}, 'failed_logins: the critical threshold (10.0) must not be lower'),
    ({'login_path_regex': '(unclosed'}, 'login_path_regex'),
    ({'login_statuses': [40]}, 'login_statuses: 40 is not an HTTP status'),
    ({'top': 0}, 'top must be at least 1'),
    ({'patterns': [{'name': 'x', 'pattern': '(', 'regex': True, 'paths': ['/tmp/x']}]}, 'patterns[0].pattern is not a valid regular expression'),
    ({'patterns': [{'name': 'bad name', 'pattern': 'a', 'paths': ['/tmp/x']}]}, 'patterns[0].name must be letters'),
    ({'json_fields': {'client': 'ip'}}, 'json_fields applies to log_format=json only'),
])
def test_bad_options_are_named_with_the_fix(run_module, logs, args, words):
    result = run_module('access_log_report', dict({'paths': [logs['glob']]}, **args))
    assert result['failed'] is True
    assert result['msg'].startswith('invalid options: ')
    assert words in result['msg']
    assert 'exception' not in result


def test_json_lines(run_module, tmp_path):
    log = tmp_path / 'access.json'
    lines = []
    for second in range(30):
        lines.append(json.dumps({'remote_addr': '203.0.113.%d' % (second % 3), 'time_iso8601': '2026-03-16T08:00:%02d+08:00' % second,
                                 'request': 'POST /api/auth/login HTTP/1.1', 'status': 401 if second % 2 else 200}))
    lines.append('{"not": "complete"')
    log.write_text('\n'.join(lines) + '\n')
    result = report(run_module, paths=[str(log)], log_format='json', since='1h', now='2026-03-16T08:30:00+08:00')
    assert result['lines'] == {'total': 31, 'malformed': 1, 'outside_window': 0, 'counted': 30}
    assert result['failed_logins']['total'] == 15
    assert result['peak_per_minute']['top'][0]['peak_per_minute'] == 10
    assert result['unauthorized'] == 15
