#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: ops_checks
short_description: Run the dsr.ops check modules of many DSR environments in one process, at the same time
version_added: 0.3.0
description:
  - Runs checks such as M(dsr.ops.k8s_health), M(dsr.ops.pg_health) or M(dsr.ops.cert_expiry) for many environments in
    one task, in one Python process, O(parallel) at a time. Each check is the module's own code - the same options,
    defaults, validation, credentials from the environment and result - run without a module process of its own.
  - The reason is cost. Every module task costs a Python start-up, the module's libraries imported and its module_utils compiled from
    source, per inventory host and task, and most of a check's time is spent waiting on a server. The daily_ops role
    runs its checks for all the play's environments with one C(run_once) task of this module, so fifty environments
    cost little more than one.
  - Every check reports; none fails the task. A check's C(fail_on) is forced to V(never), and a check that could not
    run (bad options, a missing library, a server that refused) has C(failed=true) and C(msg) in its result, as the
    module's task would have registered. The caller gates on the results (the daily_ops role gates once at the end).
  - Credentials are masked in every output like C(no_log) options - the checks' C(no_log) options and the credentials
    they read from the environment (C(K8S_AUTH_API_KEY), C(PGPASSWORD), C(ELASTICSEARCH_PASSWORD)...).
  - The task fails only for its own bad input - an unknown module, an environment or check named twice.
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.attributes
attributes:
  check_mode:
    support: full
    details:
      - Every check runs in its own check mode (M(dsr.ops.pg_health) does not write its state file, and so on).
  diff_mode:
    support: none
options:
  environments:
    description:
      - The environments and their checks.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The environment's name, the key of its C(environment_results) (the daily_ops role passes the inventory host's name).
        type: str
        required: true
      checks:
        description:
          - The environment's checks.
        type: list
        elements: dict
        required: true
        suboptions:
          name:
            description:
              - The check's name, the key of its result in C(environment_results), such as V(kubernetes) or V(database).
            type: str
            required: true
          module:
            description:
              - The dsr.ops module whose check runs.
            type: str
            required: true
            choices: [cert_expiry, k8s_health, log_search, metrics_check, pg_backup_verify, pg_health, pg_maintenance]
          params:
            description:
              - The module's options, as its task would take them; an option set to V(null) counts as not given (as
                C(omit) would). The check's own C(fail_on) is always V(never) here.
            type: dict
            default: {}
  parallel:
    description:
      - How many checks run at the same time. The checks wait on their servers, so more than the controller's CPUs pays.
    type: int
    default: 16
notes:
  - Runs where ansible-playbook runs (C(run_once) on a C(local) connection host), like the check modules themselves.
seealso:
  - module: dsr.ops.k8s_health
  - module: dsr.ops.pg_health
  - module: dsr.ops.cert_expiry
'''

EXAMPLES = r'''
- name: The morning checks of every environment of the play, in one task
  dsr.ops.ops_checks:
    environments: "{{ ansible_play_hosts | map('extract', hostvars, 'my_checks') | list }}"
  run_once: true
  register: checks
  # my_checks, set per host: {name: "{{ inventory_hostname }}", checks: [{name: certificates, module: cert_expiry,
  #                           params: {endpoints: "{{ dsr_tls_endpoints }}"}}]}

- name: One environment's certificates and database
  dsr.ops.ops_checks:
    environments:
      - name: production
        checks:
          - name: certificates
            module: cert_expiry
            params:
              endpoints: [{host: registry.dsr.example, port: 443}]
          - name: database
            module: pg_health
            params:
              login_host: db.dsr.example
              login_user: dsr_monitor
'''

RETURN = r'''
environment_results:
  description:
    - Per environment, per check, the module's result as its own task would register it with C(fail_on=never) - its
      return values, C(failed), C(msg) when it could not run, and C(warnings).
  type: dict
  returned: always
  sample: {production: {certificates: {status: ok, summary: 1 ok, failed: false, warnings: []}}}
elapsed:
  description: Per environment, per check, the seconds the check took.
  type: dict
  returned: always
  sample: {production: {certificates: 0.12}}
environments:
  description: How many environments were checked.
  type: int
  returned: always
  sample: 50
checks:
  description: How many checks ran.
  type: int
  returned: always
  sample: 300
failed_checks:
  description: The checks that could not run or failed, as C(<environment>/<check>).
  type: list
  elements: str
  returned: always
  sample: [staging/kubernetes]
msg:
  description: One line - how many checks of how many environments ran, in how long, and how many could not run.
  type: str
  returned: always
  sample: "ran 300 checks of 50 environments in 4.1 s (16 at a time): 0 could not run"
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dsr.ops.plugins.module_utils._ops.checks import CHECKS, run_all, secrets_in


class OpsChecksModule(AnsibleModule):
    """AnsibleModule that masks the checks' credentials from the moment it reads its options.

    Its own spec sees each check's options as one dict: without this, a failure of its own
    validation, and the invocation it logs, would show the passwords inside them.
    """

    def _load_params(self):
        super()._load_params()
        self.no_log_values.update(secrets_in(self.params.get('environments')))


def main():
    module = OpsChecksModule(
        argument_spec=dict(
            environments=dict(type='list', elements='dict', required=True, options=dict(
                name=dict(type='str', required=True),
                checks=dict(type='list', elements='dict', required=True, options=dict(
                    name=dict(type='str', required=True),
                    module=dict(type='str', required=True, choices=sorted(CHECKS)),
                    params=dict(type='dict', default={}),
                )),
            )),
            parallel=dict(type='int', default=16),
        ),
        supports_check_mode=True,
    )
    params = module.params
    problems = []
    if params['parallel'] < 1:
        problems.append('parallel must be at least 1, got %d' % params['parallel'])
    names = [environment['name'] for environment in params['environments']]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        problems.append('environments: each name once; named more than once: %s' % ', '.join(twice))
    for environment in params['environments']:
        checks = [check['name'] for check in environment['checks']]
        twice = sorted({name for name in checks if checks.count(name) > 1})
        if twice:
            problems.append('environments[%s].checks: each check name once; named more than once: %s' % (environment['name'], ', '.join(twice)))
    if problems:
        module.fail_json(msg='invalid options: ' + '; '.join(problems))

    outcome = run_all(params['environments'], params['parallel'], module.check_mode)
    module.no_log_values.update(outcome.pop('secrets'))
    for warning in outcome.pop('warnings'):
        module.warn(warning)
    module.exit_json(**outcome)


if __name__ == '__main__':
    main()
