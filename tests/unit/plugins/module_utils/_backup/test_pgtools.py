# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Client programs (_backup/pgtools.py): versions."""

from __future__ import annotations

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._backup import pgtools
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupToolError


def test_old_pg_dump_is_refused():
    with pytest.raises(BackupToolError, match='older than the server'):
        pgtools.require_not_older('/x/pg_dump', 13, 150018)
    pgtools.require_not_older('/x/pg_dump', 16, 150018)


@pytest.mark.parametrize('text, major', [('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)', 15), ('pg_dump (PostgreSQL) 9.6.24', 9), ('nope', None)])
def test_major_version(text, major):
    assert pgtools.major_version(text) == major
