# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""cert_expiry's decisions on certificates made here with cryptography, at a frozen moment."""

from __future__ import annotations

import datetime

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.dsr.ops.plugins.module_utils._tls import certificates as certs
from ansible_collections.dsr.ops.plugins.module_utils._tls.endpoint import EndpointError
from ansible_collections.dsr.ops.plugins.module_utils._tls.expiry import ExpiryCheck, validate

NOW = datetime.datetime(2025, 6, 1, 8, 0, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def make(common_name, not_after, not_before=None, issuer=None, sans=('registry.dsr.example',), ca=False):
    """A certificate valid until NOW + not_after (a timedelta); returns (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)])
    issuer_cert, issuer_key = issuer or (None, key)
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer_cert.subject if issuer_cert else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW + (not_before if not_before is not None else -30 * DAY))
               .not_valid_after(NOW + not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        entries = []
        for entry in sans:
            if entry[0].isdigit():
                import ipaddress  # pylint: disable=import-outside-toplevel
                entries.append(x509.IPAddress(ipaddress.ip_address(entry)))
            else:
                entries.append(x509.DNSName(entry))
        builder = builder.add_extension(x509.SubjectAlternativeName(entries), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def pem(*certificates):
    return ''.join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)


@pytest.mark.parametrize('remaining, expected', [
    (90 * DAY, 'ok'),
    (30 * DAY, 'ok'),                                   # exactly 30 days left: not fewer than 30
    (30 * DAY - datetime.timedelta(seconds=1), 'warning'),
    (8 * DAY, 'warning'),
    (7 * DAY, 'warning'),
    (7 * DAY - datetime.timedelta(seconds=1), 'critical'),
    (1 * DAY, 'critical'),
    (datetime.timedelta(seconds=0), 'critical'),        # expires this very second
    (-3 * DAY, 'critical'),
])
def test_expiry_status_at_the_thresholds(remaining, expected):
    cert, _unused = make('leaf', remaining)
    facts = certs.describe(cert, NOW)
    assert certs.expiry_status(facts, 30, 7) == expected


def test_figures_of_a_certificate():
    cert, _unused = make('registry', 20 * DAY + datetime.timedelta(hours=5), sans=('registry.dsr.example', '10.0.4.20'))
    facts = certs.describe(cert, NOW)
    assert facts['days_remaining'] == 20
    assert facts['not_after'] == '2025-06-21T13:00:00Z'
    assert facts['subject'] == 'CN=registry'
    assert facts['sans'] == ['registry.dsr.example', '10.0.4.20']
    assert facts['expired'] is False and facts['self_signed'] is True
    assert len(facts['sha256_fingerprint'].split(':')) == 32


def test_an_intermediate_that_expires_first_decides():
    ca, ca_key = make('DSR Issuing CA', 10 * DAY, ca=True, sans=())
    leaf, _unused = make('registry', 60 * DAY, issuer=(ca, ca_key))
    status, msg, figures = certs.evaluate_chain([leaf, ca], NOW, 30, 7, 'registry.dsr.example')
    assert status == 'warning'
    assert figures['days_remaining'] == 10
    assert figures['expires_first'] == {'position': 1, 'subject': 'CN=DSR Issuing CA', 'is_leaf': False}
    assert [c['status'] for c in figures['chain']] == ['ok', 'warning']
    assert figures['subject'] == 'CN=registry' and figures['issuer'] == 'CN=DSR Issuing CA'
    assert 'chain certificate 1 (CN=DSR Issuing CA)' in msg


def test_not_yet_valid_is_critical():
    cert, _unused = make('future', 400 * DAY, not_before=2 * DAY)
    status, msg, _unused = certs.evaluate_chain([cert], NOW, 30, 7)
    assert status == 'critical'
    assert 'not valid before' in msg


def test_expired_message_counts_whole_days_ago():
    cert, _unused = make('old', -(2 * DAY + datetime.timedelta(hours=3)))
    status, msg, figures = certs.evaluate_chain([cert], NOW, 30, 7)
    assert status == 'critical'
    assert '(2 days ago)' in msg
    # the same rule in the figure as in the message: whole days toward zero
    assert figures['days_remaining'] == -2


@pytest.mark.parametrize('remaining, days, words', [
    (119 * DAY + datetime.timedelta(hours=23, minutes=52), 119, 'in 119 days'),
    (-(DAY // 2), 0, '(less than a day ago)'),
    (-(2 * DAY + datetime.timedelta(minutes=7)), -2, '(2 days ago)'),
])
def test_days_count_toward_zero_in_the_figure_and_the_message(remaining, days, words):
    cert, _unused = make('leaf', remaining)
    dummy, msg, figures = certs.evaluate_chain([cert], NOW, 30, 7)
    assert figures['days_remaining'] == days and words in msg


@pytest.mark.parametrize('server_name, dns, ips, expected', [
    ('registry.dsr.example', ['registry.dsr.example'], [], True),
    ('REGISTRY.dsr.example.', ['registry.dsr.example'], [], True),
    ('api.dsr.example', ['*.dsr.example'], [], True),
    ('dsr.example', ['*.dsr.example'], [], False),
    ('a.b.dsr.example', ['*.dsr.example'], [], False),
    ('other.example', ['registry.dsr.example'], [], False),
    ('10.0.4.20', ['10.0.4.20'], [], False),            # an address never matches a DNS entry
    ('10.0.4.20', [], ['10.0.4.20'], True),
    ('::1', [], ['0:0:0:0:0:0:0:1'], True),
    (None, ['x'], [], None),
])
def test_hostname_matching(server_name, dns, ips, expected):
    assert certs.hostname_matches(server_name, dns, ips) is expected


@pytest.mark.parametrize('text, expected', [
    ('2025-06-01T08:00:00Z', NOW),
    ('2025-06-01T08:00:00', NOW),
    ('2025-06-01T16:00:00+08:00', NOW),
    ('2025-06-01 08:00:00+00:00', NOW),
])
def test_parse_now(text, expected):
    assert certs.parse_now(text) == expected


@pytest.mark.parametrize('text', ['yesterday', '2025-13-01', '01/06/2025'])
def test_parse_now_refuses_what_is_not_iso(text):
    with pytest.raises(certs.CertificateError, match='now must be an ISO 8601'):
        certs.parse_now(text)


def test_pem_bundle_skips_keys_and_keeps_order():
    first, key = make('first', 90 * DAY)
    second, _unused = make('second', 90 * DAY)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    loaded = certs.load_pem_certificates(key_pem + pem(first, second), 'bundle')
    assert [c.subject.rfc4514_string() for c in loaded] == ['CN=first', 'CN=second']


@pytest.mark.parametrize('text, message', [
    ('', 'no PEM certificate'),
    ('hello', 'no PEM certificate'),
    ('-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n', 'certificate 1 of x is not valid PEM'),
])
def test_pem_errors_are_certificate_errors(text, message):
    with pytest.raises(certs.CertificateError, match=message):
        certs.load_pem_certificates(text, 'x')


def fetch_from(table):
    def fetch(host, port, server_name=None, protocol='tls', timeout=10.0, ca_cert=None):
        answer = table[(host, port)]
        if isinstance(answer, Exception):
            raise answer
        return {'certificates': answer, 'tls_version': 'TLSv1.3', 'cipher': 'TLS_AES_256_GCM_SHA384', 'trusted': True, 'verify_errors': []}
    return fetch


def options(**kw):
    base = {'endpoints': None, 'files': None, 'contents': None, 'warning_days': 30, 'critical_days': 7,
            'hostname_mismatch': 'critical', 'timeout': 10.0, 'ca_cert': None, 'now': None, 'fail_on': 'critical'}
    base.update(kw)
    return base


def endpoint(host, port=443, **kw):
    entry = {'host': host, 'port': port, 'server_name': None, 'protocol': 'tls', 'name': None}
    entry.update(kw)
    return entry


def test_run_reports_each_target_and_the_worst():
    good, _unused = make('registry', 90 * DAY)
    soon, _unused = make('portal', 3 * DAY, sans=('portal.dsr.example',))
    fetch = fetch_from({
        ('registry.dsr.example', 443): [good],
        ('portal.dsr.example', 443): [soon],
        ('down.dsr.example', 443): EndpointError('down.dsr.example:443: unable to connect: Connection refused'),
    })
    check = ExpiryCheck(options(endpoints=[endpoint('registry.dsr.example'), endpoint('portal.dsr.example'), endpoint('down.dsr.example')]),
                        NOW, fetch=fetch)
    result = check.run()
    statuses = {c['name']: c['status'] for c in result['certificates']}
    assert statuses == {'registry.dsr.example:443': 'ok', 'portal.dsr.example:443': 'critical', 'down.dsr.example:443': 'unknown'}
    assert result['status'] == 'critical'
    assert result['now'] == '2025-06-01T08:00:00Z'
    assert 'could not look' in result['certificates'][2]['msg']


@pytest.mark.parametrize('policy, expected', [('critical', 'critical'), ('warning', 'warning'), ('ignore', 'ok')])
def test_hostname_mismatch_policy(policy, expected):
    cert, _unused = make('registry', 90 * DAY, sans=('registry.dsr.example',))
    check = ExpiryCheck(options(endpoints=[endpoint('10.0.4.20', server_name='www.dsr.example')], hostname_mismatch=policy),
                        NOW, fetch=fetch_from({('10.0.4.20', 443): [cert]}))
    entry = check.run()['certificates'][0]
    assert entry['status'] == expected
    assert entry['hostname_matches'] is False


def test_unreadable_files_are_unknown():
    def read_file(path):
        if path == '/missing.pem':
            raise FileNotFoundError(2, 'No such file or directory', path)
        return b'not a certificate'
    result = ExpiryCheck(options(files=['/missing.pem', '/junk.pem']), NOW, read_file=read_file).run()
    assert [c['status'] for c in result['certificates']] == ['unknown', 'unknown']
    assert 'No such file or directory' in result['certificates'][0]['msg']
    assert result['status'] == 'unknown'


def test_contents_with_a_server_name():
    cert, _unused = make('registry', 20 * DAY)
    result = ExpiryCheck(options(contents=[{'name': 'ns/registry-tls', 'pem': pem(cert), 'server_name': 'registry.dsr.example'}]), NOW).run()
    entry = result['certificates'][0]
    assert entry['status'] == 'warning' and entry['hostname_matches'] is True and entry['source'] == 'content'


@pytest.mark.parametrize('kw, message', [
    ({}, 'nothing to check'),
    ({'files': ['/a'], 'warning_days': 5, 'critical_days': 10}, 'critical_days (10) must not be more than warning_days (5)'),
    ({'files': ['/a'], 'critical_days': -1}, 'must be 0 or more'),
    ({'files': ['/a'], 'timeout': 0}, 'timeout must be more than 0'),
    ({'endpoints': [endpoint('a', 0)]}, 'port must be between 1 and 65535'),
    ({'endpoints': [endpoint('a'), endpoint('a')]}, 'these repeat: a:443'),
    ({'endpoints': [endpoint('a', protocol='postgres', port=5432), endpoint('b', name='postgres://a:5432')]}, 'these repeat'),
    ({'contents': [{'name': '', 'pem': 'x'}]}, 'contents[0]: name must not be empty'),
])
def test_validate(kw, message):
    assert any(message in problem for problem in validate(options(**kw)))


def test_validate_accepts_good_input():
    assert validate(options(files=['/a'], endpoints=[endpoint('a', protocol='postgres', port=5432)])) == []
