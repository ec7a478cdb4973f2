# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: maintenance_step
author:
  - DSR Operations Team (@dsr-ops)
version_added: 0.3.0
short_description: How one action of the weekly or monthly maintenance ended - status, one-line summary, figures
description:
  - Turns what an action of the roles C(dsr.ops.maintenance_weekly) and C(dsr.ops.maintenance_monthly) produced into the step
    the audit log (M(dsr.ops.change_record) with C(event=step)) and the notices record - C(status), C(summary), C(figures).
  - "C(status) is V(ok), V(warning) (it ran and found something to look at), V(critical) (it ran and found something wrong)
    or V(failed) (it did not run through). A check's own V(unknown) - it could not judge - is V(critical) here: a maintenance
    step that could not check what it had to does not pass."
  - "The actions and what each reads - V(vacuum_analyze) and V(reindex): the fact C(db_maintenance_result) (an operation not
    C(done) is critical, invalid indexes a warning); V(restore_test): C(backup_verification_result); V(certificates):
    M(dsr.ops.cert_expiry)'s result; V(access_review): M(dsr.ops.pg_access_review)'s result; V(dr_drill):
    C(disaster_recovery_result) (a restore that did not validate is critical, a missed RPO or RTO objective a warning);
    V(capacity_review): the environment's trends from M(dsr.ops.ops_history) (O(warning_days), O(critical_days) until the disk
    threshold); V(cleanup): the list of files deleted (C(path), C(size)); V(security_updates): C({host: [packages]}) of
    pending updates as the filter C(dsr.ops.apt_upgrades) gives them, with O(applied) and O(health)."
positional: _input, action
options:
  _input:
    description: What the action produced (see above).
    type: raw
    required: true
  action:
    description: The action.
    type: str
    required: true
    choices: [vacuum_analyze, reindex, restore_test, certificates, access_review, dr_drill, capacity_review, cleanup, security_updates]
  warning_days:
    description: V(capacity_review) - a warning when the database reaches the disk threshold in fewer days than this.
    type: int
    default: 90
  critical_days:
    description: V(capacity_review) - critical when in fewer days than this.
    type: int
    default: 30
  applied:
    description: V(security_updates) - whether the updates were applied (else only listed).
    type: bool
    default: false
  health:
    description: V(security_updates) - the health check's status after applying (V(ok), V(warning), V(critical)), or null.
    type: str
  check_mode:
    description: V(cleanup) and V(security_updates) - a rehearsal; the summary says "would".
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: How the VACUUM ended
  ansible.builtin.set_fact:
    step: "{{ db_maintenance_result | dsr.ops.maintenance_step('vacuum_analyze') }}"

- name: Capacity, from the history's trends
  ansible.builtin.set_fact:
    step: "{{ history.trends[inventory_hostname] | default({}) | dsr.ops.maintenance_step('capacity_review', warning_days=60) }}"
'''

RETURN = r'''
_value:
  description: The step.
  type: dict
  contains:
    status:
      description: V(ok), V(warning), V(critical) or V(failed).
      type: str
    summary:
      description: One line.
      type: str
    figures:
      description: Name to number - what the action measured.
      type: dict
'''

import math

from ansible.errors import AnsibleFilterError

STATUSES = ('ok', 'warning', 'critical', 'failed')


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
    return value if math.isfinite(value) else None


def _figures(**values):
    return {name: number for name, number in ((name, _number(value)) for name, value in values.items()) if number is not None}


def _judged(result):
    """A check's own status, with unknown (or anything else) as critical."""
    status = (result or {}).get('status')
    return status if status in ('ok', 'warning', 'critical') else 'critical'


def _count(number, noun, plural=None):
    return '%d %s' % (number, noun if number == 1 else plural or noun + 's')


def _mib(size):
    return '%.1f MiB' % (size / 1048576.0)


def _db_maintenance(result, action):
    operations = list(result.get('operations') or [])
    reports = result.get('reports') or {}
    invalid = len((reports.get('invalid_indexes') or {}).get('items') or [])
    needing = len((reports.get('tables_needing_vacuum') or {}).get('items') or [])
    seconds = sum(_number(item.get('duration_seconds')) or 0 for item in operations)
    planned = bool(operations) and all(item.get('status') == 'planned' for item in operations)
    not_done = [item for item in operations if item.get('status') not in ('done', 'planned')]
    what = 'VACUUM (ANALYZE)' if action == 'vacuum_analyze' else 'REINDEX CONCURRENTLY + ANALYZE'
    ran = '%s planned (check mode)' % _count(len(operations), 'operation') if planned else '%s in %.1f s' % (
        _count(len(operations), 'operation'), seconds)
    summary = '%s: %s; %s, %s needing vacuum' % (what, ran, _count(invalid, 'invalid index', 'invalid indexes'), _count(needing, 'table'))
    status = 'warning' if invalid else 'ok'
    if not operations:
        status, summary = 'critical', '%s: no operation ran (no user table in scope?)' % what
    elif not_done:
        status = 'critical'
        summary += '; not done: %s' % ', '.join('%s (%s)' % (item.get('table') or '?', str(item.get('error') or item.get('status'))[:80])
                                                for item in not_done[:5])
    return {'status': status, 'summary': summary,
            'figures': _figures(operations=len(operations), seconds=seconds, invalid_indexes=invalid, tables_needing_vacuum=needing)}


def _checked(result, what):
    return {'status': _judged(result), 'summary': '%s %s' % (what, (result or {}).get('summary') or 'gave no summary'),
            'figures': {}}


def _dr_drill(result):
    validation = (result or {}).get('validation') or {}
    rpo, rto = _number(result.get('rpo_seconds')), _number(result.get('rto_seconds'))
    figures = _figures(rpo_seconds=rpo, rto_seconds=rto, size_bytes=(result.get('backup') or {}).get('size_bytes'))
    where = 'into %s' % result.get('target_database')
    if result.get('check_mode'):
        return {'status': 'ok', 'summary': 'DR drill %s planned (check mode)' % where, 'figures': figures}
    if validation.get('status') != 'ok':
        return {'status': 'critical', 'summary': 'DR drill %s: the restored database did not validate (%s)' % (
            where, validation.get('status') or 'no validation'), 'figures': figures}
    missed = [name for name, met in (('RPO', result.get('rpo_met')), ('RTO', result.get('rto_met'))) if str(met).lower() != 'true']
    summary = 'DR drill %s: validated; RPO %s, RTO %s' % (
        where, '%.0f s' % rpo if rpo is not None else 'unknown', '%.0f s' % rto if rto is not None else 'unknown')
    if missed:
        return {'status': 'warning', 'summary': summary + '; objective missed: ' + ', '.join(missed), 'figures': figures}
    return {'status': 'ok', 'summary': summary + '; objectives met', 'figures': figures}


def _capacity(trends, warning_days, critical_days):
    trends = trends or {}
    growth = _number(trends.get('database_growth_bytes_per_day'))
    full = _number(trends.get('database_disk_full_days'))
    figures = _figures(database_growth_bytes_per_day=growth, database_disk_full_days=full,
                       backup_size_growth_bytes_per_day=trends.get('backup_size_growth_bytes_per_day'))
    if growth is None:
        return {'status': 'warning', 'summary': 'capacity review: no database growth trend in the history yet (the daily checks '
                                                'record it; a few days are needed)', 'figures': figures}
    summary = 'capacity review: the database grows %s a day' % _mib(growth)
    if full is None:
        return {'status': 'ok', 'summary': summary + '; the disk threshold is not in sight at that rate', 'figures': figures}
    summary += '; the disk threshold is %.0f days away' % full
    if full < critical_days:
        return {'status': 'critical', 'summary': summary + ' (under %d): add storage now' % critical_days, 'figures': figures}
    if full < warning_days:
        return {'status': 'warning', 'summary': summary + ' (under %d): plan storage' % warning_days, 'figures': figures}
    return {'status': 'ok', 'summary': summary, 'figures': figures}


def _cleanup(deleted, check_mode):
    deleted = list(deleted or [])
    size = sum(_number(item.get('size')) or 0 for item in deleted)
    verb = 'would delete' if check_mode else 'deleted'
    return {'status': 'ok', 'summary': 'cleanup %s %s (%s) older than their age limit' % (verb, _count(len(deleted), 'file'), _mib(size)),
            'figures': _figures(files=len(deleted), bytes=size)}


def _names(packages, shown=15):
    names = [item['name'] for item in packages]
    if not names:
        return 'none'
    return ', '.join(names[:shown]) + (' and %d more' % (len(names) - shown) if len(names) > shown else '')


def _updates(pending, applied, health, check_mode):
    pending = pending or {}
    hosts = sorted(pending)
    security = {host: [item for item in pending[host] if item.get('security')] for host in hosts}
    count = sum(len(items) for items in security.values())
    every = sum(len(pending[host]) for host in hosts)
    figures = _figures(hosts=len(hosts), security_updates=count, updates=every)
    listed = '; '.join('%s: %s' % (host, _names(security[host])) for host in hosts)
    if applied:
        verb = 'would apply' if check_mode else 'applied'
        summary = 'security updates %s: %d on %s (%s); health after: %s' % (verb, count, _count(len(hosts), 'host'), listed,
                                                                            health or 'not checked')
        status = 'ok' if check_mode or health == 'ok' else 'warning' if health == 'warning' else 'critical'
        return {'status': status, 'summary': summary, 'figures': figures}
    summary = 'security updates pending: %d on %s (%s)' % (count, _count(len(hosts), 'host'), listed) if count else (
        'security updates pending: none on %s' % _count(len(hosts), 'host'))
    return {'status': 'warning' if count else 'ok', 'summary': summary + ' - listed, not applied', 'figures': figures}


def maintenance_step(result, action, warning_days=90, critical_days=30, applied=False, health=None, check_mode=False):
    """The step ``{status, summary, figures}`` of maintenance ``action`` from what it produced."""
    if action in ('vacuum_analyze', 'reindex'):
        if not isinstance(result, dict):
            raise AnsibleFilterError('dsr.ops.maintenance_step: %s reads db_maintenance_result, a dict' % action)
        return _db_maintenance(result, action)
    if action == 'restore_test':
        return _checked(result, 'restore test:')
    if action == 'certificates':
        return _checked(result, 'certificates:')
    if action == 'access_review':
        return _checked(result, 'access review:')
    if action == 'dr_drill':
        return _dr_drill(result or {})
    if action == 'capacity_review':
        return _capacity(result, int(warning_days), int(critical_days))
    if action == 'cleanup':
        return _cleanup(result, bool(check_mode))
    if action == 'security_updates':
        return _updates(result, bool(applied), health, bool(check_mode))
    raise AnsibleFilterError('dsr.ops.maintenance_step: unknown action %r; one of vacuum_analyze, reindex, restore_test, '
                             'certificates, access_review, dr_drill, capacity_review, cleanup, security_updates' % (action,))


class FilterModule:
    """dsr.ops maintenance steps."""

    def filters(self):
        return {'maintenance_step': maintenance_step}
