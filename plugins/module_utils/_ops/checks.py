# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The check modules dsr.ops.ops_checks runs in-process, and the run over many environments.

Each entry is the module's own ``Check`` (options, validation, work, gate): the
module and ops_checks run the same code, so a check gives the same result whichever
ran it. The checks of all environments share a thread pool: they wait on servers.
"""

from __future__ import annotations

import concurrent.futures
import copy
import re
import time

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.dsr.ops.plugins.module_utils._backup.verify_entry import CHECK as PG_BACKUP_VERIFY
from ansible_collections.dsr.ops.plugins.module_utils._elastic.entry import CHECK as LOG_SEARCH
from ansible_collections.dsr.ops.plugins.module_utils._k8s.entry import CHECK as K8S_HEALTH
from ansible_collections.dsr.ops.plugins.module_utils._metrics.entry import CHECK as METRICS_CHECK
from ansible_collections.dsr.ops.plugins.module_utils._module import run_in_process
from ansible_collections.dsr.ops.plugins.module_utils._postgres.health_entry import CHECK as PG_HEALTH
from ansible_collections.dsr.ops.plugins.module_utils._postgres.maintenance_entry import CHECK as PG_MAINTENANCE
from ansible_collections.dsr.ops.plugins.module_utils._tls.entry import CHECK as CERT_EXPIRY

CHECKS = {check.name: check for check in (CERT_EXPIRY, K8S_HEALTH, LOG_SEARCH, METRICS_CHECK, PG_BACKUP_VERIFY, PG_HEALTH, PG_MAINTENANCE)}


# the option names of a check that is not known (so neither are its no_log options) whose values are masked anyway
SECRET_NAME = re.compile(r'pass|secret|token|key|credential', re.IGNORECASE)


def secrets_in(environments):
    """Every credential in the checks' options, as raw option values (before any validation).

    ops_checks' own argument spec sees a check's options as one dict, so AnsibleModule does
    not know which of them are no_log: without these, its invocation (in the result, at -vvv,
    and in the syslog) would show them whenever the task fails on its own input. Each known
    check's no_log options (aliases included) and the credentials it would read from the
    environment; for a check that is not known, every option whose name looks like a secret.
    """
    found = set()
    for environment in environments if isinstance(environments, list) else []:
        for entry in (environment.get('checks') if isinstance(environment, dict) else None) or []:
            params = entry.get('params') if isinstance(entry, dict) else None
            if not isinstance(params, dict):
                continue
            check = CHECKS.get(entry.get('module')) if isinstance(entry.get('module'), str) else None
            if check is None:
                found.update(str(value) for name, value in params.items() if SECRET_NAME.search(str(name)) and value not in (None, ''))
                continue
            given = {key: value for key, value in params.items() if value is not None}
            found.update(ArgumentSpecValidator(check.argument_spec()).validate(given)._no_log_values)  # pylint: disable=protected-access
            if check.secrets_from_environment is not None:
                try:
                    found.update(secret for secret in check.secrets_from_environment(copy.deepcopy(given)) if secret)
                except Exception:  # pylint: disable=broad-except
                    # options the check will refuse later; what it reads from the environment is masked then
                    pass
    return {secret for secret in found if secret}


def _run_one(check, params, check_mode, clock):
    started = clock()
    result, secrets = run_in_process(check, params, check_mode)
    return result, secrets, clock() - started


def run_all(environments, parallel, check_mode=False, clock=time.monotonic):
    """Run every environment's checks, ``parallel`` at a time.

    ``environments`` are ops_checks' validated option. Returns the module's return values
    plus ``secrets`` (to mask), ``warnings`` (each prefixed with its environment and check)
    and ``changed``.
    """
    jobs = []
    for environment in environments:
        for entry in environment['checks']:
            check = CHECKS[entry['module']]
            params = copy.deepcopy(entry['params'] or {})
            if 'fail_on' in check.argument_spec():
                # every check reports; the caller gates on the results
                params['fail_on'] = 'never'
            jobs.append((environment['name'], entry['name'], check, params))
    started = clock()
    outcomes = {}
    if jobs:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(parallel, len(jobs)), thread_name_prefix='dsr-check') as pool:
            futures = {pool.submit(_run_one, check, params, check_mode, clock): (env, name) for env, name, check, params in jobs}
            for future in concurrent.futures.as_completed(futures):
                outcomes[futures[future]] = future.result()
    total = clock() - started
    results = {environment['name']: {} for environment in environments}
    elapsed = {environment['name']: {} for environment in environments}
    secrets, warnings, failed, changed = set(), [], [], False
    for env, name, dummy_check, dummy_params in jobs:
        result, found, seconds = outcomes[(env, name)]
        results[env][name] = result
        elapsed[env][name] = round(seconds, 3)
        secrets.update(found)
        warnings.extend('%s/%s: %s' % (env, name, warning) for warning in result.get('warnings') or [])
        changed = changed or bool(result.get('changed'))
        if result.get('failed'):
            failed.append('%s/%s' % (env, name))
    msg = 'ran %d checks of %d environments in %.1f s (%d at a time): %d could not run or failed' % (
        len(jobs), len(environments), total, min(parallel, max(len(jobs), 1)), len(failed))
    return {'environment_results': results, 'elapsed': elapsed, 'environments': len(environments), 'checks': len(jobs), 'failed_checks': failed,
            'msg': msg, 'secrets': secrets, 'warnings': warnings, 'changed': changed}
