# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitoring role's operations alert rules (dsr-ops-alerts.rules.yml), proven with promtool.

``promtool check rules`` validates the file; ``promtool test rules`` runs the hand-written
cases of tests/functional/ops_alerts.test.yml, in which every alert (and severity) fires in
one case and stays silent in another. Mutated copies of the rules (a limit moved, a ``for``
dropped) must fail those cases, so the cases are not vacuous. Every dsr_* metric the rules use
must be one dsr.ops.ops_metrics writes. promtool must be installed: without it these tests fail.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import run_promtool

COLLECTION = Path(__file__).resolve().parents[2]
RULES = COLLECTION / 'roles' / 'monitoring' / 'files' / 'dsr-ops-alerts.rules.yml'
CASES = COLLECTION / 'tests' / 'functional' / 'ops_alerts.test.yml'


def rules():
    return [rule for group in yaml.safe_load(RULES.read_text(encoding='utf-8'))['groups'] for rule in group['rules']]


def run_cases(rules_path, tmp_path):
    cases = yaml.safe_load(CASES.read_text(encoding='utf-8'))
    cases['rule_files'] = [str(rules_path)]
    test_file = tmp_path / 'cases.test.yml'
    test_file.write_text(yaml.safe_dump(cases, sort_keys=False), encoding='utf-8')
    return run_promtool('test', 'rules', test_file, timeout=120)


def test_promtool_check_rules():
    proc = run_promtool('check', 'rules', RULES)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'SUCCESS: %d rules found' % len(rules()) in proc.stdout


def test_the_committed_cases_pass():
    # as committed: rule_files relative to the test file, the way an operator runs it
    proc = run_promtool('test', 'rules', CASES, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'SUCCESS' in proc.stdout


def test_the_required_alerts_are_there():
    exprs = {(rule['alert'], rule['labels']['severity']): rule['expr'] for rule in rules()}
    assert exprs[('DsrBackupTooOld', 'critical')] == 'time() - dsr_backup_last_success_timestamp_seconds > 26 * 3600'
    assert exprs[('DsrDrTestTooOld', 'warning')] == 'time() - dsr_dr_test_last_timestamp_seconds > 35 * 86400'
    assert exprs[('DsrCheckCritical', 'critical')] == 'dsr_check_status == 2'
    assert exprs[('DsrCheckStale', 'warning')] == 'time() - dsr_check_last_run_timestamp_seconds > 26 * 3600'
    assert exprs[('DsrCertificateExpiring', 'warning')] == 'dsr_certificate_time_left_seconds < 14 * 86400'
    assert exprs[('DsrCertificateExpiring', 'critical')] == 'dsr_certificate_time_left_seconds < 3 * 86400'
    assert exprs[('DsrDatabaseDiskFullSoon', 'warning')] == 'dsr_database_disk_full_in_seconds < 14 * 86400'
    critical = next(rule for rule in rules() if rule['alert'] == 'DsrCheckCritical')
    assert critical['for'] == '10m'
    for rule in rules():
        assert rule['labels']['severity'] in ('warning', 'critical'), rule['alert']
        assert set(rule['annotations']) == {'summary', 'description'}, rule['alert']
        assert '$labels.' in rule['annotations']['summary'], rule['alert']


def test_every_alert_fires_in_a_case_and_stays_silent_in_another():
    fired, silent = set(), set()
    for group in yaml.safe_load(CASES.read_text(encoding='utf-8'))['tests']:
        for case in group['alert_rule_test']:
            if not case.get('exp_alerts'):
                silent.add(case['alertname'])
            for alert in case.get('exp_alerts') or []:
                fired.add((case['alertname'], alert['exp_labels']['severity']))
    assert fired == {(rule['alert'], rule['labels']['severity']) for rule in rules()}
    assert silent == {rule['alert'] for rule in rules()}


# (id, text in the rules, replacement): each makes at least one case fail
MUTATIONS = [
    ('backup 28h', 'dsr_backup_last_success_timestamp_seconds > 26 * 3600', 'dsr_backup_last_success_timestamp_seconds > 28 * 3600'),
    ('backup 24h', 'dsr_backup_last_success_timestamp_seconds > 26 * 3600', 'dsr_backup_last_success_timestamp_seconds > 24 * 3600'),
    ('dr 37d', '> 35 * 86400', '> 37 * 86400'),
    ('dr 33d', '> 35 * 86400', '> 33 * 86400'),
    ('critical without for', 'expr: dsr_check_status == 2\n        for: 10m', 'expr: dsr_check_status == 2\n        for: 0m'),
    ('critical >= 1', 'dsr_check_status == 2', 'dsr_check_status >= 1'),
    ('stale 24h', 'dsr_check_last_run_timestamp_seconds > 26 * 3600', 'dsr_check_last_run_timestamp_seconds > 24 * 3600'),
    ('cert <=', 'dsr_certificate_time_left_seconds < 14 * 86400', 'dsr_certificate_time_left_seconds <= 14 * 86400'),
    ('cert critical 2d', 'dsr_certificate_time_left_seconds < 3 * 86400', 'dsr_certificate_time_left_seconds < 2 * 86400'),
    ('disk 21d', 'dsr_database_disk_full_in_seconds < 14 * 86400', 'dsr_database_disk_full_in_seconds < 21 * 86400'),
    ('textfile no for', 'node_textfile_scrape_error == 1\n        for: 15m', 'node_textfile_scrape_error == 1\n        for: 0m'),
]


@pytest.mark.parametrize('mutation', MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_a_moved_limit_fails_the_cases(mutation, tmp_path):
    _name, old, new = mutation
    text = RULES.read_text(encoding='utf-8')
    assert text.count(old) == 1, 'the mutation no longer matches the rules: %r' % old
    mutated = tmp_path / 'mutated.rules.yml'
    mutated.write_text(text.replace(old, new), encoding='utf-8')
    assert run_cases(RULES, tmp_path).returncode == 0
    proc = run_cases(mutated, tmp_path)
    assert proc.returncode != 0, proc.stdout


def test_the_rules_use_only_metrics_ops_metrics_writes(records_module):
    used = set()
    for rule in rules():
        used.update(re.findall(r'\bdsr_[a-z0-9_]+', rule['expr']))
    assert used
    assert used <= set(records_module.metric_names('dsr')), used - set(records_module.metric_names('dsr'))
