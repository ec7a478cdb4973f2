# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Database administration of restores (_backup/admin.py) that needs no server: the session pg_restore runs in."""

from __future__ import annotations

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._backup import admin
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import Connector


@pytest.mark.parametrize('jobs', [1, 2, 4])
def test_pg_restore_session_settings_keep_the_callers_pgoptions(tmp_path, monkeypatch, jobs):
    # a stand-in pg_restore that records the PGOPTIONS it was started with
    seen = tmp_path / 'pgoptions'
    fake = tmp_path / 'pg_restore'
    fake.write_text('#!/bin/sh\nprintf "%%s" "$PGOPTIONS" > %s\n' % seen)
    fake.chmod(0o700)
    monkeypatch.setenv('PGOPTIONS', '-c statement_timeout=0')
    restorer = admin.Restorer(None, Connector({}), pg_bin_dir=str(tmp_path), jobs=jobs)
    restorer.pg_restore(str(tmp_path / 'backup.raw'), 'scratch')
    options = seen.read_text().split(' -c ')
    assert options == ['-c statement_timeout=0', 'maintenance_work_mem=512MB', 'synchronous_commit=off']
    assert restorer.commands and '--jobs=%d' % jobs in restorer.commands[0]


def test_names_of_scratch_and_aside_databases_fit_postgresql():
    long_name = 'd' * 63
    assert len(admin.scratch_name(long_name)) <= 63 and admin.scratch_name(long_name).startswith(admin.SCRATCH_PREFIX)
    aside = admin.aside_name(long_name)
    assert len(aside) <= 63 and admin.ASIDE_INFIX in aside
    assert admin.aside_name('dsr_db').startswith('dsr_db_before_restore_')


def test_describe_objects_lists_the_most_first():
    assert admin.describe_objects({'views': 1, 'tables': 9, 'functions': 1}) == '9 tables, 1 functions, 1 views'
