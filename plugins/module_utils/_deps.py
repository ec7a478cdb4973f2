# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Guards for optional third-party imports.

Each guarded library is imported once here; modules ask ``require()`` before
they touch it, which fails with ansible's ``missing_required_lib`` message and
the saved import traceback instead of a bare ImportError.
"""

from __future__ import annotations

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

_LIBRARIES = {
    'psycopg2': (lambda: HAS_PSYCOPG2, lambda: PSYCOPG2_IMPORT_ERROR, 'psycopg2 (or psycopg2-binary)'),
    'zstandard': (lambda: HAS_ZSTANDARD, lambda: ZSTANDARD_IMPORT_ERROR, 'zstandard'),
}


def require(module, name):
    """Fail the module with install advice when the library ``name`` is missing."""
    has, error, pip_name = _LIBRARIES[name]
    if not has():
        module.fail_json(msg=missing_required_lib(pip_name), exception=error())
