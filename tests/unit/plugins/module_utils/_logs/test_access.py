# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import gzip
from collections import Counter

import pytest

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._logs import access, patterns, readers
from ansible_collections.dsr.ops.plugins.module_utils._logs.errors import LogFormatError
from ansible_collections.dsr.ops.plugins.module_utils._logs.formats import LineFormat

LINE = '%s - - [%s +0800] "%s %s HTTP/1.1" %d 512 "-" "curl/8.5.0"\n'


def line(ip='198.51.100.7', stamp='16/Mar/2026:08:00:00', method='GET', target='/', status=200):
    return LINE % (ip, stamp, method, target, status)


def scan(text, window=None, fmt=None, chunk=None):
    fmt = fmt or LineFormat()
    scanner = access.Scanner(fmt, window or access.Window())
    data = text.encode() if isinstance(text, str) else text
    scanner.begin_segment()
    pieces = [data] if chunk is None else list(access._split(data, chunk))  # pylint: disable=protected-access
    for piece in pieces:
        scanner.feed(piece, 0)
    return access.merge([scanner.result()])


def params(**extra):
    base = {'paths': [], 'top': 10, 'login_statuses': [401, 403], 'since': None, 'from': None, 'to': None, 'now': 0, 'workers': 1,
            'patterns': []}
    base.update(access.DEFAULTS)
    base.update(extra)
    return base


# -- formats -----------------------------------------------------------------------------------------

def test_combined_format_groups_and_rows():
    fmt = LineFormat()
    rows = fmt.fast.findall(line(target='/login?next=/x', status=401).encode() + b'garbage\n')
    assert len(rows) == 2
    row = rows[0]
    assert row[fmt.index['client']] == b'198.51.100.7'
    assert row[fmt.index['minute']] == b'16/Mar/2026:08:00'
    assert row[fmt.index['tz']] == b'+0800'
    assert row[fmt.index['login']] == b'/login'
    assert row[fmt.index['status']] == b'401'
    assert rows[1][fmt.index['client']] == b'' and rows[1][fmt.index['bad']] == b'garbage'


@pytest.mark.parametrize('target, login', [
    ('/login', True), ('/login?next=/h', True), ('/login/', True), ('/api/auth/login', True), ('/api/auth/login;x', True),
    ('/loginhelp', False), ('/api/auth/logout', False), ('/', False), ('/static/login', False),
])
def test_login_paths_are_whole_paths(target, login):
    fmt = LineFormat()
    row = fmt.strict.findall(line(target=target, method='POST').encode())[0]
    assert bool(row[fmt.index['login']]) is login


def test_login_path_regex_matches_the_target_start():
    fmt = LineFormat(login_paths=(), login_regex=r'/(api/)?auth/(login|token)\b')
    result = scan(line(target='/api/auth/token', status=401) + line(target='/auth/login', status=403) + line(target='/x/auth/login', status=401),
                  fmt=fmt)
    assert sum(result['logins'].values()) == 2


def test_custom_format_with_iso_time_and_other_variables():
    fmt = LineFormat('$remote_addr [$time_iso8601] "$request" $status $request_time "$http_user_agent" $upstream_addr')
    text = '10.0.0.1 [2026-03-16T08:00:05+08:00] "POST /login HTTP/1.1" 401 0.004 "curl" 10.1.1.1:8080\n'
    result = scan(text * 3 + '10.0.0.1 [2026-03-16T08:00:05+08:00] "GET /" 200 abc "curl" -\n', fmt=fmt)
    assert result['clients'] == Counter({b'10.0.0.1': 3})
    assert result['sources'][0]['malformed'] == 1
    assert result['peaks'] == {b'10.0.0.1': 3}
    assert fmt.minute_epoch(b'2026-03-16T08:00', b'+08:00') == 1773619200


@pytest.mark.parametrize('log_format, words', [
    ('$remote_addr $request', 'no $status'),
    ('$status $request', 'no $remote_addr'),
    ('$remote_addr $status', 'no $request'),
    ('$remote_addr\n$status $request', 'one line'),
])
def test_bad_formats_say_what_is_missing(log_format, words):
    with pytest.raises(LogFormatError, match=words.replace('$', r'\$')):
        LineFormat(log_format)


def test_format_without_time_counts_but_has_no_peaks():
    fmt = LineFormat('$remote_addr $status "$request"', login_paths=('/login',))
    result = scan('1.1.1.1 401 "POST /login HTTP/1.1"\n' * 2 + '2.2.2.2 200 "GET / HTTP/1.1"\nbad\n', fmt=fmt)
    assert result['clients'] == Counter({b'1.1.1.1': 2, b'2.2.2.2': 1})
    assert result['peaks'] == {}
    assert result['sources'][0]['malformed'] == 1


@pytest.mark.parametrize('minute, zone, expected', [
    (b'16/Mar/2026:08:00', b'+0800', 1773619200),
    (b'16/Mar/2026:00:00', b'+0000', 1773619200),
    (b'15/Mar/2026:19:00', b'-0500', 1773619200),
    (b'31/Feb/2026:00:00', b'+0000', None),
    (b'16/Foo/2026:00:00', b'+0000', None),
    (b'16/Mar/2026:24:00', b'+0000', None),
])
def test_minute_epochs(minute, zone, expected):
    assert LineFormat().minute_epoch(minute, zone) == expected


# -- scanning ----------------------------------------------------------------------------------------

def test_counts_statuses_logins_and_malformed():
    text = (line(status=200) * 3 + line(ip='203.0.113.9', method='POST', target='/api/auth/login', status=401) * 4
            + line(ip='203.0.113.9', method='POST', target='/api/auth/login', status=200) + 'junk line\n\n')
    result = scan(text)
    assert result['clients'] == Counter({b'198.51.100.7': 3, b'203.0.113.9': 5})
    assert result['statuses'] == Counter({b'200': 4, b'401': 4})
    assert result['logins'] == Counter({(b'203.0.113.9', b'401'): 4, (b'203.0.113.9', b'200'): 1})
    assert result['sources'][0] == {'lines': 10, 'malformed': 2, 'outside_window': 0}
    assert [s[1] for s in result['samples']] == [b'junk line', b'']


def test_a_truncated_line_never_swallows_the_next_one():
    # the fast regex reads quoted fields with [^"]*, which can run over a newline; the row count catches it
    text = line()[:40] + '\n' + line(ip='192.0.2.1') + line(ip='192.0.2.1', target='" 200 x')
    result = scan(text)
    assert result['sources'][0]['malformed'] == 2
    assert result['clients'] == Counter({b'192.0.2.1': 1})


def test_peaks_per_minute_across_chunks_and_segments():
    minute_a = ''.join(line(ip='192.0.2.1', stamp='16/Mar/2026:08:00:%02d' % s) for s in range(30))
    minute_b = ''.join(line(ip='192.0.2.2', stamp='16/Mar/2026:08:%02d:00' % m) for m in range(1, 10))
    later = ''.join(line(ip='192.0.2.3', stamp='16/Mar/2026:08:20:%02d' % s) for s in range(5))
    result = scan(minute_a + minute_b + later, chunk=512)
    assert result['peaks'] == {b'192.0.2.1': 30, b'192.0.2.3': 5}
    assert result['peak_exact'] is True
    # the same minute cut between two scanners (two workers' ranges): folded after the merge, still whole
    fmt = LineFormat()
    first, second = access.Scanner(fmt, access.Window()), access.Scanner(fmt, access.Window())
    half = minute_a.encode()
    cut = half.index(b'\n', len(half) // 2) + 1
    for scanner, data in ((first, half[:cut]), (second, half[cut:] + later.encode())):
        scanner.begin_segment()
        scanner.feed(data, 0)
        scanner.end_segment()
    merged = access.merge([first.result(), second.result()])
    assert merged['peaks'][b'192.0.2.1'] == 30 and merged['peak_exact'] is True


def test_lines_far_out_of_order_make_peaks_a_lower_bound():
    early = ''.join(line(ip='192.0.2.1', stamp='16/Mar/2026:08:00:%02d' % s) for s in range(3))
    late = ''.join(line(ip='192.0.2.9', stamp='16/Mar/2026:08:%02d:00' % m) for m in range(1, 12))
    lead = line(ip='192.0.2.8', stamp='16/Mar/2026:07:50:00')  # the segment's first minutes are kept whole: start earlier
    result = scan(lead + early + late + early, chunk=256)
    assert result['peak_exact'] is False
    assert result['late_lines'] == 3


def test_window_straddling_chunks_are_cut_to_the_second():
    text = ''.join(line(ip='192.0.2.%d' % (s % 3), stamp='16/Mar/2026:08:00:%02d' % s) for s in range(60))
    start = 1773619200 + 15  # 08:00:15 +0800
    result = scan(text, window=access.Window(start, start + 30))
    assert sum(result['clients'].values()) == 30
    assert result['sources'][0]['outside_window'] == 30
    whole = scan(text, window=access.Window(1773619200, 1773619260))
    assert whole['sources'][0]['outside_window'] == 0


def test_offset_change_inside_a_chunk_is_read_row_by_row():
    text = line(stamp='16/Mar/2026:08:00:00') + line(stamp='16/Mar/2026:00:00:30').replace('+0800', '+0000')
    result = scan(text)
    assert result['peaks'] == {b'198.51.100.7': 2}  # the same minute in two offsets


def test_json_lines_rows():
    fmt = LineFormat('json')
    text = ('{"remote_addr": "192.0.2.1", "time_iso8601": "2026-03-16T08:00:01+08:00", "request": "POST /login HTTP/1.1", "status": 401}\n'
            '{"remote_addr": "192.0.2.1", "time_iso8601": "2026-03-16T08:00:02Z", "request": "GET / HTTP/1.1", "status": "200"}\n'
            'not json\n{"remote_addr": 5, "time_iso8601": "x", "status": 200}\n')
    result = scan(text, fmt=fmt)
    assert result['clients'] == Counter({b'192.0.2.1': 2})
    assert result['sources'][0]['malformed'] == 2
    assert result['logins'] == Counter({(b'192.0.2.1', b'401'): 1})


# -- readers -----------------------------------------------------------------------------------------

def test_ranges_read_every_line_once(tmp_path):
    path = tmp_path / 'access.log'
    data = b''.join(b'line %d %s\n' % (n, b'x' * (n % 37)) for n in range(5000)) + b'last without newline'
    path.write_bytes(data)
    size = len(data)
    for pieces in (1, 2, 3, 7):
        ranges = readers.split_ranges(size, pieces)
        assert ranges[0][0] == 0 and ranges[-1][1] == size
        read = b''.join(chunk for start, end in ranges for chunk in readers.plain_range(str(path), start, end, size=1000))
        assert read == data + b'\n'


def test_gzip_is_told_by_its_magic_bytes(tmp_path):
    packed = tmp_path / 'access.log.1'
    with gzip.open(packed, 'wb') as handle:
        handle.write(line().encode() * 3)
    assert readers.is_gzip(str(packed))
    assert b''.join(readers.file_chunks(str(packed))) == line().encode() * 3


def test_expand_reports_globs_without_files(tmp_path):
    (tmp_path / 'a.log').write_text('x\n')
    files, unmatched = readers.expand([str(tmp_path / '*.log'), str(tmp_path / 'a.log'), str(tmp_path / 'none*')])
    assert files == [(str(tmp_path / 'a.log'), str(tmp_path / '*.log'))]
    assert unmatched == [str(tmp_path / 'none*')]


# -- patterns ----------------------------------------------------------------------------------------

@pytest.mark.parametrize('pattern, regex, ignore_case, expected', [
    ('authentication failed', False, False, 2),
    ('authentication failed', False, True, 3),
    (r'failed for \w+ from', True, False, 1),
    ('^ERROR', True, False, 2),
    (r'failed\s', True, False, 1),  # \s may not reach over the newline into the next line
])
def test_patterns_count_lines_like_grep(pattern, regex, ignore_case, expected):
    chunk = (b'ERROR authentication failed for admin from 1.2.3.4 authentication failed\n'
             b'INFO ok\nERROR Authentication Failed: token\nWARN authentication failed\n'
             b'x failed\nnext\n')
    assert patterns.LinePattern(pattern, regex, ignore_case).count(chunk) == expected


def test_report_checks_and_flags(tmp_path):
    path = tmp_path / 'access.log'
    brute = ''.join(line(ip='203.0.113.9', method='POST', target='/login', status=401, stamp='16/Mar/2026:08:%02d:00' % (m % 60))
                    for m in range(30))
    path.write_text(line() * 5 + brute)
    fmt = LineFormat()
    result = access.build_report(params(paths=[str(path), str(tmp_path / 'missing.log')]), fmt)
    assert result['status'] == 'unknown'
    assert result['checks']['files']['status'] == 'unknown'
    assert result['checks']['failed_logins']['status'] == 'warning'
    assert result['checks']['failed_logins']['value'] == 30
    assert result['flagged_ips'][0]['ip'] == '203.0.113.9'
    assert result['failed_logins']['top'] == [{'ip': '203.0.113.9', 'failed_logins': 30, 'requests': 30}]
    assert result['status_classes'] == {'1xx': 0, '2xx': 5, '3xx': 0, '4xx': 30, '5xx': 0}
    assert result['top_ips'][0] == {'ip': '203.0.113.9', 'requests': 30, 'failed_logins': 30, 'peak_per_minute': 1}
    assert result['peak_per_minute']['top'][0] == {'ip': '198.51.100.7', 'peak_per_minute': 5, 'requests': 5}


@pytest.mark.parametrize('text, expected', [
    ('2026-03-16T08:00:00+08:00', 1773619200.0),
    ('2026-03-16T00:00:00Z', 1773619200.0),
    ('2026-03-16T00:00:00', 1773619200.0),
    ('1773619200', 1773619200.0),
])
def test_parse_time(text, expected):
    assert access.parse_time(text, 'from') == expected


def test_parse_time_names_the_option():
    with pytest.raises(ValueError, match='^to: cannot read'):
        access.parse_time('tomorrow', 'to')


def test_gzip_without_isal_falls_back_to_zlib(tmp_path, monkeypatch):
    packed = tmp_path / 'access.log.2.gz'
    with gzip.open(packed, 'wb') as handle:
        handle.write(line().encode() * 5)
    monkeypatch.setitem(_deps._ERRORS, 'isal', 'Traceback: No module named isal')  # pylint: disable=protected-access
    assert readers.gzip_backend() == 'zlib'
    result = scan(b''.join(readers.file_chunks(str(packed))))
    assert result['clients'] == Counter({b'198.51.100.7': 5})
