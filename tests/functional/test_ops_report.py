# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""ops_report as a process: the page as a person sees it in headless Chromium (Debian's chromium) at desktop and
phone widths, SMTP delivery to a local aiosmtpd server (plain and STARTTLS with a self-signed certificate), webhook
delivery to a local http.server, failures after the files are written, idempotence, check mode, and no secret in
any output."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import os
import shutil
import socket
import ssl
import threading
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import browser

SHOTS = '/tmp/ops-report-helper'
PASSWORD = 'smtp-Pa55word-7f3c'
HEADER_SECRET = 'Bearer hook-t0ken-91ab'
DAYS = [(datetime.date(2026, 11, 28) + datetime.timedelta(days=n)).isoformat() for n in range(7)]
CHECKS = ['kubernetes', 'database', 'backup', 'metrics', 'errors', 'certificates']


def report_data():
    """Two environments over seven days; staging has problems today, and a summary holding a script."""
    series = []
    for name, title, unit, base, step in (
            ('database_size_bytes', 'Database size', 'bytes', 1200000000, 10000000),
            ('backup_duration_seconds', 'Backup duration', 'seconds', 600, 15.5),
            ('backup_size_bytes', 'Backup size', 'bytes', 400000000, 3000000),
            ('error_count', 'Errors per day', 'count', 2, 3),
            ('certificate_days_left', 'Certificate days left (soonest)', 'days', 88, -1),
            ('dr_test_rpo_seconds', 'DR test RPO', 'seconds', 240, 0),
            ('dr_test_rto_seconds', 'DR test RTO', 'seconds', 1800, 0)):
        points = {'production': [[day, base + n * step] for n, day in enumerate(DAYS)]}
        if unit != 'seconds' or name == 'backup_duration_seconds':
            points['staging'] = [[day, round(base / 4 + n * step * 1.5, 3)] for n, day in enumerate(DAYS) if n != 2]
        if name.startswith('dr_test'):
            points = {'production': [[DAYS[1], base]]}
        series.append({'name': name, 'title': title, 'unit': unit, 'points': points})
    return {
        'title': 'DSR evening summary',
        'generated_at': '2026-12-04T18:00:00+00:00',
        'date': '2026-12-04',
        'environments': ['production', 'staging'],
        'checks': CHECKS,
        'today': {
            'production': {check: {'status': 'ok', 'summary': 'ok: all checks ok', 'time': '2026-12-04T08:00:05+00:00'} for check in CHECKS},
            'staging': {
                'kubernetes': {'status': 'unknown', 'summary': 'list pods refused (403)', 'time': '2026-12-04T08:00:01+00:00'},
                'database': {'status': 'critical', 'summary': '<script>alert(1)</script> replication lag 900 s',
                             'time': '2026-12-04T08:00:05+00:00'},
                'backup': {'status': 'warning', 'summary': 'last backup 30 h old', 'time': '2026-12-04T08:01:00+00:00'},
            },
        },
        'days': [{'date': day, 'status': {'production': {check: 'ok' for check in CHECKS},
                                          'staging': {'database': 'critical' if n >= 5 else 'ok', 'backup': 'warning'}}}
                 for n, day in enumerate(DAYS)],
        'series': series,
        'trends': {'production': {'database_growth_bytes_per_day': 10000000, 'database_disk_full_days': 41.5},
                   'staging': {'database_growth_bytes_per_day': 0}},
        'incidents': [{
            'id': 'INC-2026-0001', 'severity': 'P2', 'status': 'Investigating', 'environment': 'staging',
            'started_at': '2026-12-04T08:00:05+00:00', 'updated_at': '2026-12-04T12:00:00+00:00',
            'description': 'Database replication lag on staging', 'impact': 'dsr-api, dsr-frontend slow',
            'notice': 'INCIDENT NOTICE\nIncident ID: INC-2026-0001\nStart Time: 2026-12-04 08:00 UTC\nSeverity: P2\n'
                      'Status: Investigating\nDescription: Database replication lag on staging\nNext Update: 2026-12-04 14:00 UTC',
        }],
        'upcoming': [{'when': '2026-12-06T02:00:00+00:00', 'what': 'Maintenance window: database vacuum'}],
        'notes': ['a very long token without spaces ' + 'x' * 300],
    }


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def args(tmp_path, **extra):
    data_file = tmp_path / 'data.json'
    if not data_file.exists():
        data_file.write_text(json.dumps(report_data()))
    return dict({'data_file': str(data_file), 'dest_dir': str(tmp_path / 'reports')}, **extra)


# --- the page in a browser ---------------------------------------------------------------------------------------

MATRIX_JS = '''Array.from(document.querySelectorAll('table.matrix td.cell')).map(td => ({
  table: td.closest('table').id, env: td.dataset.env, check: td.dataset.check, date: td.dataset.date || null,
  word: td.querySelector('.word').textContent, visible: td.getBoundingClientRect().width > 0}))'''
CHART_JS = '''Array.from(document.querySelectorAll('svg.chart')).map(svg => ({series: svg.dataset.series,
  points: Array.from(svg.querySelectorAll('[data-value]')).map(p => [p.dataset.env, p.dataset.date, Number(p.dataset.value),
    p.querySelector('title').textContent])}))'''
LAYOUT_JS = '''({scrollWidth: document.documentElement.scrollWidth, innerWidth: innerWidth,
  bodyScroll: document.body.scrollWidth,
  boxes: Array.from(document.querySelectorAll('.scroll')).map(b => [b.scrollWidth, b.clientWidth, b.getBoundingClientRect().right]),
  charts: Array.from(document.querySelectorAll('svg.chart')).map(s => s.getBoundingClientRect().width),
  scripts: document.scripts.length, alerts: document.querySelectorAll('script, img, iframe, link, object, embed').length})'''


@pytest.fixture(scope='module')
def chromium():
    if not browser.find_chromium():
        pytest.fail('chromium is not installed: apt-get install chromium (scripts/lib.sh dsr_install_system_packages does it)')
    with browser.Chromium() as instance:
        yield instance


def _expected_cells(data):
    cells = {}
    for env in data['environments']:
        for check in data['checks']:
            record = data['today'].get(env, {}).get(check)
            cells[('matrix-today', env, check, None)] = record['status'] if record else 'no data'
            for day in data['days']:
                cells[('matrix-days', env, check, day['date'])] = day['status'].get(env, {}).get(check) or 'no data'
    return cells


@pytest.mark.parametrize('width, height, mobile, name', [(1280, 900, False, 'desktop'), (390, 844, True, 'phone')])
def test_page_in_chromium(run_module, tmp_path, chromium, width, height, mobile, name):
    result = run_module('ops_report', args(tmp_path))
    assert not result.get('failed'), result
    path = result['paths']['html']
    data = report_data()
    page = chromium.page()
    try:
        page.set_viewport(width, height, mobile=mobile)
        page.load('file://' + path)
        shot = page.screenshot(str(tmp_path / ('ops-report-%s.png' % name)))
        os.makedirs(SHOTS, exist_ok=True)
        shutil.copy(shot, os.path.join(SHOTS, 'ops-report-%s.png' % name))
        layout = page.evaluate(LAYOUT_JS)
        cells = page.evaluate(MATRIX_JS)
        charts = page.evaluate(CHART_JS)
        alert_text = page.evaluate('document.querySelector("#matrix-today td[data-env=staging][data-check=database] .summary").textContent')
    finally:
        page.close()
    with open(shot, 'rb') as handle:
        assert handle.read(8) == b'\x89PNG\r\n\x1a\n'
    # nothing but the file itself was requested, and the page logged nothing
    assert set(page.requests) == {'file://' + path}, page.requests
    assert not page.exceptions, page.exceptions
    assert not [m for m in page.console if m['type'] in ('error', 'warning', 'assert')], page.console
    assert not [e for e in page.log_entries if e['level'] in ('error', 'warning')], page.log_entries
    assert layout['scripts'] == 0 and layout['alerts'] == 0
    assert alert_text.startswith('<script>alert(1)</script>')
    # no page-level horizontal overflow; a wide matrix scrolls inside its own box
    assert layout['scrollWidth'] <= layout['innerWidth'], layout
    assert all(right <= layout['innerWidth'] + 0.5 for _sw, _cw, right in layout['boxes']), layout
    if mobile:
        assert any(scroll > client for scroll, client, _right in layout['boxes']), layout
    assert all(0 < w <= layout['innerWidth'] for w in layout['charts'])
    # the matrices say what the data says, "no data" where it has no record
    got = {(c['table'], c['env'], c['check'], c['date']): c['word'] for c in cells}
    assert got == _expected_cells(data)
    assert got[('matrix-today', 'staging', 'metrics', None)] == 'no data'
    # every chart point is the input number, with a human unit in its tooltip
    by_series = {chart['series']: chart['points'] for chart in charts}
    assert set(by_series) == {s['name'] for s in data['series']}
    for series in data['series']:
        want = sorted((env, date, value) for env, pairs in series['points'].items() for date, value in pairs)
        assert sorted((env, date, value) for env, date, value, _title in by_series[series['name']]) == want, series['name']
    titles = {(env, date): title for env, date, _v, title in by_series['database_size_bytes']}
    assert titles[('production', DAYS[0])] == 'production %s: 1.12 GiB' % DAYS[0]


# --- SMTP ------------------------------------------------------------------------------------------------------

class _Mailbox:
    def __init__(self):
        self.messages = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  aiosmtpd's hook name
        self.messages.append({'from': envelope.mail_from, 'to': list(envelope.rcpt_tos), 'raw': envelope.original_content,
                              'tls': session.ssl is not None})
        return '250 OK'

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login, auth_data.password))
        # handled=False: aiosmtpd answers 535 itself (handled=True would leave the client waiting)
        return AuthResult(success=auth_data.login == b'dsr' and auth_data.password == PASSWORD.encode(), handled=False)


def _certificate(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'localhost')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName('localhost'), x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / 'smtp.crt', tmp_path / 'smtp.key'
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture
def smtp_server():
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname='127.0.0.1', port=free_port())
    controller.start()
    try:
        yield controller.port, mailbox
    finally:
        controller.stop()


@pytest.fixture
def starttls_server(tmp_path):
    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname='127.0.0.1', port=free_port(), tls_context=context, require_starttls=True,
                            authenticator=mailbox.authenticate, auth_require_tls=True)
    controller.start()
    try:
        yield controller.port, mailbox, cert
    finally:
        controller.stop()


def _parts(raw):
    message = message_from_bytes(raw, policy=policy.default)
    # SMTP carries CRLF line ends; the files have LF
    return message, {part.get_content_type(): part.get_content().replace('\r\n', '\n') for part in message.iter_parts()}


def test_smtp_plain_sends_both_parts(run_module, tmp_path, smtp_server):
    port, mailbox = smtp_server
    smtp = {'host': '127.0.0.1', 'port': port, 'security': 'none', 'from_addr': 'dsr-ops@example.org',
            'to': ['ops@example.org', 'dba@example.org']}
    result = run_module('ops_report', args(tmp_path, smtp=smtp))
    assert not result.get('failed'), result
    assert result['delivered']['smtp']['sent'] is True
    assert result['delivered']['smtp']['recipients'] == ['ops@example.org', 'dba@example.org']
    assert len(mailbox.messages) == 1
    sent = mailbox.messages[0]
    assert sent['from'] == 'dsr-ops@example.org' and sent['to'] == ['ops@example.org', 'dba@example.org']
    message, parts = _parts(sent['raw'])
    assert message['Subject'] == 'DSR evening summary 2026-12-04: critical'
    assert message['To'] == 'ops@example.org, dba@example.org'
    assert message.get_content_type() == 'multipart/alternative'
    with open(result['paths']['html'], encoding='utf-8') as handle:
        assert parts['text/html'] == handle.read()
    with open(result['paths']['markdown'], encoding='utf-8') as handle:
        assert parts['text/plain'] == handle.read()
    # the same data again: nothing written, nothing sent; deliver=always sends again
    again = run_module('ops_report', args(tmp_path, smtp=smtp))
    assert again['changed'] is False and again['delivered']['smtp']['sent'] is False and again['delivered']['smtp']['due'] is False
    assert len(mailbox.messages) == 1
    always = run_module('ops_report', args(tmp_path, smtp=smtp, deliver='always'))
    assert always['changed'] is True and always['delivered']['smtp']['sent'] is True and not any(always['files_changed'].values())
    assert len(mailbox.messages) == 2


def test_smtp_starttls_with_ca_cert_and_login(run_module, tmp_path, starttls_server):
    port, mailbox, cert = starttls_server
    smtp = {'host': '127.0.0.1', 'port': port, 'security': 'starttls', 'ca_cert': cert, 'username': 'dsr', 'password': PASSWORD,
            'from_addr': 'dsr-ops@example.org', 'to': ['ops@example.org'], 'subject': 'Evening summary'}
    result = run_module('ops_report', args(tmp_path, smtp=smtp))
    assert not result.get('failed'), result
    assert mailbox.logins == [(b'dsr', PASSWORD.encode())]
    assert len(mailbox.messages) == 1 and mailbox.messages[0]['tls'] is True
    assert _parts(mailbox.messages[0]['raw'])[0]['Subject'] == 'Evening summary'
    assert PASSWORD not in json.dumps(result)


def test_smtp_starttls_untrusted_and_wrong_password(run_module, tmp_path, starttls_server):
    port, mailbox, cert = starttls_server
    smtp = {'host': '127.0.0.1', 'port': port, 'security': 'starttls', 'username': 'dsr', 'password': PASSWORD,
            'from_addr': 'dsr-ops@example.org', 'to': ['ops@example.org']}
    untrusted = run_module('ops_report', args(tmp_path, smtp=smtp))
    assert untrusted['failed'] and 'not trusted' in untrusted['msg'] and 'smtp.ca_cert' in untrusted['msg'], untrusted['msg']
    wrong = run_module('ops_report', args(tmp_path, smtp=dict(smtp, ca_cert=cert, password='wrong-' + PASSWORD)))
    assert wrong['failed'] and 'refused the login of dsr' in wrong['msg'], wrong['msg']
    assert 'wrong-' + PASSWORD not in json.dumps(wrong) and PASSWORD not in json.dumps(untrusted)
    assert mailbox.messages == []


def test_smtp_down_fails_after_writing_the_files(run_module, tmp_path):
    smtp = {'host': '127.0.0.1', 'port': free_port(), 'security': 'none', 'from_addr': 'dsr-ops@example.org', 'to': ['ops@example.org']}
    result = run_module('ops_report', args(tmp_path, smtp=smtp))
    assert result['failed'] is True
    assert result['msg'].startswith('report delivery failed: smtp: cannot connect to 127.0.0.1:%d: Connection refused' % smtp['port'])
    assert 'the files were written' in result['msg']
    assert result['delivered']['smtp']['sent'] is False and 'Connection refused' in result['delivered']['smtp']['error']
    for path in result['paths'].values():
        assert os.path.getsize(path) > 0
    assert '_stderr' in result and 'Traceback' not in result['_stderr']


def test_smtp_refused_recipient_is_a_failure(run_module, tmp_path):
    class Refusing(_Mailbox):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
            if address.startswith('nobody'):
                return '550 no such user'
            envelope.rcpt_tos.append(address)
            return '250 OK'

    mailbox = Refusing()
    controller = Controller(mailbox, hostname='127.0.0.1', port=free_port())
    controller.start()
    try:
        smtp = {'host': '127.0.0.1', 'port': controller.port, 'security': 'none', 'from_addr': 'dsr-ops@example.org',
                'to': ['nobody@example.org']}
        result = run_module('ops_report', args(tmp_path, smtp=smtp))
    finally:
        controller.stop()
    assert result['failed'] and 'refused every recipient' in result['msg'] and 'nobody@example.org (550' in result['msg'], result['msg']


# --- webhook ---------------------------------------------------------------------------------------------------

@pytest.fixture
def webhook_server():
    state = {'status': 200, 'requests': []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802  http.server's hook name
            body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
            state['requests'].append({'path': self.path, 'headers': dict(self.headers.items()), 'body': body})
            answer = b'{"ok": true}' if state['status'] < 300 else ('server error, got header %s' % self.headers.get('X-Hook-Token')).encode()
            self.send_response(state['status'])
            self.send_header('Content-Length', str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):  # pylint: disable=arguments-differ
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:%d' % server.server_address[1], state
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_markdown_and_json(run_module, tmp_path, webhook_server):
    url, state = webhook_server
    hook = {'url': url + '/hooks/dsr?room=ops', 'headers': {'X-Hook-Token': HEADER_SECRET}}
    result = run_module('ops_report', args(tmp_path, webhook=hook))
    assert not result.get('failed'), result
    assert result['delivered']['webhook'] == {'sent': True, 'due': True, 'url': url + '/hooks/dsr', 'status': 200, 'format': 'markdown'}
    first = state['requests'][0]
    assert first['path'] == '/hooks/dsr?room=ops'
    assert first['headers']['X-Hook-Token'] == HEADER_SECRET
    assert first['headers']['Content-Type'] == 'text/markdown; charset=utf-8'
    with open(result['paths']['markdown'], 'rb') as handle:
        assert first['body'] == handle.read()
    as_json = run_module('ops_report', args(tmp_path, webhook=dict(hook, format='json')))
    assert as_json['delivered']['webhook']['sent'] is True  # another target (format), so due although the files are the same
    body = json.loads(state['requests'][1]['body'])
    assert state['requests'][1]['headers']['Content-Type'] == 'application/json'
    assert set(body) == {'text', 'data'} and body['text'] == first['body'].decode()
    with open(result['paths']['json'], encoding='utf-8') as handle:
        assert body['data'] == json.load(handle)
    for output in (result, as_json):
        assert HEADER_SECRET not in json.dumps(output) and 'hook-t0ken' not in output['_stderr']


def test_webhook_500_fails_clearly(run_module, tmp_path, webhook_server):
    url, state = webhook_server
    state['status'] = 500
    hook = {'url': url + '/hooks/dsr', 'headers': {'X-Hook-Token': HEADER_SECRET}}
    result = run_module('ops_report', args(tmp_path, webhook=hook))
    assert result['failed'] is True
    assert result['msg'].startswith('report delivery failed: webhook: %s/hooks/dsr answered HTTP 500' % url), result['msg']
    assert HEADER_SECRET not in json.dumps(result)
    assert all(os.path.exists(path) for path in result['paths'].values())
    # the failed delivery is retried by the next run, although the files are unchanged
    state['status'] = 204
    retry = run_module('ops_report', args(tmp_path, webhook=hook))
    assert not retry.get('failed') and retry['delivered']['webhook']['sent'] is True and not any(retry['files_changed'].values())
    assert len(state['requests']) == 2


# --- idempotence, check mode, bad input ------------------------------------------------------------------------

def test_check_mode_then_apply_then_idempotent(run_module, tmp_path, webhook_server):
    url, state = webhook_server
    base = args(tmp_path, webhook={'url': url})
    planned = run_module('ops_report', dict(base, _ansible_check_mode=True))
    assert planned['changed'] is True and planned['dest_dir_created'] is True
    assert all(planned['files_changed'].values()) and planned['delivered']['webhook'] == {
        'sent': False, 'due': True, 'url': url, 'format': 'markdown'}
    assert not os.path.exists(base['dest_dir']) and state['requests'] == []
    applied = run_module('ops_report', base)
    assert applied['changed'] is True and applied['sizes'] == planned['sizes'] and applied['sha256'] == planned['sha256']
    assert oct(os.stat(base['dest_dir']).st_mode & 0o777) == '0o750'
    assert {oct(os.stat(p).st_mode & 0o777) for p in applied['paths'].values()} == {'0o640'}
    inodes = {p: os.stat(p).st_ino for p in applied['paths'].values()}
    again_check = run_module('ops_report', dict(base, _ansible_check_mode=True))
    again = run_module('ops_report', base)
    for run in (again_check, again):
        assert run['changed'] is False and not any(run['files_changed'].values()) and run['delivered']['webhook']['due'] is False
    assert {p: os.stat(p).st_ino for p in applied['paths'].values()} == inodes
    assert len(state['requests']) == 1
    assert sorted(os.listdir(base['dest_dir'])) == ['.dsr-summary-2026-12-04.delivered.json', 'dsr-summary-2026-12-04.html',
                                                    'dsr-summary-2026-12-04.json', 'dsr-summary-2026-12-04.md']
    changed_data = report_data()
    changed_data['notes'].append('one more line')
    (tmp_path / 'data.json').write_text(json.dumps(changed_data))
    changed = run_module('ops_report', base)
    assert changed['files_changed'] == {'html': True, 'markdown': True, 'json': True} and len(state['requests']) == 2


def test_bad_input_names_the_field(run_module, tmp_path):
    data = report_data()
    data['series'][1]['points']['production'][3][1] = 'slow'
    result = run_module('ops_report', {'data': data, 'dest_dir': str(tmp_path / 'r')})
    assert result['failed'] is True
    assert result['msg'] == "report: data.series[1].points.production[3][1]: must be a number, got a string 'slow'"
    assert not os.path.exists(str(tmp_path / 'r')) and 'Traceback' not in result['_stderr']
    both = run_module('ops_report', {'data': data, 'data_file': '/nonexistent', 'dest_dir': str(tmp_path / 'r')})
    assert both['failed'] and 'mutually exclusive' in both['msg']
    missing = run_module('ops_report', {'data_file': str(tmp_path / 'none.json'), 'dest_dir': str(tmp_path / 'r')})
    assert missing['failed'] and missing['msg'].startswith('report: data_file %s cannot be read' % (tmp_path / 'none.json'))
    bad_option = run_module('ops_report', args(tmp_path, basename='../escape', smtp={'host': 'h', 'from_addr': 'x', 'to': []}))
    assert bad_option['failed'] and bad_option['msg'].startswith('invalid options: ')
    assert 'basename' in bad_option['msg'] and 'smtp.from_addr' in bad_option['msg'] and 'smtp.to is empty' in bad_option['msg']


def test_no_secret_anywhere_in_the_output(run_module, tmp_path, smtp_server, webhook_server):
    port, _mailbox = smtp_server
    url, state = webhook_server
    state['status'] = 500
    smtp = {'host': '127.0.0.1', 'port': port, 'security': 'none', 'username': 'dsr', 'password': PASSWORD,
            'from_addr': 'dsr-ops@example.org', 'to': ['ops@example.org']}
    # the plain server offers no AUTH: the login fails, and so does the webhook (500, echoing the header)
    result = run_module('ops_report', args(tmp_path, smtp=smtp, webhook={'url': url, 'headers': {'X-Hook-Token': HEADER_SECRET}}))
    assert result['failed'] is True and 'smtp' in result['msg'] and 'webhook' in result['msg'], result['msg']
    text = json.dumps(result)
    for secret in (PASSWORD, HEADER_SECRET, 'hook-t0ken'):
        assert secret not in text
