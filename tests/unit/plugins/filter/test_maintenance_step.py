# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsr.ops.maintenance_step: how each maintenance action ended, from what it produced."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dsr.ops.plugins.filter.maintenance_step import maintenance_step


def operation(status='done', seconds=1.5, table='public.households'):
    return {'table': table, 'status': status, 'duration_seconds': seconds, 'sql': 'VACUUM (ANALYZE) ' + table}


def db_result(operations, invalid=0, needing=0):
    return {'schedule': 'weekly', 'operations': operations,
            'reports': {'invalid_indexes': {'items': [{}] * invalid}, 'tables_needing_vacuum': {'items': [{}] * needing}}}


def test_vacuum_done_is_ok_with_its_figures():
    step = maintenance_step(db_result([operation(), operation(seconds=2.0, table='public.members')], needing=1), 'vacuum_analyze')
    assert step == {'status': 'ok', 'summary': 'VACUUM (ANALYZE): 2 operations in 3.5 s; 0 invalid indexes, 1 table needing vacuum',
                    'figures': {'operations': 2, 'seconds': 3.5, 'invalid_indexes': 0, 'tables_needing_vacuum': 1}}


def test_an_invalid_index_is_a_warning_and_an_operation_not_done_is_critical():
    assert maintenance_step(db_result([operation()], invalid=1), 'reindex')['status'] == 'warning'
    failed = operation(status='failed', table='public.payments')
    failed['error'] = 'canceling statement due to lock timeout'
    step = maintenance_step(db_result([operation(), failed]), 'reindex')
    assert step['status'] == 'critical'
    assert step['summary'].endswith('not done: public.payments (canceling statement due to lock timeout)')


def test_no_operation_at_all_is_critical_and_check_mode_is_planned():
    assert maintenance_step(db_result([]), 'vacuum_analyze')['status'] == 'critical'
    step = maintenance_step(db_result([operation(status='planned', seconds=0)]), 'vacuum_analyze')
    assert step['status'] == 'ok' and step['summary'].startswith('VACUUM (ANALYZE): 1 operation planned (check mode);')


@pytest.mark.parametrize('status, expected', [('ok', 'ok'), ('warning', 'warning'), ('critical', 'critical'), ('unknown', 'critical'),
                                              (None, 'critical')])
def test_a_check_that_could_not_judge_does_not_pass(status, expected):
    step = maintenance_step({'status': status, 'summary': '%s: x' % status}, 'certificates')
    assert step['status'] == expected and step['summary'] == 'certificates: %s: x' % status


def test_dr_drill():
    good = {'target_database': 'dsr_db_dr_test', 'validation': {'status': 'ok'}, 'rpo_seconds': 3600.0, 'rto_seconds': 900.0,
            'rpo_met': True, 'rto_met': True, 'backup': {'size_bytes': 1024}, 'check_mode': False}
    assert maintenance_step(good, 'dr_drill') == {
        'status': 'ok', 'summary': 'DR drill into dsr_db_dr_test: validated; RPO 3600 s, RTO 900 s; objectives met',
        'figures': {'rpo_seconds': 3600.0, 'rto_seconds': 900.0, 'size_bytes': 1024}}
    assert maintenance_step(dict(good, rto_met=False), 'dr_drill')['summary'].endswith('objective missed: RTO')
    assert maintenance_step(dict(good, validation={'status': 'critical'}), 'dr_drill')['status'] == 'critical'
    assert maintenance_step(dict(good, validation=None, check_mode=True), 'dr_drill')['summary'] == (
        'DR drill into dsr_db_dr_test planned (check mode)')


@pytest.mark.parametrize('days, status, tail', [
    (120.0, 'ok', 'the disk threshold is 120 days away'),
    (60.0, 'warning', '60 days away (under 90): plan storage'),
    (12.0, 'critical', '12 days away (under 30): add storage now'),
])
def test_capacity_from_the_trends(days, status, tail):
    step = maintenance_step({'database_growth_bytes_per_day': 1048576.0, 'database_disk_full_days': days}, 'capacity_review')
    assert step['status'] == status and step['summary'].endswith(tail)
    assert step['summary'].startswith('capacity review: the database grows 1.0 MiB a day')


def test_capacity_without_history_is_a_warning_not_ok():
    step = maintenance_step({}, 'capacity_review')
    assert step['status'] == 'warning' and 'no database growth trend in the history yet' in step['summary']
    steady = maintenance_step({'database_growth_bytes_per_day': 0.0}, 'capacity_review', warning_days=60)
    assert steady['status'] == 'ok' and steady['summary'].endswith('not in sight at that rate')


def test_cleanup_counts_what_it_deleted_or_would():
    files = [{'host': 'h', 'path': '/var/log/dsr/a.log.1.gz', 'size': 1048576}, {'host': 'h', 'path': '/var/log/dsr/b.log.2.gz', 'size': 0}]
    assert maintenance_step(files, 'cleanup')['summary'] == 'cleanup deleted 2 files (1.0 MiB) older than their age limit'
    assert maintenance_step(files[:1], 'cleanup', check_mode=True)['summary'].startswith('cleanup would delete 1 file (1.0 MiB)')


def test_security_updates_listed_and_applied():
    pending = {'app1': [{'name': 'openssl', 'security': True}, {'name': 'vim', 'security': False}], 'app2': []}
    listed = maintenance_step(pending, 'security_updates')
    assert listed['status'] == 'warning'
    assert listed['summary'] == 'security updates pending: 1 on 2 hosts (app1: openssl; app2: none) - listed, not applied'
    assert listed['figures'] == {'hosts': 2, 'security_updates': 1, 'updates': 2}
    assert maintenance_step({'app2': []}, 'security_updates')['status'] == 'ok'
    assert maintenance_step(pending, 'security_updates', applied=True, health='ok')['status'] == 'ok'
    assert maintenance_step(pending, 'security_updates', applied=True, health='critical')['status'] == 'critical'
    assert maintenance_step(pending, 'security_updates', applied=True, health=None)['status'] == 'critical'


def test_an_unknown_action_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match="unknown action 'defrag'"):
        maintenance_step({}, 'defrag')
