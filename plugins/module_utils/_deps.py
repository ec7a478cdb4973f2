# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Guards for optional third-party imports.

Each guarded library is imported once here; modules ask ``require()`` before
they touch it, which fails with ansible's ``missing_required_lib`` message and
the saved import traceback instead of a bare ImportError.
"""

from __future__ import annotations

import importlib
import traceback

from ansible.module_utils.basic import missing_required_lib

try:
    import psycopg2  # noqa: F401  pylint: disable=unused-import
    import psycopg2.extras  # noqa: F401  pylint: disable=unused-import
    import psycopg2.sql  # noqa: F401  pylint: disable=unused-import
except ImportError:
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()
    HAS_PSYCOPG2 = False
else:
    PSYCOPG2_IMPORT_ERROR = None
    HAS_PSYCOPG2 = True

try:
    import zstandard  # noqa: F401  pylint: disable=unused-import
except ImportError:
    ZSTANDARD_IMPORT_ERROR = traceback.format_exc()
    HAS_ZSTANDARD = False
else:
    ZSTANDARD_IMPORT_ERROR = None
    HAS_ZSTANDARD = True

try:
    import cryptography  # noqa: F401  pylint: disable=unused-import
    import cryptography.x509  # noqa: F401  pylint: disable=unused-import
except ImportError:
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
    HAS_CRYPTOGRAPHY = False
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None
    HAS_CRYPTOGRAPHY = True

# pyOpenSSL, for the chain a TLS server presents: Python 3.11's ssl module only
# exposes the leaf (get_unverified_chain is public from 3.13 on).
try:
    import OpenSSL  # noqa: F401  pylint: disable=unused-import
    import OpenSSL.SSL  # noqa: F401  pylint: disable=unused-import
except ImportError:
    PYOPENSSL_IMPORT_ERROR = traceback.format_exc()
    HAS_PYOPENSSL = False
else:
    PYOPENSSL_IMPORT_ERROR = None
    HAS_PYOPENSSL = True

# boto3 takes a third of a second to import: only the S3 modules pay for it, at require() time.
_LAZY_ERRORS = {}


def _lazy_import_error(*names):
    """None when every module in ``names`` imports, else the first import traceback (cached)."""
    if names not in _LAZY_ERRORS:
        _LAZY_ERRORS[names] = None
        for name in names:
            try:
                importlib.import_module(name)
            except ImportError:
                _LAZY_ERRORS[names] = traceback.format_exc()
                break
    return _LAZY_ERRORS[names]


_LIBRARIES = {
    'psycopg2': (lambda: HAS_PSYCOPG2, lambda: PSYCOPG2_IMPORT_ERROR, 'psycopg2 (or psycopg2-binary)'),
    'zstandard': (lambda: HAS_ZSTANDARD, lambda: ZSTANDARD_IMPORT_ERROR, 'zstandard'),
    'cryptography': (lambda: HAS_CRYPTOGRAPHY, lambda: CRYPTOGRAPHY_IMPORT_ERROR, 'cryptography'),
    'OpenSSL': (lambda: HAS_PYOPENSSL, lambda: PYOPENSSL_IMPORT_ERROR, 'pyOpenSSL'),
    'boto3': (lambda: _lazy_import_error('boto3', 'botocore.config') is None, lambda: _lazy_import_error('boto3', 'botocore.config'), 'boto3'),
}


def require(module, name):
    """Fail the module with install advice when the library ``name`` is missing."""
    has, error, pip_name = _LIBRARIES[name]
    if not has():
        module.fail_json(msg=missing_required_lib(pip_name), exception=error())
