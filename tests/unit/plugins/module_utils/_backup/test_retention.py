# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Retention (_backup/retention.py): what it keeps, what it deletes, what it leaves alone."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._backup import retention
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupInputError

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


@pytest.fixture
def entry(make_manifest):
    """``entry(days_old, verified)``: a listed backup of that age."""
    def make(days_old, verified=False, sha='5' * 64):
        started = NOW - datetime.timedelta(days=days_old)
        manifest = mf.parse(make_manifest('dsr_db', started, sha), 'm')
        return {'path': '/b/%d' % days_old, 'manifest_path': '/b/%d.manifest.json' % days_old, 'started_at': started,
                'manifest': manifest, 'verification': {'status': 'ok', 'sha256': sha} if verified else None, 'problem': None}
    return make


def test_retention_keep_last(entry):
    entries = [entry(d) for d in range(5)]
    delete, keep, dummy = retention.plan(entries, keep_last=2, now=NOW)
    assert [e['path'] for e, r in delete] == ['/b/2', '/b/3', '/b/4']
    assert len(keep) == 2


def test_retention_never_deletes_newest_verified(entry):
    entries = [entry(0), entry(1), entry(2, verified=True), entry(3, verified=True)]
    delete, dummy, dummy = retention.plan(entries, keep_last=1, now=NOW)
    assert [e['path'] for e, r in delete] == ['/b/1', '/b/3']


def test_retention_verified_record_must_match_the_file(entry):
    stale_record = entry(2, verified=True)
    stale_record['verification']['sha256'] = 'other'
    delete, dummy, dummy = retention.plan([entry(0), stale_record], keep_last=1, now=NOW)
    assert [e['path'] for e, r in delete] == ['/b/2']


def test_retention_both_rules_must_agree(entry):
    entries = [entry(d) for d in (0, 1, 5, 20, 40)]
    delete, dummy, dummy = retention.plan(entries, keep_last=2, max_age_seconds=10 * 86400, now=NOW)
    assert [e['path'] for e, r in delete] == ['/b/20', '/b/40']


def test_retention_max_age_alone_keeps_the_newest_even_when_old(entry):
    entries = [entry(30), entry(40)]
    delete, keep, dummy = retention.plan(entries, max_age_seconds=86400, now=NOW)
    assert [e['path'] for e, r in delete] == ['/b/40']
    assert keep[0][1] == 'newest backup'


def test_retention_without_rules_deletes_nothing(entry):
    assert retention.plan([entry(d) for d in range(3)], now=NOW)[0] == []


def test_retention_rejects_zero(entry):
    with pytest.raises(BackupInputError):
        retention.plan([], keep_last=0)


def test_retention_leaves_unproven_and_future_backups_alone(entry):
    future = entry(-3)
    unproven = entry(2)
    unproven['problem'] = 'the file is 3 bytes, its manifest says 1'
    entries = [future, entry(0), entry(1), unproven, entry(3)]
    delete, keep, warnings = retention.plan(entries, keep_last=1, now=NOW)
    assert [e['path'] for e, r in delete] == ['/b/1', '/b/3']
    reasons = {e['path']: r for e, r in keep}
    assert reasons['/b/0'] == 'newest backup' and 'in the future' in reasons['/b/-3'] and 'left alone' in reasons['/b/2']
    assert len(warnings) == 2


def test_retention_never_deletes_the_backup_this_run_made(entry):
    entries = [entry(-0.001), entry(1)]
    # a backup a hair in the future (within the clock-skew allowance) outranks the one just made; the run's own stays
    delete, keep, dummy = retention.plan(entries, keep_last=1, now=NOW, protect='/b/1')
    assert delete == [] and dict((e['path'], r) for e, r in keep)['/b/1'] == 'made by this run'
