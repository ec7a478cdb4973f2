# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The dsr.ops.check_record and check_records filters in a real ansible-playbook run.

Results are registered by real tasks - k8s_health against the Kubernetes API stub
(crash_loop scenario), cert_expiry against the harness's TLS endpoints, a task skipped
by ``when``, a module that fails on its options - so the filter meets what
ansible-core 2.19 hands it (lazy containers, tagged values), not a hand-made dict.
The records are written to a file and checked here.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import COLLECTION, _collections_root, k8s_stub_server


TOKEN = 'check-record-test-token-5d2e8b'
FIXTURES = COLLECTION / 'tests' / 'unit' / 'plugins' / 'module_utils' / '_ops' / 'fixtures'
PLAYBOOK_BIN = Path(sys.executable).parent / 'ansible-playbook'

PLAYBOOK = r'''
- name: Check records from registered results
  hosts: production
  gather_facts: false
  tasks:
    - name: Kubernetes health against the stub
      dsr.ops.k8s_health:
        host: "{{ k8s_url }}"
        api_key: "{{ k8s_token }}"
        ca_cert: "{{ k8s_ca }}"
        fail_on: never
      register: k8s_result

    - name: Certificates of the harness endpoints
      dsr.ops.cert_expiry:
        endpoints: "{{ tls_endpoints }}"
        ca_cert: "{{ tls_ca }}"
        fail_on: never
      register: cert_result

    - name: Metrics, not configured here
      dsr.ops.metrics_check:
        url: https://prometheus.invalid
      register: metrics_result
      when: false

    - name: A module that fails on its options
      dsr.ops.k8s_health:
        host: "{{ k8s_url }}"
        api_key: "{{ k8s_token }}"
        ca_cert: "{{ k8s_ca }}"
        restarts_warning: 9
        restarts_critical: 2
      register: bad_result
      ignore_errors: true

    - name: One record per result
      ansible.builtin.set_fact:
        records:
          kubernetes: "{{ k8s_result | dsr.ops.check_record('kubernetes', inventory_hostname, 'morning') }}"
          certificates: "{{ cert_result | dsr.ops.check_record('certificates', inventory_hostname, 'morning', time='2026-12-04T10:00:05+02:00') }}"
          metrics: "{{ metrics_result | dsr.ops.check_record('metrics', inventory_hostname, 'morning', skipped='not configured (dsr_prometheus_url)') }}"
          backup: >-
            {{ none | dsr.ops.check_record('backup', inventory_hostname, 'morning',
                                           skipped='not configured (set dsr_backup_dir or dsr_s3_bucket)') }}
          s3: >-
            {{ s3_listing | dsr.ops.check_record('backup', inventory_hostname, 'evening', kind='s3_backup_list',
                                                 time=s3_time, max_age_seconds=1800, job_id=none) }}
          failed: "{{ bad_result | dsr.ops.check_record('kubernetes', inventory_hostname, 'midday', job_id='77') }}"
        all_records: >-
          {{ {'kubernetes': k8s_result, 'certificates': cert_result, 'metrics': metrics_result | default(none)}
             | dsr.ops.check_records(['kubernetes', 'database', 'certificates', 'metrics'], inventory_hostname, 'morning',
                                     reasons={'database': 'not configured (dsr_pg_host or PGHOST)'}, max_age_seconds=93600) }}

    - name: A call that cannot make a record fails the task with the reason
      ansible.builtin.set_fact:
        bad: "{{ k8s_result | dsr.ops.check_record('Kubernetes', inventory_hostname, 'morning') }}"
      register: bad_call
      ignore_errors: true

    - name: Save what the filters gave
      ansible.builtin.copy:
        dest: "{{ out_file }}"
        content: "{{ {'records': records, 'all_records': all_records, 'bad_call': bad_call.msg | default('')} | to_json }}"
        mode: '0600'
'''


@pytest.fixture(scope='module')
def stub(tmp_path_factory):
    server = k8s_stub_server(tmp_path_factory, TOKEN, ['crash_loop'], 'k8s')
    yield server
    server.stop()


def test_records_from_registered_results(stub, tls_service, tmp_path):
    root = _collections_root(tmp_path / 'collections')
    s3_listing = json.loads((FIXTURES / 's3_backup_list.json').read_text(encoding='utf-8'))
    started = datetime.datetime.fromisoformat(s3_listing['newest_verified']['started_at'])
    endpoints = [{'name': name, 'host': tls_service['endpoints'][name]['host'], 'port': tls_service['endpoints'][name]['port'],
                  'server_name': tls_service['endpoints'][name]['server_name']} for name in ('days3', 'days90', 'expired')]
    out_file = tmp_path / 'records.json'
    extra = {'k8s_url': stub.url, 'k8s_token': TOKEN, 'k8s_ca': stub.ca_cert, 'tls_endpoints': endpoints, 'tls_ca': tls_service['ca_cert'],
             's3_listing': s3_listing, 's3_time': (started + datetime.timedelta(hours=1)).isoformat(), 'out_file': str(out_file),
             'ansible_python_interpreter': sys.executable}
    (tmp_path / 'extra.json').write_text(json.dumps(extra))
    (tmp_path / 'playbook.yml').write_text(PLAYBOOK)
    (tmp_path / 'inventory.ini').write_text('production ansible_connection=local\n')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=root, JOB_ID='4711', ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0',
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-tmp'), ANSIBLE_HOME=str(tmp_path / 'ansible-home'))
    proc = subprocess.run([str(PLAYBOOK_BIN), '-i', str(tmp_path / 'inventory.ini'), str(tmp_path / 'playbook.yml'),
                           '-e', '@' + str(tmp_path / 'extra.json')], env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    saved = json.loads(out_file.read_text(encoding='utf-8'))
    records = saved['records']

    k8s = records['kubernetes']
    assert k8s['check'] == 'kubernetes' and k8s['environment'] == 'production' and k8s['run'] == 'morning'
    assert k8s['status'] == 'critical' and k8s['summary'].startswith('critical: payment-service=critical')
    assert k8s['figures']['workloads_down'] == 1 and k8s['figures']['workloads_unhealthy'] == 1
    assert k8s['figures']['workloads_total'] == 9
    assert k8s['affected'] == ['payment-service']
    assert k8s['job_id'] == '4711'  # JOB_ID of the controller, as AWX sets it
    assert abs(datetime.datetime.fromisoformat(k8s['time']) - datetime.datetime.now(datetime.timezone.utc)) < datetime.timedelta(minutes=10)

    certs = records['certificates']
    assert certs['time'] == '2026-12-04T08:00:05+00:00'
    assert certs['status'] == 'critical'
    days = {s['labels']['endpoint']: s['value'] for s in certs['figures']['certificate_days_left']}
    assert set(days) == {'days3', 'days90', 'expired'} and days['expired'] < 0 < days['days3'] < days['days90']
    assert sorted(certs['affected']) == ['days3', 'expired']

    assert records['metrics']['status'] == 'skipped' and records['metrics']['summary'] == 'skipped: not configured (dsr_prometheus_url)'
    assert records['backup'] == dict(records['backup'], status='skipped', summary='skipped: not configured (set dsr_backup_dir or dsr_s3_bucket)',
                                     figures={}, affected=[])

    s3 = records['s3']
    assert s3['status'] == 'critical' and s3['run'] == 'evening' and s3['job_id'] is None
    assert s3['figures']['backup_age_seconds'] == 3600.0
    assert s3['figures']['backup_last_success_timestamp_seconds'] == int(started.timestamp())

    failed = records['failed']
    assert failed['status'] == 'unknown' and failed['job_id'] == '77'
    assert failed['summary'].startswith('invalid options: restarts_critical (2) must not be lower than restarts_warning (9)')

    assert [r['check'] for r in saved['all_records']] == ['kubernetes', 'database', 'certificates', 'metrics']
    assert [r['status'] for r in saved['all_records']] == ['critical', 'skipped', 'critical', 'skipped']
    assert saved['all_records'][1]['summary'] == 'skipped: not configured (dsr_pg_host or PGHOST)'
    assert saved['all_records'][0]['figures'] == k8s['figures']

    assert 'dsr.ops.check_record' in saved['bad_call'] and 'is not one' in saved['bad_call']
