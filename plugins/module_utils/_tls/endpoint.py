# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fetch the certificate chain a TLS server presents, including PostgreSQL's.

Python 3.11's ssl module only exposes the leaf certificate, so the handshake is
made with pyOpenSSL, which returns the whole presented chain. Verification
never stops the handshake: an expired or untrusted certificate is exactly
what this module must be able to look at. Its outcome is reported instead.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import struct
import time

from ansible_collections.dsr.ops.plugins.module_utils import _deps

if _deps.HAS_PYOPENSSL:
    from OpenSSL import SSL

# PostgreSQL's SSLRequest: length 8, then the magic code 1234.5679 (80877103).
POSTGRES_SSL_REQUEST = struct.pack('!ii', 8, 80877103)

PROTOCOLS = ('tls', 'postgres')

# The X.509 verification results worth naming (OpenSSL's X509_V_ERR_* codes).
_VERIFY_ERRORS = {
    2: 'unable to get issuer certificate',
    9: 'certificate is not yet valid',
    10: 'certificate has expired',
    18: 'self-signed certificate',
    19: 'self-signed certificate in certificate chain',
    20: 'unable to get local issuer certificate',
    21: 'unable to verify the first certificate',
    24: 'invalid CA certificate',
    26: 'unsupported certificate purpose',
}


class EndpointError(Exception):
    """The endpoint could not be looked at; ``str()`` names it and says why."""


def _wait(sock, for_write, deadline, where):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise EndpointError('%s: timed out during the TLS handshake' % where)
    readable, writable, _errors = select.select([] if for_write else [sock], [sock] if for_write else [], [], remaining)
    if not readable and not writable:
        raise EndpointError('%s: timed out during the TLS handshake' % where)


def _postgres_ssl_request(sock, where):
    sock.sendall(POSTGRES_SSL_REQUEST)
    try:
        answer = sock.recv(1)
    except socket.timeout:
        raise EndpointError('%s: no answer to the PostgreSQL SSLRequest in time (is it a PostgreSQL server?)' % where) from None
    if answer == b'S':
        return
    if answer == b'N':
        raise EndpointError('%s: the PostgreSQL server does not offer TLS (ssl = off)' % where)
    raise EndpointError('%s: not a PostgreSQL server (answered %r to an SSLRequest)' % (where, answer))


def fetch_chain(host, port, server_name=None, protocol='tls', timeout=10.0, ca_cert=None):
    """Connect, handshake and return the presented chain and what verification said.

    Returns a dict: ``certificates`` (cryptography objects, leaf first),
    ``tls_version``, ``cipher``, ``trusted`` (verification against ``ca_cert``
    or the system store, by the real clock) and ``verify_errors``.
    """
    where = '%s:%d' % (host, port)
    verify_errors = []

    def record(_conn, _cert, errnum, depth, ok):
        if not ok:
            verify_errors.append('depth %d: %s' % (depth, _VERIFY_ERRORS.get(errnum, 'X.509 verification error %d' % errnum)))
        return True  # look at the certificate whatever verification says

    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_verify(SSL.VERIFY_PEER, record)
    try:
        if ca_cert:
            context.load_verify_locations(ca_cert)
        else:
            context.set_default_verify_paths()
    except SSL.Error as exc:
        raise EndpointError('cannot load the CA certificates %s: %s' % (ca_cert or '(system store)', exc)) from None

    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise EndpointError('%s: unable to connect: %s' % (where, exc.strerror or exc)) from None
    try:
        try:
            if protocol == 'postgres':
                _postgres_ssl_request(sock, where)
            connection = SSL.Connection(context, sock)
            connection.set_connect_state()
            sni = server_name or host
            if not _is_ip(sni):
                connection.set_tlsext_host_name(sni.encode('idna'))
            while True:
                try:
                    connection.do_handshake()
                    break
                except SSL.WantReadError:
                    _wait(sock, False, deadline, where)
                except SSL.WantWriteError:
                    _wait(sock, True, deadline, where)
        except SSL.Error as exc:
            raise EndpointError('%s: TLS handshake failed: %s' % (where, _ssl_reason(exc))) from None
        except OSError as exc:
            raise EndpointError('%s: connection failed: %s' % (where, exc.strerror or exc)) from None
        chain = connection.get_peer_cert_chain(as_cryptography=True) or []
        if not chain:
            raise EndpointError('%s: the server presented no certificate' % where)
        result = {
            'certificates': list(chain),
            'tls_version': connection.get_protocol_version_name(),
            'cipher': connection.get_cipher_name(),
            'trusted': not verify_errors,
            'verify_errors': verify_errors,
        }
        try:
            connection.shutdown()
        except (SSL.Error, OSError):
            pass  # the peer may hang up first; the chain is already read
        return result
    finally:
        sock.close()


def _is_ip(name):
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _ssl_reason(exc):
    """pyOpenSSL's error list as one readable line."""
    parts = []
    for entry in exc.args[0] if exc.args and isinstance(exc.args[0], list) else []:
        if isinstance(entry, tuple) and entry:
            parts.append(str(entry[-1]))
    return ', '.join(parts) or str(exc) or exc.__class__.__name__
