# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Guards for optional third-party imports, each imported only by the code that needs it.

``_deps.HAS_PSYCOPG2`` (and ``HAS_ZSTANDARD``, ``HAS_CRYPTOGRAPHY``,
``HAS_PYOPENSSL``) try their library on first access, once, and remember the
traceback of a failed import. A module therefore pays only for the libraries its
own backend touches: pg_health no longer imports zstandard, cryptography and
pyOpenSSL. ``require()`` fails a module with ansible's ``missing_required_lib``
message and that traceback instead of a bare ImportError.
"""

from __future__ import annotations

import importlib
import traceback

from ansible.module_utils.basic import missing_required_lib

# name for require() -> (modules imported together, what pip installs)
_LIBRARIES = {
    'psycopg2': (('psycopg2', 'psycopg2.extras', 'psycopg2.sql', 'psycopg2.errors'), 'psycopg2 (or psycopg2-binary)'),
    'zstandard': (('zstandard',), 'zstandard'),
    'cryptography': (('cryptography', 'cryptography.x509'), 'cryptography'),
    # pyOpenSSL, for the chain a TLS server presents: Python 3.11's ssl module only exposes the leaf
    'OpenSSL': (('OpenSSL', 'OpenSSL.SSL'), 'pyOpenSSL'),
    # boto3 takes a third of a second to import: only the S3 module pays for it
    'boto3': (('boto3', 'botocore.config'), 'boto3'),
    # python-isal: optional, gzip'd access logs decompress about three times faster than with zlib
    'isal': (('isal', 'isal.igzip', 'isal.isal_zlib'), 'isal'),
    # the official Kubernetes client: kubeconfig, exec plugins, in-cluster configuration, and the requests
    'kubernetes': (('kubernetes', 'kubernetes.client', 'kubernetes.config', 'urllib3'), 'kubernetes'),
    # configuration backups are YAML; ansible-core itself depends on PyYAML, so it is there wherever ansible-playbook runs
    'yaml': (('yaml',), 'PyYAML'),
    # recurrence rules of the maintenance windows; botocore depends on python-dateutil, so the S3 module's hosts have it
    'dateutil': (('dateutil', 'dateutil.rrule'), 'python-dateutil'),
}

_FLAGS = {'HAS_PSYCOPG2': 'psycopg2', 'HAS_ZSTANDARD': 'zstandard', 'HAS_CRYPTOGRAPHY': 'cryptography', 'HAS_PYOPENSSL': 'OpenSSL', 'HAS_ISAL': 'isal'}

_ERRORS = {}


def import_error(name):
    """None when library ``name`` imports, else the traceback of its failed import (tried once)."""
    if name not in _ERRORS:
        _ERRORS[name] = None
        for module_name in _LIBRARIES[name][0]:
            try:
                importlib.import_module(module_name)
            except ImportError:
                _ERRORS[name] = traceback.format_exc()
                break
    return _ERRORS[name]


def __getattr__(attribute):
    """``HAS_<LIBRARY>``: whether the library imports, tried on first access."""
    if attribute in _FLAGS:
        return import_error(_FLAGS[attribute]) is None
    raise AttributeError('module %r has no attribute %r' % (__name__, attribute))


def missing(name):
    """None when library ``name`` imports, else the fail_json keywords: install advice and the traceback."""
    error = import_error(name)
    if error is None:
        return None
    return {'msg': missing_required_lib(_LIBRARIES[name][1]), 'exception': error}


def require(module, name):
    """Fail the module with install advice when the library ``name`` is missing."""
    failure = missing(name)
    if failure is not None:
        module.fail_json(**failure)
