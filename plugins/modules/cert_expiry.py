#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: cert_expiry
short_description: Check when TLS certificates expire, on endpoints, in files and in PEM text
version_added: 0.2.0
description:
  - The runbook's weekly certificate check (Maintenance, Certificate Management) as one read-only task.
  - "Looks at many targets per call, each with its own status (V(ok), V(warning), V(critical), V(unknown)):
    TLS endpoints (host, port, SNI server name), PostgreSQL servers (the C(SSLRequest) handshake that precedes
    TLS on PostgreSQL's port, so the database server's certificate can be checked), PEM files and PEM text
    (for example C(tls.crt) of a Kubernetes TLS secret)."
  - For an endpoint the whole presented chain is read, not only the leaf, and the certificate that expires
    first decides, because an intermediate that expires before the leaf breaks the chain just the same.
  - Fewer than O(warning_days) days left is V(warning), fewer than O(critical_days) is V(critical); an
    expired or not yet valid certificate is always V(critical). A target that could not be looked at
    (connection refused, timeout, no TLS, unreadable file, no certificate in the text) is V(unknown) with
    the reason, never V(ok).
  - The server name is matched against the leaf's subjectAltNames (DNS names with RFC 6125 wildcards, IP
    addresses); the common name is not used, as in browsers and Python's ssl module.
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.attributes
  - dsr.ops.attributes.INFO_MODULE
options:
  endpoints:
    description:
      - TLS servers to connect to. The handshake never fails on an expired or untrusted certificate,
        since looking at it is the point. See RV(certificates[].trusted) for what verification said.
    type: list
    elements: dict
    suboptions:
      host:
        description: Host name or IP address to connect to.
        type: str
        required: true
      port:
        description: TCP port.
        type: int
        default: 443
      server_name:
        description:
          - Name sent as SNI and matched against the certificate. Defaults to O(endpoints[].host).
          - Set it when connecting by address to a name-based virtual host.
        type: str
      protocol:
        description:
          - V(tls) for a server that speaks TLS at once (HTTPS, LDAPS, ...).
          - V(postgres) for a PostgreSQL server, which expects an C(SSLRequest) first; a server with
            C(ssl = off) is V(unknown) with that reason.
        type: str
        choices: [tls, postgres]
        default: tls
      name:
        description:
          - Label of this endpoint in the results. Defaults to C(host:port), C(postgres://host:port) for PostgreSQL.
        type: str
  files:
    description:
      - PEM files on the host running the module. Every certificate in a file counts (a bundle is read as
        a chain, leaf first); private keys in the same file are ignored and never returned.
    type: list
    elements: path
  contents:
    description:
      - PEM text, for example from a Kubernetes TLS secret (C(secret.data['tls.crt'] | b64decode)).
    type: list
    elements: dict
    suboptions:
      name:
        description: Label of this text in the results.
        type: str
        required: true
      pem:
        description:
          - One or more PEM certificates. Other PEM blocks are ignored.
          - Not logged, in case a whole secret (with its C(tls.key)) is passed.
        type: str
        required: true
      server_name:
        description: A name to match against the certificate; when unset, no name is matched.
        type: str
  warning_days:
    description: Fewer days than this before the first certificate of a chain expires is V(warning).
    type: int
    default: 30
  critical_days:
    description: Fewer days than this is V(critical). Must not be more than O(warning_days).
    type: int
    default: 7
  hostname_mismatch:
    description:
      - What a server name that the leaf certificate does not cover makes the target.
      - V(critical) by default, because clients refuse such a certificate; V(ignore) only reports
        RV(certificates[].hostname_matches).
    type: str
    choices: [critical, warning, ignore]
    default: critical
  untrusted:
    description:
      - What an endpoint whose chain does not verify against O(ca_cert) (or the system store) makes the target - a
        missing intermediate, a self-signed certificate, an unknown CA. Clients that verify refuse such a chain, so it is
        V(warning) by default whatever the dates say; V(critical) is stricter, V(ignore) only reports
        RV(certificates[].trusted) (for a private CA whose certificate you cannot give).
      - Errors about the validity period alone (expired, not yet valid) are left to the expiry figures.
    type: str
    choices: [critical, warning, ignore]
    default: warning
  ca_cert:
    description:
      - CA certificates (PEM file) used to tell whether an endpoint's chain is trusted, reported in
        RV(certificates[].trusted). When unset, the system's trust store.
      - An untrusted chain makes the target V(warning) (see O(untrusted)).
    type: path
  timeout:
    description: Seconds to wait for each endpoint's connection and handshake.
    type: float
    default: 10
  now:
    description:
      - The moment to count days from, as ISO 8601 (V(2025-06-01T08:00:00Z); without a zone, UTC).
        For tests and for asking "what will have expired by then". Defaults to the current time.
      - Only the expiry figures use it; RV(certificates[].trusted) is decided by OpenSSL with the real clock.
    type: str
  fail_on:
    description:
      - When the task fails. V(critical) fails on an overall V(critical) or V(unknown); V(warning) on
        V(warning) too; V(never) only reports.
    type: str
    choices: [critical, warning, never]
    default: critical
requirements:
  - cryptography
  - pyOpenSSL (for endpoints; Python 3.11's ssl module does not expose the presented chain)
notes:
  - Read-only; RV(ignore:changed) is always false.
  - Runs where C(ansible-playbook) runs (the controller or the AWX execution environment) and connects from there.
  - Proxies are not supported; run the module on a host that reaches the endpoints.
seealso:
  - module: dsr.ops.pg_health
  - module: dsr.ops.metrics_check
'''

EXAMPLES = r'''
- name: Weekly certificate check of one environment
  dsr.ops.cert_expiry:
    endpoints:
      - host: registry.dsr.example
      - host: api.dsr.example
        port: 8443
      - host: 10.0.4.12
        port: 5432
        protocol: postgres
        server_name: db.dsr.example
    ca_cert: /etc/pki/dsr/ca.pem
  register: certs

- name: A Kubernetes TLS secret's certificate, reported but never failing
  dsr.ops.cert_expiry:
    contents:
      - name: dsr-production/registry-tls
        pem: "{{ registry_tls_secret.resources[0].data['tls.crt'] | b64decode }}"
        server_name: registry.dsr.example
    fail_on: never
  register: secret_cert

- name: What will have expired by the next maintenance window
  dsr.ops.cert_expiry:
    files: [/etc/ssl/dsr/registry.pem]
    now: "2025-12-01T00:00:00Z"
    fail_on: never
'''

RETURN = r'''
status:
  description: Overall status, the worst of the targets.
  returned: always
  type: str
  sample: warning
summary:
  description: One line naming the overall status and every target that is not V(ok).
  returned: always
  type: str
  sample: "warning: registry.dsr.example:443=warning"
failed_checks:
  description: Names of the targets whose status made the task fail under O(fail_on).
  returned: always
  type: list
  elements: str
  sample: ["postgres://10.0.4.12:5432"]
now:
  description: The moment the days were counted from (O(now) or the current time), ISO 8601 UTC.
  returned: always
  type: str
  sample: "2025-06-01T08:00:00Z"
certificates:
  description: One entry per target, endpoints first, then files, then contents, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The target's label (see O(endpoints[].name)), the file path, or O(contents[].name).
      type: str
      returned: always
      sample: registry.dsr.example:443
    status:
      description: V(ok), V(warning), V(critical), or V(unknown) when the target could not be looked at.
      type: str
      returned: always
      sample: warning
    msg:
      description: Why, in words, naming the certificate that expires first.
      type: str
      returned: always
      sample: "chain certificate 1 (CN=DSR Issuing CA 2) expires on 2025-06-20T00:00:00Z, in 18 days"
    source:
      description: V(endpoint), V(file) or V(content).
      type: str
      returned: always
      sample: endpoint
    host:
      description: Endpoint host.
      type: str
      returned: for endpoints
      sample: registry.dsr.example
    port:
      description: Endpoint port.
      type: int
      returned: for endpoints
      sample: 443
    server_name:
      description: The SNI name sent and matched.
      type: str
      returned: for endpoints
      sample: registry.dsr.example
    protocol:
      description: V(tls) or V(postgres).
      type: str
      returned: for endpoints
      sample: tls
    path:
      description: The file read.
      type: str
      returned: for files
      sample: /etc/ssl/dsr/registry.pem
    tls_version:
      description: Negotiated protocol version.
      type: str
      returned: for endpoints that answered
      sample: TLSv1.3
    cipher:
      description: Negotiated cipher.
      type: str
      returned: for endpoints that answered
      sample: TLS_AES_256_GCM_SHA384
    trusted:
      description: Whether OpenSSL verified the chain against O(ca_cert) or the system store (real clock, name not checked).
      type: bool
      returned: for endpoints that answered
      sample: true
    verify_errors:
      description: What verification objected to, per chain depth.
      type: list
      elements: str
      returned: for endpoints that answered
      sample: ["depth 0: certificate has expired"]
    subject:
      description: Subject of the leaf certificate (RFC 4514).
      type: str
      returned: when a certificate was read
      sample: CN=registry.dsr.example
    issuer:
      description: Issuer of the leaf certificate (RFC 4514).
      type: str
      returned: when a certificate was read
      sample: CN=DSR Issuing CA 2,O=DSR
    sans:
      description: The leaf's subjectAltNames, DNS names then IP addresses.
      type: list
      elements: str
      returned: when a certificate was read
      sample: [registry.dsr.example, 10.0.4.20]
    hostname_matches:
      description: Whether the server name is covered by the leaf's subjectAltNames; null when no name was given.
      type: bool
      returned: when a certificate was read
      sample: true
    not_before:
      description: Start of the leaf's validity, ISO 8601 UTC.
      type: str
      returned: when a certificate was read
      sample: "2025-03-01T00:00:00Z"
    not_after:
      description: End of validity of the certificate that expires first in the chain, ISO 8601 UTC.
      type: str
      returned: when a certificate was read
      sample: "2025-06-20T00:00:00Z"
    days_remaining:
      description:
        - Whole days until RV(certificates[].not_after), counted toward zero (119.99 days left is V(119), expired 2.005 days
          ago is V(-2)); negative once expired. RV(certificates[].msg) uses the same figure, RV(certificates[].seconds_remaining)
          has the exact one.
      type: int
      returned: when a certificate was read
      sample: 18
    seconds_remaining:
      description: Seconds until RV(certificates[].not_after).
      type: int
      returned: when a certificate was read
      sample: 1612800
    expires_first:
      description: Which certificate expires first, C(position) in the chain (0 is the leaf), C(subject), C(is_leaf).
      type: dict
      returned: when a certificate was read
      sample: {position: 1, subject: "CN=DSR Issuing CA 2,O=DSR", is_leaf: false}
    chain_length:
      description: Number of certificates presented (or in the file).
      type: int
      returned: when a certificate was read
      sample: 2
    chain:
      description:
        - Every certificate, leaf first, each with C(position), C(subject), C(issuer), C(serial_number), C(not_before),
          C(not_after), C(days_remaining), C(seconds_remaining), C(expired), C(not_yet_valid), C(sans), C(is_ca),
          C(self_signed), C(sha256_fingerprint) and its own C(status).
      type: list
      elements: dict
      returned: when a certificate was read
      sample: [{position: 0, subject: CN=registry.dsr.example, not_after: "2025-08-30T00:00:00Z", days_remaining: 89, status: ok}]
'''

from ansible_collections.dsr.ops.plugins.module_utils._module import run_module
from ansible_collections.dsr.ops.plugins.module_utils._tls.entry import CHECK


def main():
    run_module(CHECK)


if __name__ == '__main__':
    main()
