# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Certificate facts and expiry verdicts, from ``cryptography`` objects or PEM text.

Plain functions over plain data: the network side is in ``endpoint.py``. Time is
always passed in (``now``, an aware UTC datetime), so every verdict is testable.
"""

from __future__ import annotations

import datetime
import ipaddress
import re

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._status import CRITICAL, OK, WARNING
from ansible_collections.dsr.ops.plugins.module_utils._times import parse_time

if _deps.HAS_CRYPTOGRAPHY:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

SECONDS_PER_DAY = 86400

_PEM_CERTIFICATE = re.compile(r'-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----', re.DOTALL)


class CertificateError(Exception):
    """A certificate could not be read; ``str()`` is safe to show."""


def parse_now(text):
    """Parse the ``now`` option (ISO 8601; naive means UTC) into an aware UTC datetime."""
    if text is None or text == '':
        return datetime.datetime.now(datetime.timezone.utc)
    try:
        return parse_time(text, 'now')
    except ValueError:
        raise CertificateError('now must be an ISO 8601 date and time such as 2025-06-01T08:00:00Z, got %r' % (text,)) from None


def iso(moment):
    """ISO 8601 in UTC with a Z, the form returned for every date."""
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def load_pem_certificates(text, source):
    """Return the certificates of a PEM text, in order; other PEM blocks (keys) are ignored.

    Raises CertificateError naming ``source`` when there is none or one is damaged.
    """
    if isinstance(text, bytes):
        text = text.decode('utf-8', errors='replace')
    blocks = _PEM_CERTIFICATE.findall(text or '')
    if not blocks:
        raise CertificateError('no PEM certificate (-----BEGIN CERTIFICATE-----) found in %s' % source)
    certificates = []
    for index, block in enumerate(blocks):
        try:
            certificates.append(x509.load_pem_x509_certificate(block.encode('ascii')))
        except (ValueError, UnicodeEncodeError) as exc:
            raise CertificateError('certificate %d of %s is not valid PEM: %s' % (index + 1, source, exc)) from None
    return certificates


def subject_alt_names(certificate):
    """Return (DNS names, IP addresses as text) of the subjectAltName extension."""
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return extension.get_values_for_type(x509.DNSName), [str(ip) for ip in extension.get_values_for_type(x509.IPAddress)]


def _is_ca(certificate):
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _dns_matches(pattern, name):
    pattern = pattern.lower().rstrip('.')
    if pattern.startswith('*.'):
        # a wildcard stands for exactly one whole left-most label (RFC 6125 6.4.3)
        head, _dot, tail = name.partition('.')
        return bool(head) and tail == pattern[2:]
    return pattern == name


def hostname_matches(server_name, dns_names, ip_addresses):
    """Whether ``server_name`` is covered by the subjectAltNames (no common-name fallback).

    IP addresses match IP entries only, as browsers and Python's ssl module do.
    """
    if not server_name:
        return None
    try:
        address = ipaddress.ip_address(server_name)
    except ValueError:
        name = server_name.lower().rstrip('.')
        return any(_dns_matches(pattern, name) for pattern in dns_names)
    return any(ipaddress.ip_address(entry) == address for entry in ip_addresses)


def describe(certificate, now, position=0):
    """The facts of one certificate as plain data, with its own expiry figures."""
    not_before = certificate.not_valid_before_utc
    not_after = certificate.not_valid_after_utc
    seconds = (not_after - now).total_seconds()
    dns_names, ip_addresses = subject_alt_names(certificate)
    return {
        'position': position,
        'subject': certificate.subject.rfc4514_string(),
        'issuer': certificate.issuer.rfc4514_string(),
        'serial_number': '%x' % certificate.serial_number,
        'not_before': iso(not_before),
        'not_after': iso(not_after),
        'seconds_remaining': int(seconds),
        # whole days toward zero, in the figure and the message alike: 119.99 days is 119, expired 2.005 days ago is -2
        'days_remaining': int(seconds / SECONDS_PER_DAY),
        'expired': seconds <= 0,
        'not_yet_valid': not_before > now,
        'sans': dns_names + ip_addresses,
        'is_ca': _is_ca(certificate),
        'self_signed': certificate.subject == certificate.issuer,
        'sha256_fingerprint': certificate.fingerprint(hashes.SHA256()).hex(':').upper(),
    }


def expiry_status(facts, warning_days, critical_days):
    """The status of one described certificate: expired or not yet valid is critical."""
    if facts['expired'] or facts['not_yet_valid']:
        return CRITICAL
    seconds = facts['seconds_remaining']
    if critical_days is not None and seconds < critical_days * SECONDS_PER_DAY:
        return CRITICAL
    if warning_days is not None and seconds < warning_days * SECONDS_PER_DAY:
        return WARNING
    return OK


def evaluate_chain(certificates, now, warning_days, critical_days, server_name=None):
    """Describe a chain (leaf first) and decide its status from the earliest-expiring certificate.

    Returns a dict of figures: the leaf's subject, issuer and SANs, whether the
    hostname matches, ``days_remaining``/``not_after`` of the certificate that
    expires first (it breaks the chain first), which one that is, and the chain.
    """
    chain = []
    for position, certificate in enumerate(certificates):
        facts = describe(certificate, now, position)
        facts['status'] = expiry_status(facts, warning_days, critical_days)
        chain.append(facts)
    leaf = chain[0]
    leaf_certificate = certificates[0]
    earliest = min(chain, key=lambda c: (c['seconds_remaining'], c['position']))
    not_yet_valid = [c for c in chain if c['not_yet_valid']]
    dns_names, ip_addresses = subject_alt_names(leaf_certificate)
    figures = {
        'subject': leaf['subject'],
        'issuer': leaf['issuer'],
        'sans': leaf['sans'],
        'hostname_matches': hostname_matches(server_name, dns_names, ip_addresses),
        'not_before': leaf['not_before'],
        'not_after': earliest['not_after'],
        'days_remaining': earliest['days_remaining'],
        'seconds_remaining': earliest['seconds_remaining'],
        'expires_first': {'position': earliest['position'], 'subject': earliest['subject'], 'is_leaf': earliest['position'] == 0},
        'chain_length': len(chain),
        'chain': chain,
    }
    status = expiry_status(earliest, warning_days, critical_days)
    if not_yet_valid:
        status = CRITICAL
    what = 'the leaf' if earliest['position'] == 0 else 'chain certificate %d (%s)' % (earliest['position'], earliest['subject'])
    if not_yet_valid:
        first = not_yet_valid[0]
        msg = 'certificate %d (%s) is not valid before %s' % (first['position'], first['subject'], first['not_before'])
    elif earliest['expired']:
        ago = -earliest['days_remaining']
        msg = '%s expired on %s (%s)' % (what, earliest['not_after'], '%d days ago' % ago if ago else 'less than a day ago')
    else:
        msg = '%s expires on %s, in %d days' % (what, earliest['not_after'], earliest['days_remaining'])
    return status, msg, figures
