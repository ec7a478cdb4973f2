#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: access_log_report
short_description: Report on nginx access logs and application logs, the DSR daily security monitoring
version_added: 0.3.0
description:
  - Reads nginx access logs (plain and gzip'd rotated files, many per call) in one streaming pass and reports,
    inside a time window, the requests per client IP, status classes and codes, failed logins per IP and each
    IP's peak requests in one minute; IPs over the thresholds are flagged, and the checks speak the collection's
    status vocabulary (V(ok), V(warning), V(critical), V(unknown), V(skipped)).
  - Counts the lines of application logs that match patterns in the same call (the runbook's
    C(grep "authentication failed" /var/log/dsr/*.log | wc -l)), plain or gzip'd.
  - Replaces the runbook's Daily Security Monitoring commands C(awk '{print $1}' access.log | sort | uniq -c | sort -nr | head -10)
    and the authentication-failure grep, with figures a playbook can gate on.
  - "Equals awk: the requests per IP of well-formed lines are what C(awk '{print $1}') counts on the same lines; a line is
    well-formed when it matches the whole O(log_format). Other lines are counted as malformed, a few are sampled, and they
    never fail the task by themselves. See the collection's docs/security.md for the exact definition and how the tests
    compare with awk, grep and zcat."
  - A glob that matches no file, and a file that cannot be read or decompressed, make the C(files) check V(unknown)
    (failing under the default O(fail_on)), never a report of zero failures. The same holds for the files of a pattern.
  - Memory is bounded by the number of distinct client IPs and the (IP, minute) pairs of the last few minutes, not by
    the size of the logs. Files are parsed by forked processes on every available CPU (see O(workers)).
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.attributes
  - dsr.ops.attributes.INFO_MODULE
options:
  paths:
    description:
      - Access log files or globs, such as V(/var/log/nginx/access.log*) for the live file and its rotated
        (V(.1), V(.2.gz)...) ones. A file matched by two globs is read once.
      - A file is read as gzip when it starts with the gzip magic bytes, whatever its name.
    type: list
    elements: str
    default: [/var/log/nginx/access.log]
  log_format:
    description:
      - The format of the access log lines. V(combined) (nginx's predefined format), V(main) (combined plus
        C("$http_x_forwarded_for"), as nginx.conf ships it), V(json) (one JSON object per line, see O(json_fields)),
        or an nginx C(log_format) string such as
        C($remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time).
      - "In a format string: C($status) is required, so is the client address (O(client_variable)); C($time_local) or
        C($time_iso8601) give the time (needed for the window and the peak per minute), C($request) the login attempts.
        C($body_bytes_sent), C($bytes_sent), C($request_length), C($connection), C($connection_requests), C($pid) must be
        integers, C($request_time) and C($msec) decimals; any other variable is text up to the character that follows it
        in the format."
      - nginx's default escaping (C(escape=default)) is assumed, so a quoted value holds no raw double quote.
    type: str
    default: combined
  client_variable:
    description:
      - The variable of O(log_format) that holds the client address, such as V(http_x_forwarded_for) behind a proxy
        that logs it, or V(realip_remote_addr).
    type: str
    default: remote_addr
  json_fields:
    description:
      - With O(log_format=json), the keys of each object that hold the client address, the time (C($time_iso8601) or
        C($time_local) text), the request line and the status.
      - JSON lines are parsed line by line in Python, several times slower than a format string.
    type: dict
    suboptions:
      client:
        description: Key of the client address.
        type: str
        default: remote_addr
      time:
        description: Key of the time.
        type: str
        default: time_iso8601
      request:
        description: Key of the request line (C(POST /api/auth/login HTTP/1.1)).
        type: str
        default: request
      status:
        description: Key of the status.
        type: str
        default: status
  login_paths:
    description:
      - Request paths of the login endpoints. A request is a login attempt when its target equals one of them or
        goes on with C(/), C(?), C(;) or C(#) (so V(/login) covers C(/login?next=/households) but not C(/loginhelp)),
        whatever the method.
      - An empty list disables the failed-login check (it is then V(skipped)).
    type: list
    elements: str
    default: [/api/auth/login, /login]
  login_path_regex:
    description:
      - Instead of O(login_paths), a Python regular expression that must match at the start of the request target,
        such as V(/(api/)?auth/(login|token)\b).
      - Slower than O(login_paths) (a Python step per request).
    type: str
  login_statuses:
    description: The statuses of a login attempt that count as a failed login.
    type: list
    elements: int
    default: [401, 403]
  since:
    description:
      - The window is the last O(since) before O(now), such as V(24h) (the runbook's daily check) or V(90m); seconds or a
        number with a unit s, m, h, d or w.
      - Mutually exclusive with O(from) and O(to). Without any of them every line counts.
    type: str
  from:
    description:
      - Start of a fixed window (included), ISO 8601 such as V(2026-03-16T00:00:00+08:00) (UTC when no offset is given),
        or seconds since the epoch.
    type: str
  to:
    description: End of a fixed window (excluded), in the form of O(from).
    type: str
  now:
    description:
      - The time O(since) counts back from, in the form of O(from). Defaults to the current time; set it to report on a
        past day or in tests.
    type: str
  top:
    description: How many IPs each ranking returns (RV(top_ips), C(top) of RV(failed_logins) and of RV(peak_per_minute)).
    type: int
    default: 10
  failed_logins_warning:
    description: Failed logins of one IP in the window above which the IP is flagged and C(failed_logins) is V(warning).
    type: float
    default: 20
  failed_logins_critical:
    description: Failed logins of one IP above which C(failed_logins) is V(critical).
    type: float
    default: 100
  requests_per_minute_warning:
    description: Requests of one IP within one minute (its peak) above which the IP is flagged and C(request_rate) is V(warning).
    type: float
    default: 300
  requests_per_minute_critical:
    description: Requests of one IP within one minute above which C(request_rate) is V(critical).
    type: float
    default: 1200
  malformed_percent_warning:
    description:
      - Percent of malformed lines above which C(malformed) is V(warning). Malformed lines never fail the task
        otherwise; when no line at all is well-formed the check is V(unknown) (the O(log_format) is probably wrong).
    type: float
    default: 5
  malformed_percent_critical:
    description: Percent of malformed lines above which C(malformed) is V(critical). Unset means none.
    type: float
  patterns:
    description:
      - Application-log patterns to count, each a check C(pattern_<name>) in RV(checks). A line counts once however
        often it matches (C(grep -c)).
      - Every line of the files counts, the window does not apply (choose the files with the globs).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the pattern (letters, digits, underscores), in RV(patterns) and as check C(pattern_<name>).
        type: str
        required: true
      pattern:
        description: The text to find, a fixed string unless O(patterns[].regex) is set.
        type: str
        required: true
      regex:
        description: Read O(patterns[].pattern) as a Python regular expression (C(^) and C($) anchor at line ends).
        type: bool
        default: false
      ignore_case:
        description: Match without regard to case.
        type: bool
        default: false
      paths:
        description: Files or globs to search, plain or gzip'd, such as V(/var/log/dsr/*.log).
        type: list
        elements: str
        required: true
      warning:
        description: Matching lines above which the check is V(warning). Unset means none.
        type: float
      critical:
        description: Matching lines above which the check is V(critical). Unset means none.
        type: float
  workers:
    description:
      - Processes that parse the access logs. V(0) uses every CPU the module may run on (at most 8). Inputs under
        about 24 MB are parsed in the module's own process whatever this is.
    type: int
    default: 0
  fail_on:
    description:
      - When the task fails. V(critical) fails on an overall V(critical) or V(unknown) (a missing or unreadable file);
        V(warning) on V(warning) too; V(never) only reports.
    type: str
    choices: [critical, warning, never]
    default: critical
notes:
  - Read-only; RV(ignore:changed) is always false and check mode runs the same read.
  - Times in the logs are read with their own offset (nginx writes local time); the window and RV(time_range) are in UTC.
  - Peaks per minute are exact when the log is in time order give or take two minutes (nginx writes lines as requests
    end); otherwise C(exact) of RV(peak_per_minute) is false and the peaks are lower bounds.
  - python-isal (C(isal) on PyPI), when installed, decompresses gzip'd files about three times faster than zlib.
seealso:
  - module: dsr.ops.metrics_check
  - name: nginx log_format
    description: The directive whose format strings O(log_format) reads.
    link: https://nginx.org/en/docs/http/ngx_http_log_module.html#log_format
'''

EXAMPLES = r'''
- name: Daily security monitoring, the last 24 hours of access logs and the authentication failures
  dsr.ops.access_log_report:
    paths:
      - /var/log/nginx/access.log*
    since: 24h
    patterns:
      - name: authentication_failed
        pattern: authentication failed
        paths: [/var/log/dsr/*.log]
        warning: 50
        critical: 500
  register: security

- name: Show the flagged IPs
  ansible.builtin.debug:
    msg: "{{ security.flagged_ips | map(attribute='ip') | list }}"

- name: Yesterday (Manila time) on a custom format behind a load balancer, report only
  dsr.ops.access_log_report:
    paths: [/var/log/nginx/dsr-api.access.log*]
    log_format: '$http_x_forwarded_for - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time'
    client_variable: http_x_forwarded_for
    from: "2026-03-15T00:00:00+08:00"
    to: "2026-03-16T00:00:00+08:00"
    login_path_regex: '/(api/)?auth/(login|token)\b'
    failed_logins_warning: 10
    requests_per_minute_warning: 120
    fail_on: never
  register: yesterday
'''

RETURN = r'''
status:
  description: Overall status, the worst of the checks (a V(skipped) check does not count).
  returned: always
  type: str
  sample: warning
summary:
  description: One line naming the overall status and every check that is not V(ok).
  returned: always
  type: str
  sample: "warning: failed_logins=warning"
failed_checks:
  description: Names of the checks whose status made the task fail under O(fail_on).
  returned: always
  type: list
  elements: str
  sample: []
checks:
  description:
    - One entry per check, by name, each with C(status), C(msg) and its figures.
    - C(files) (globs without a match, unreadable or corrupt files), C(malformed) (C(value) in percent, C(lines)),
      C(traffic) (C(requests); V(warning) when the window holds no request), C(failed_logins) and C(request_rate)
      (C(value) and C(worst_ip) of the worst IP, C(warning), C(critical), C(ips_over_warning), C(ips_over_critical)),
      and C(pattern_<name>) per pattern (C(value), the matching lines).
  returned: always
  type: dict
  sample:
    failed_logins: {status: critical, msg: "worst 185.220.103.9: 937 failed logins (warning > 20, critical > 100); 4 IPs over the warning
      threshold, 3 over the critical one", value: 937, worst_ip: 185.220.103.9, warning: 20.0, critical: 100.0, ips_over_warning: 4,
      ips_over_critical: 3}
files:
  description:
    - The access log files read, each with C(path), the C(glob) that matched it, C(compressed), C(bytes) (on disk),
      C(lines), C(malformed), C(outside_window) and C(error) (null, or why it could not be read; the counts then stop
      where reading stopped).
  returned: always
  type: list
  elements: dict
  sample: [{path: /var/log/nginx/access.log.2.gz, glob: /var/log/nginx/access.log*, compressed: true, bytes: 2214784, lines: 118483,
            malformed: 58, outside_window: 0, error: null}]
unmatched_globs:
  description: Entries of O(paths) that matched no file.
  returned: always
  type: list
  elements: str
  sample: []
window:
  description: The window, C(from) (included) and C(to) (excluded) in UTC ISO 8601 (null for an open side), and C(since_seconds).
  returned: always
  type: dict
  sample: {from: "2026-03-15T01:00:00Z", to: null, since_seconds: 86400.0}
time_range:
  description: The first and last minute of the counted requests (UTC), null when none was counted or the format has no time.
  returned: always
  type: dict
  sample: {first: "2026-03-15T01:00:00Z", last: "2026-03-16T00:59:59Z"}
lines:
  description:
    - Lines read (C(total), as awk counts them, a last line without newline included), C(malformed), C(outside_window)
      and C(counted) (the well-formed lines inside the window, which every other figure is about).
  returned: always
  type: dict
  sample: {total: 1184831, malformed: 586, outside_window: 0, counted: 1184245}
malformed_samples:
  description: Up to 5 malformed lines, each with C(path), C(text) (at most 200 characters) and C(truncated).
  returned: always
  type: list
  elements: dict
  sample: [{path: /var/log/nginx/access.log, text: '203.0.113.7 - - [16/Mar/2026:08:59:59 +0800] "GET /api/v1/househ', truncated: false}]
distinct_ips:
  description: Client IPs with at least one counted request.
  returned: always
  type: int
  sample: 48217
top_ips:
  description:
    - The O(top) IPs with the most requests (the runbook's C(sort | uniq -c | sort -nr | head)), most first (ties by IP),
      each with C(ip), C(requests), C(failed_logins) and C(peak_per_minute) (null when the format has no time).
  returned: always
  type: list
  elements: dict
  sample: [{ip: 120.71.52.174, requests: 44394, failed_logins: 26, peak_per_minute: 23}]
status_classes:
  description: Counted requests per status class, C(1xx) to C(5xx) (always all five keys).
  returned: always
  type: dict
  sample: {1xx: 0, 2xx: 971835, 3xx: 94582, 4xx: 89636, 5xx: 30196}
status_codes:
  description: Counted requests per exact status code.
  returned: always
  type: dict
  sample: {"200": 948238, "401": 18872, "403": 3968, "429": 2694, "500": 2996}
unauthorized:
  description: Requests answered 401.
  returned: always
  type: int
  sample: 18872
forbidden:
  description: Requests answered 403.
  returned: always
  type: int
  sample: 3968
rate_limited:
  description: Requests answered 429.
  returned: always
  type: int
  sample: 2694
server_errors:
  description: Requests answered 5xx.
  returned: always
  type: int
  sample: 30196
failed_logins:
  description:
    - Login attempts (requests to O(login_paths)) answered with one of O(login_statuses) - C(total), over all C(attempts),
      by C(ips) IPs, the C(statuses) counted - and the O(top) IPs with the most (C(ip), C(failed_logins), C(requests)).
  returned: always
  type: dict
  sample: {total: 12941, attempts: 71054, ips: 5830, statuses: [401, 403], top: [{ip: 185.220.103.9, failed_logins: 937, requests: 1004}]}
peak_per_minute:
  description:
    - Each IP's peak of requests within one clock minute; the O(top) highest (C(ip), C(peak_per_minute), C(requests)).
    - C(exact) is false (and C(late_lines) above zero) when lines came more than two minutes out of order, or files overlapped
      in time, so that peaks are lower bounds; null when the format has no time.
  returned: always
  type: dict
  sample: {exact: true, late_lines: 0, top: [{ip: 45.155.205.99, peak_per_minute: 252, requests: 1500}]}
flagged_ips:
  description:
    - IPs over a warning threshold of failed logins or requests per minute, critical ones first (at most 100; see
      RV(flagged_total)), each with C(ip), C(status), C(reasons), C(requests), C(failed_logins) and C(peak_per_minute).
  returned: always
  type: list
  elements: dict
  sample: [{ip: 185.220.103.9, status: critical, reasons: ["937 failed logins (warning > 20, critical > 100)"], requests: 1004,
            failed_logins: 937, peak_per_minute: 4}]
flagged_total:
  description: How many IPs are over a warning threshold.
  returned: always
  type: int
  sample: 4
patterns:
  description:
    - One entry per O(patterns) item, with C(name), C(pattern), C(regex), C(count) (matching lines), C(status), C(unmatched)
      (globs without a file) and C(files) (C(path), C(compressed), C(lines), C(count), C(error)).
  returned: always
  type: list
  elements: dict
  sample: [{name: authentication_failed, pattern: authentication failed, regex: false, count: 211, status: warning, unmatched: [],
            files: [{path: /var/log/dsr/auth.log, compressed: false, lines: 2000, count: 112, error: null}]}]
engine:
  description: How the logs were read - C(workers) (processes used), C(gzip) (V(isal) or V(zlib)), C(log_format) (the format
    string), C(format_name) (V(combined), V(main), V(json) or V(custom)) and C(seconds) (time spent).
  returned: always
  type: dict
  sample: {workers: 2, gzip: isal, log_format: '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer"
    "$http_user_agent"', format_name: combined, seconds: 3.512}
'''

import re
import time

from ansible_collections.dsr.ops.plugins.module_utils._durations import parse_duration
from ansible_collections.dsr.ops.plugins.module_utils._module import DsrModule
from ansible_collections.dsr.ops.plugins.module_utils._status import FAIL_ON_CHOICES, ThresholdError, gate, validate_thresholds
from ansible_collections.dsr.ops.plugins.module_utils._logs.access import DEFAULTS, build_report, parse_time
from ansible_collections.dsr.ops.plugins.module_utils._logs.errors import LogError, LogFormatError
from ansible_collections.dsr.ops.plugins.module_utils._logs.formats import LineFormat

_PATTERN_NAME = re.compile(r'^[A-Za-z0-9_]+$')


def argument_spec():
    """The module's options."""
    return {
        'paths': dict(type='list', elements='str', default=['/var/log/nginx/access.log']),
        'log_format': dict(type='str', default='combined'),
        'client_variable': dict(type='str', default='remote_addr'),
        'json_fields': dict(type='dict', options=dict(
            client=dict(type='str', default='remote_addr'),
            time=dict(type='str', default='time_iso8601'),
            request=dict(type='str', default='request'),
            status=dict(type='str', default='status'),
        )),
        'login_paths': dict(type='list', elements='str', default=['/api/auth/login', '/login']),
        'login_path_regex': dict(type='str'),
        'login_statuses': dict(type='list', elements='int', default=[401, 403]),
        'since': dict(type='str'),
        'from': dict(type='str'),
        'to': dict(type='str'),
        'now': dict(type='str'),
        'top': dict(type='int', default=10),
        'failed_logins_warning': dict(type='float', default=DEFAULTS['failed_logins_warning']),
        'failed_logins_critical': dict(type='float', default=DEFAULTS['failed_logins_critical']),
        'requests_per_minute_warning': dict(type='float', default=DEFAULTS['requests_per_minute_warning']),
        'requests_per_minute_critical': dict(type='float', default=DEFAULTS['requests_per_minute_critical']),
        'malformed_percent_warning': dict(type='float', default=DEFAULTS['malformed_percent_warning']),
        'malformed_percent_critical': dict(type='float'),
        'patterns': dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True),
            pattern=dict(type='str', required=True),
            regex=dict(type='bool', default=False),
            ignore_case=dict(type='bool', default=False),
            paths=dict(type='list', elements='str', required=True),
            warning=dict(type='float'),
            critical=dict(type='float'),
        )),
        'workers': dict(type='int', default=0),
        'fail_on': dict(type='str', choices=list(FAIL_ON_CHOICES), default='critical'),
    }


def line_format(params):
    """The LineFormat of the params (raises LogFormatError)."""
    return LineFormat(params['log_format'], params['login_paths'] if not params['login_path_regex'] else (),
                      params['login_path_regex'], params['client_variable'], params['json_fields'])


def _threshold_problems(label, warning, critical):
    try:
        validate_thresholds(label, warning, critical)
    except ThresholdError as exc:
        return [str(exc)]
    return []


def validate(params):
    """Messages for option values that cannot work, naming the option and the fix."""
    problems = []
    if not params['paths'] or any(not p for p in params['paths']):
        problems.append('paths must list at least one file or glob, and no empty entry, such as /var/log/nginx/access.log*')
    fmt = None
    try:
        fmt = line_format(params)
    except LogFormatError as exc:
        message = str(exc)
        problems.append(message if message.startswith(('log_format', 'login_path_regex')) else 'log_format: ' + message)
    if params['json_fields'] and params['log_format'] != 'json':
        problems.append('json_fields applies to log_format=json only; remove it or set log_format: json')
    window = [name for name in ('since', 'from', 'to') if params[name] is not None]
    if params['since'] is not None and len(window) > 1:
        problems.append('since cannot be combined with from/to: use since for the last hours (since: 24h), or from/to for a fixed window')
    if isinstance(params['from'], float) and isinstance(params['to'], float) and params['from'] >= params['to']:
        problems.append('from must be before to')
    if window and fmt is not None and not fmt.has_time:
        problems.append('%s needs a time in the lines: log_format has no $time_local or $time_iso8601' % '/'.join(window))
    for status in params['login_statuses']:
        if not 100 <= status <= 599:
            problems.append('login_statuses: %d is not an HTTP status (100 to 599)' % status)
    if params['top'] < 1:
        problems.append('top must be at least 1, got %d' % params['top'])
    if params['workers'] < 0:
        problems.append('workers must be 0 (every CPU) or more, got %d' % params['workers'])
    for prefix in ('failed_logins', 'requests_per_minute', 'malformed_percent'):
        problems.extend(_threshold_problems(prefix, params[prefix + '_warning'], params[prefix + '_critical']))
    names = set()
    for position, spec in enumerate(params['patterns'] or []):
        label = 'patterns[%d]' % position
        if not _PATTERN_NAME.match(spec['name']):
            problems.append('%s.name must be letters, digits and underscores, got %r' % (label, spec['name']))
        elif spec['name'] in names:
            problems.append('%s.name %r is used twice; give each pattern its own name' % (label, spec['name']))
        names.add(spec['name'])
        if not spec['pattern']:
            problems.append('%s.pattern is empty' % label)
        elif spec['regex']:
            try:
                re.compile(spec['pattern'])
            except re.error as exc:
                problems.append('%s.pattern is not a valid regular expression (%s); set regex: false for a fixed string' % (label, exc))
        if not spec['paths'] or any(not p for p in spec['paths']):
            problems.append('%s.paths must list at least one file or glob, such as /var/log/dsr/*.log' % label)
        problems.extend(_threshold_problems(label, spec['warning'], spec['critical']))
    return problems


def main():
    converters = {'since': parse_duration, 'from': parse_time, 'to': parse_time, 'now': parse_time}
    module = DsrModule(argument_spec(), convert=converters, validate=validate)
    params = module.params
    if params['now'] is None:
        params['now'] = time.time()
    fmt = line_format(params)
    result = module.run(lambda: build_report(params, fmt), (LogError,), lambda exc: 'access log report failed: %s' % exc)
    failure = gate(result, params['fail_on'], 'access logs are')
    if failure:
        module.fail_json(msg=failure, changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
