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
import time

from ansible_collections.dsr.ops.plugins.module_utils._backup.verify_entry import CHECK as PG_BACKUP_VERIFY
from ansible_collections.dsr.ops.plugins.module_utils._elastic.entry import CHECK as LOG_SEARCH
from ansible_collections.dsr.ops.plugins.module_utils._k8s.entry import CHECK as K8S_HEALTH
from ansible_collections.dsr.ops.plugins.module_utils._metrics.entry import CHECK as METRICS_CHECK
from ansible_collections.dsr.ops.plugins.module_utils._module import run_in_process
from ansible_collections.dsr.ops.plugins.module_utils._postgres.health_entry import CHECK as PG_HEALTH
from ansible_collections.dsr.ops.plugins.module_utils._postgres.maintenance_entry import CHECK as PG_MAINTENANCE
from ansible_collections.dsr.ops.plugins.module_utils._tls.entry import CHECK as CERT_EXPIRY

CHECKS = {check.name: check for check in (CERT_EXPIRY, K8S_HEALTH, LOG_SEARCH, METRICS_CHECK, PG_BACKUP_VERIFY, PG_HEALTH, PG_MAINTENANCE)}


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
