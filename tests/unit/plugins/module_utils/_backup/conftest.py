# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Helpers of the _backup unit tests."""

from __future__ import annotations

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._backup import codec
from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf


def manifest_data(database, started, sha='a' * 64, size=1, compression='zstd'):
    """The JSON pg_backup writes, with made-up figures."""
    name = mf.backup_basename(database, started) + codec.EXTENSIONS[compression].join(['.dump', ''])
    return {'manifest_version': 1, 'database': database, 'file': name, 'format': 'custom', 'compression': compression,
            'started_at': mf.isoformat(started), 'stored_size_bytes': size, 'raw_size_bytes': size, 'sha256': sha,
            'pg_dump_version': 'pg_dump (PostgreSQL) 15.18', 'row_counts': {'registry.households': 3}, 'materialized_views': []}


@pytest.fixture
def make_manifest():
    """``make_manifest(database, started, ...)``: a manifest's JSON as pg_backup writes it."""
    return manifest_data
