# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""dsr.ops.cert_expiry as a Check: its options and its run, for the module and for dsr.ops.ops_checks."""

from __future__ import annotations

from ansible_collections.dsr.ops.plugins.module_utils._module import Check
from ansible_collections.dsr.ops.plugins.module_utils._status import FAIL_ON_CHOICES, gate
from ansible_collections.dsr.ops.plugins.module_utils._tls.certificates import CertificateError, parse_now
from ansible_collections.dsr.ops.plugins.module_utils._tls.endpoint import PROTOCOLS
from ansible_collections.dsr.ops.plugins.module_utils._tls.expiry import DEFAULTS, HOSTNAME_MISMATCH_CHOICES, UNTRUSTED_CHOICES, ExpiryCheck, validate


def argument_spec():
    """The module's options."""
    return dict(
        endpoints=dict(type='list', elements='dict', options=dict(
            host=dict(type='str', required=True),
            port=dict(type='int', default=443),
            server_name=dict(type='str'),
            protocol=dict(type='str', choices=list(PROTOCOLS), default='tls'),
            name=dict(type='str'),
        )),
        files=dict(type='list', elements='path'),
        contents=dict(type='list', elements='dict', options=dict(
            name=dict(type='str', required=True),
            pem=dict(type='str', required=True, no_log=True),
            server_name=dict(type='str'),
        )),
        warning_days=dict(type='int', default=DEFAULTS['warning_days']),
        critical_days=dict(type='int', default=DEFAULTS['critical_days']),
        hostname_mismatch=dict(type='str', choices=list(HOSTNAME_MISMATCH_CHOICES), default=DEFAULTS['hostname_mismatch']),
        untrusted=dict(type='str', choices=list(UNTRUSTED_CHOICES), default=DEFAULTS['untrusted']),
        ca_cert=dict(type='path'),
        timeout=dict(type='float', default=DEFAULTS['timeout']),
        now=dict(type='str'),
        fail_on=dict(type='str', choices=list(FAIL_ON_CHOICES), default='critical'),
    )


def libraries(params):
    """cryptography always; pyOpenSSL for the chains the endpoints present."""
    return ['cryptography'] + (['OpenSSL'] if params['endpoints'] else [])


def check_options(params):
    """Every problem with the options, the injected C(now) among them."""
    problems = validate(params)
    try:
        parse_now(params['now'])
    except CertificateError as exc:
        problems.append(str(exc))
    return problems


def run(params, check_mode, dummy_libraries):
    """Read every target: the module's result."""
    result = ExpiryCheck(params, parse_now(params['now'])).run()
    result['changed'] = False
    return result


def gate_result(result, params):
    """The failure message for fail_on, per certificate target."""
    return gate(result, params['fail_on'], 'certificates are', ((c['name'], c) for c in result['certificates']))


CHECK = Check('cert_expiry', argument_spec, run, gate_result, libraries=libraries, validate=check_options)
