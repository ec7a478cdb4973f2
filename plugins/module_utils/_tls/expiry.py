# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The checks behind dsr.ops.cert_expiry: one verdict per endpoint, file or PEM text.

A target that could not be looked at (refused connection, no TLS, unreadable
file) is ``unknown`` with the reason, never ``ok``.
"""

from __future__ import annotations

from ansible_collections.dsr.ops.plugins.module_utils._status import CRITICAL, OK, WARNING, Check, summarize, worst
from ansible_collections.dsr.ops.plugins.module_utils._tls.certificates import (
    CertificateError,
    evaluate_chain,
    iso,
    load_pem_certificates,
)
from ansible_collections.dsr.ops.plugins.module_utils._tls.endpoint import EndpointError, fetch_chain

DEFAULTS = {
    'warning_days': 30,
    'critical_days': 7,
    'hostname_mismatch': 'critical',
    'untrusted': 'warning',
    'timeout': 10.0,
}

HOSTNAME_MISMATCH_CHOICES = ('critical', 'warning', 'ignore')
UNTRUSTED_CHOICES = ('critical', 'warning', 'ignore')
# verification errors about the validity period: the expiry figures judge those (against ``now``)
_TIME_ERRORS = ('certificate has expired', 'certificate is not yet valid')


def endpoint_name(endpoint):
    """The label of an endpoint: its ``name``, else host:port (prefixed for PostgreSQL)."""
    if endpoint.get('name'):
        return endpoint['name']
    label = '%s:%d' % (endpoint['host'], endpoint['port'])
    return 'postgres://' + label if endpoint.get('protocol') == 'postgres' else label


def validate(params):
    """Messages for inputs that cannot work, naming the option and the fix."""
    problems = []
    endpoints = params.get('endpoints') or []
    files = params.get('files') or []
    contents = params.get('contents') or []
    if not (endpoints or files or contents):
        problems.append('nothing to check: give at least one of endpoints, files or contents')
    for index, endpoint in enumerate(endpoints):
        if not endpoint.get('host'):
            problems.append('endpoints[%d]: host must not be empty' % index)
        if not 1 <= endpoint['port'] <= 65535:
            problems.append('endpoints[%d] (%s): port must be between 1 and 65535, got %d' % (index, endpoint.get('host'), endpoint['port']))
    for index, content in enumerate(contents):
        if not content.get('name'):
            problems.append('contents[%d]: name must not be empty (it labels the result)' % index)
    warning, critical = params['warning_days'], params['critical_days']
    if warning is not None and warning < 0 or critical is not None and critical < 0:
        problems.append('warning_days and critical_days must be 0 or more')
    elif warning is not None and critical is not None and critical > warning:
        problems.append('warning_days/critical_days: critical_days (%s) must not be more than warning_days (%s); '
                        'fewer days remaining is worse' % (critical, warning))
    if params['timeout'] <= 0:
        problems.append('timeout must be more than 0 seconds, got %s' % params['timeout'])
    names = [endpoint_name(e) for e in endpoints if e.get('host')] + list(files) + [c['name'] for c in contents if c.get('name')]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append('each target needs its own name, these repeat: %s (set endpoints[].name)' % ', '.join(duplicates))
    return problems


class ExpiryCheck:
    """Check every target of the options against ``now`` (an aware UTC datetime).

    ``fetch`` and ``read_file`` are injectable for tests.
    """

    def __init__(self, options, now, fetch=fetch_chain, read_file=None):
        self.options = dict(DEFAULTS)
        self.options.update(options)
        self.now = now
        self.fetch = fetch
        self.read_file = read_file or _read_file

    def run(self):
        """Return the module result: status, summary, failed names and one entry per target."""
        results = []
        for endpoint in self.options.get('endpoints') or []:
            results.append(self._endpoint(endpoint))
        for path in self.options.get('files') or []:
            results.append(self._file(path))
        for content in self.options.get('contents') or []:
            results.append(self._content(content))
        overall, summary = summarize(results)
        return {
            'status': overall,
            'summary': summary,
            'now': iso(self.now),
            'certificates': [dict(r.as_dict(), name=r.name) for r in results],
        }

    # -- one target each ---------------------------------------------------

    def _endpoint(self, endpoint):
        name = endpoint_name(endpoint)
        server_name = endpoint.get('server_name') or endpoint['host']
        where = {'source': 'endpoint', 'host': endpoint['host'], 'port': endpoint['port'],
                 'server_name': server_name, 'protocol': endpoint.get('protocol') or 'tls'}
        try:
            fetched = self.fetch(endpoint['host'], endpoint['port'], server_name=server_name, protocol=where['protocol'],
                                 timeout=self.options['timeout'], ca_cert=self.options.get('ca_cert'))
        except EndpointError as exc:
            return Check.unknown(name, 'could not look: %s' % exc, **where)
        where.update({key: fetched[key] for key in ('tls_version', 'cipher', 'trusted', 'verify_errors')})
        return self._verdict(name, fetched['certificates'], server_name, where)

    def _file(self, path):
        where = {'source': 'file', 'path': path}
        try:
            certificates = load_pem_certificates(self.read_file(path), path)
        except (OSError, CertificateError) as exc:
            return Check.unknown(path, 'could not look: %s' % _os_reason(exc), **where)
        return self._verdict(path, certificates, None, where)

    def _content(self, content):
        name = content['name']
        where = {'source': 'content'}
        try:
            certificates = load_pem_certificates(content['pem'], 'contents entry %s' % name)
        except CertificateError as exc:
            return Check.unknown(name, 'could not look: %s' % exc, **where)
        return self._verdict(name, certificates, content.get('server_name'), where)

    def _verdict(self, name, certificates, server_name, where):
        status, msg, figures = evaluate_chain(certificates, self.now, self.options['warning_days'],
                                              self.options['critical_days'], server_name)
        figures.update(where)
        policy = self.options['hostname_mismatch']
        if figures['hostname_matches'] is False and policy != 'ignore':
            status = worst([status, CRITICAL if policy == 'critical' else WARNING])
            msg += '; %s is not among the certificate names %s' % (server_name, ', '.join(figures['sans']) or '(no subjectAltName)')
        trust_errors = [e for e in figures.get('verify_errors') or [] if not e.endswith(_TIME_ERRORS)]
        untrusted = self.options.get('untrusted', DEFAULTS['untrusted'])
        if trust_errors and untrusted != 'ignore':
            # clients that verify (all of them, by default) refuse this chain, whatever its dates say
            status = worst([status, CRITICAL if untrusted == 'critical' else WARNING])
            msg += '; the chain is not trusted (%s)%s' % ('; '.join(trust_errors[:3]), '' if self.options.get('ca_cert') else
                                                          ': give ca_cert for a private CA, or set untrusted=ignore')
        if status == OK:
            msg = 'ok: ' + msg
        return Check(name, status, msg, **figures)


def _read_file(path):
    with open(path, 'rb') as handle:
        return handle.read()


def _os_reason(exc):
    if isinstance(exc, OSError):
        return '%s: %s' % (exc.filename or '', exc.strerror or exc)
    return str(exc)
