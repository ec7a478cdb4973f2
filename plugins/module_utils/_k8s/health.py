# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Health of the DSR workloads in one namespace, from a fixed number of list calls.

The verdicts follow the rules ``kubectl rollout status`` applies and the
kube-state-metrics alerts (KubeDeploymentReplicasMismatch,
KubeDeploymentGenerationMismatch, KubeStatefulSetUpdateNotRolledOut,
KubePodCrashLooping, KubePodNotReady, KubeJobFailed, ...) are built on:

* a workload whose controller has not seen its last change
  (``metadata.generation`` > ``status.observedGeneration``) is not judged on
  its stale status: it is a warning, whatever the replicas say;
* a Deployment whose ``Progressing`` condition is False with
  ``ProgressDeadlineExceeded`` is critical, so is one with no available
  replica; updated / ready / available below the desired count is a warning;
* a StatefulSet is rolled out when its ready replicas reach the desired count
  and, with a partition, the updated replicas reach ``replicas - partition``,
  without one ``updateRevision == currentRevision``;
* a DaemonSet when every scheduled pod is updated and available;
* pods are judged by what kubectl shows: waiting reasons (CrashLoopBackOff,
  ImagePullBackOff, ErrImagePull, CreateContainerConfigError, ...) are
  critical, a recent OOMKilled or restarts within the window are judged by
  thresholds, Pending longer than ``pending_max_age``, not ready, or on a
  NotReady node;
* the Services whose selector picks a workload's pods must have ready
  endpoints (EndpointSlices), an Ingress must have an address and backends that
  exist, the backup CronJob's last success must be younger than its max age.

A workload that is not found is critical; a list call the server refused (RBAC)
or could not answer makes what depends on it ``unknown``, naming the verb and
the resource. Nothing is ``ok`` because it could not be looked at.
"""

from __future__ import annotations

import datetime

from ansible_collections.dsr.ops.plugins.module_utils._k8s.client import K8sApiError, K8sUnreachable
from ansible_collections.dsr.ops.plugins.module_utils._status import (
    CRITICAL, OK, SKIPPED, UNKNOWN, WARNING, Check, evaluate, summarize, worst,
)

DEFAULT_NAMESPACE = 'dsr-production'
# The runbook's System Health Verification loop, the frontend, and the database
DEFAULT_WORKLOADS = (
    'registration-service', 'data-management-service', 'eligibility-service', 'interoperability-service',
    'payment-service', 'grievance-service', 'analytics-service', 'dsr-frontend', 'postgresql',
)
KINDS = ('Deployment', 'StatefulSet', 'DaemonSet')

# what each list call reads: (group/version, plural, the resource as RBAC names it, namespaced)
LISTS = {
    'deployments': ('apps/v1', 'deployments', 'deployments.apps', True),
    'statefulsets': ('apps/v1', 'statefulsets', 'statefulsets.apps', True),
    'daemonsets': ('apps/v1', 'daemonsets', 'daemonsets.apps', True),
    'pods': ('v1', 'pods', 'pods', True),
    'services': ('v1', 'services', 'services', True),
    'endpointslices': ('discovery.k8s.io/v1', 'endpointslices', 'endpointslices.discovery.k8s.io', True),
    'ingresses': ('networking.k8s.io/v1', 'ingresses', 'ingresses.networking.k8s.io', True),
    'cronjobs': ('batch/v1', 'cronjobs', 'cronjobs.batch', True),
    'jobs': ('batch/v1', 'jobs', 'jobs.batch', True),
    'nodes': ('v1', 'nodes', 'nodes', False),
}
KIND_LIST = {'Deployment': 'deployments', 'StatefulSet': 'statefulsets', 'DaemonSet': 'daemonsets'}

# waiting reasons that mean the container cannot run (kubectl shows them in STATUS)
BROKEN_WAITING = ('CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'CreateContainerConfigError', 'CreateContainerError',
                  'InvalidImageName', 'RunContainerError', 'ErrImageNeverPull', 'PreCreateHookError', 'PostStartHookError')


def parse_timestamp(text):
    """An RFC 3339 time of the API (``2026-12-03T08:00:00Z``) as an aware datetime, or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def _age(text, now):
    when = parse_timestamp(text)
    return None if when is None else (now - when).total_seconds()


def human_seconds(seconds):
    """``3h12m`` for a number of seconds."""
    seconds = int(max(0, seconds))
    if seconds < 120:
        return '%ds' % seconds
    minutes = seconds // 60
    if minutes < 120:
        return '%dm' % minutes
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return '%dh%02dm' % (hours, minutes)
    return '%dd%02dh' % divmod(hours, 24)


def _int(value, default=0):
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _condition(obj, kind):
    for condition in (obj.get('status') or {}).get('conditions') or []:
        if isinstance(condition, dict) and condition.get('type') == kind:
            return condition
    return None


# -- selectors --------------------------------------------------------------------------------

def selector_matches(selector, labels):
    """Whether a LabelSelector (matchLabels and matchExpressions) selects ``labels``; an empty selector selects nothing here."""
    if not isinstance(selector, dict):
        return False
    match_labels = selector.get('matchLabels') or {}
    expressions = selector.get('matchExpressions') or []
    if not match_labels and not expressions:
        return False
    labels = labels or {}
    for key, value in match_labels.items():
        if labels.get(key) != value:
            return False
    for expression in expressions:
        key, operator, values = expression.get('key'), expression.get('operator'), expression.get('values') or []
        if operator == 'In' and labels.get(key) not in values:
            return False
        if operator == 'NotIn' and key in labels and labels[key] in values:
            return False
        if operator == 'Exists' and key not in labels:
            return False
        if operator == 'DoesNotExist' and key in labels:
            return False
        if operator not in ('In', 'NotIn', 'Exists', 'DoesNotExist'):
            return False
    return True


def service_selects(service, labels):
    """Whether a Service's (equality) selector picks pods with ``labels``; a Service without selector picks none."""
    selector = (service.get('spec') or {}).get('selector') or {}
    return bool(selector) and all((labels or {}).get(key) == value for key, value in selector.items())


# -- workloads --------------------------------------------------------------------------------

class Verdict:
    """Reasons with their statuses; the worst decides."""

    def __init__(self):
        self.reasons = []

    def add(self, status, text):
        """One finding."""
        self.reasons.append((status, text))

    @property
    def status(self):
        """The worst finding's status, ok when there is none."""
        return worst([status for status, dummy in self.reasons]) if self.reasons else OK

    def message(self, ok_text):
        """The findings, worst first, or ``ok_text``."""
        notable = [text for status, text in sorted(self.reasons, key=lambda item: -_rank(item[0])) if status != OK]
        return '; '.join(notable) if notable else ok_text


def _rank(status):
    return {SKIPPED: 0, OK: 1, WARNING: 2, UNKNOWN: 3, CRITICAL: 4}[status]


def _generation(obj, verdict):
    generation = _int(obj['metadata'].get('generation'), None)
    observed = _int((obj.get('status') or {}).get('observedGeneration'), None)
    if generation is not None and (observed is None or observed < generation):
        verdict.add(WARNING, 'generation %d not yet observed by its controller (observed %s): its status is stale'
                    % (generation, observed if observed is not None else 'none'))
        return False
    return True


def deployment_verdict(deployment, scaled_to_zero):
    """The rollout and availability of a Deployment: (Verdict, figures)."""
    spec, status = deployment.get('spec') or {}, deployment.get('status') or {}
    desired = _int(spec.get('replicas'), 1)
    figures = {'desired': desired, 'current': _int(status.get('replicas')), 'updated': _int(status.get('updatedReplicas')),
               'ready': _int(status.get('readyReplicas')), 'available': _int(status.get('availableReplicas'))}
    verdict = Verdict()
    observed = _generation(deployment, verdict)
    progressing = _condition(deployment, 'Progressing')
    if progressing and progressing.get('status') == 'False' and progressing.get('reason') == 'ProgressDeadlineExceeded':
        verdict.add(CRITICAL, 'rollout stuck: progress deadline exceeded (%s)' % (progressing.get('message') or 'no message'))
    if spec.get('paused'):
        verdict.add(WARNING, 'rollout paused')
    if desired == 0:
        verdict.add(scaled_to_zero, 'scaled to zero: no replica is desired')
        return verdict, figures
    if figures['available'] == 0:
        verdict.add(CRITICAL, 'no available replica (0 of %d)' % desired)
    elif figures['available'] < desired:
        verdict.add(WARNING, '%d of %d replicas available' % (figures['available'], desired))
    if observed:
        if figures['updated'] < desired:
            verdict.add(WARNING, 'rollout in progress: %d of %d replicas updated' % (figures['updated'], desired))
        elif figures['current'] > figures['updated']:
            verdict.add(WARNING, 'rollout in progress: %d old replicas pending termination' % (figures['current'] - figures['updated']))
    if figures['ready'] < desired and figures['available'] == desired:
        verdict.add(WARNING, '%d of %d replicas ready' % (figures['ready'], desired))
    return verdict, figures


def statefulset_verdict(statefulset, scaled_to_zero):
    """The rollout and readiness of a StatefulSet: (Verdict, figures)."""
    spec, status = statefulset.get('spec') or {}, statefulset.get('status') or {}
    desired = _int(spec.get('replicas'), 1)
    figures = {'desired': desired, 'current': _int(status.get('replicas')), 'updated': _int(status.get('updatedReplicas')),
               'ready': _int(status.get('readyReplicas')), 'available': _int(status.get('availableReplicas'), _int(status.get('readyReplicas'))),
               'current_revision': status.get('currentRevision'), 'update_revision': status.get('updateRevision')}
    verdict = Verdict()
    observed = _generation(statefulset, verdict)
    if desired == 0:
        verdict.add(scaled_to_zero, 'scaled to zero: no replica is desired')
        return verdict, figures
    if figures['ready'] == 0:
        verdict.add(CRITICAL, 'no ready replica (0 of %d)' % desired)
    elif figures['ready'] < desired:
        verdict.add(WARNING, '%d of %d replicas ready' % (figures['ready'], desired))
    strategy = spec.get('updateStrategy') or {}
    if observed:
        partition = _int((strategy.get('rollingUpdate') or {}).get('partition'), 0)
        if strategy.get('type', 'RollingUpdate') == 'RollingUpdate' and partition:
            figures['partition'] = partition
            if figures['updated'] < desired - partition:
                verdict.add(WARNING, 'partitioned rollout in progress: %d of %d replicas updated (partition %d)'
                            % (figures['updated'], desired - partition, partition))
        elif figures['update_revision'] and figures['current_revision'] != figures['update_revision']:
            if strategy.get('type') == 'OnDelete':
                verdict.add(WARNING, 'update strategy OnDelete: %d of %d pods run revision %s, the rest wait to be deleted'
                            % (figures['updated'], desired, figures['update_revision']))
            else:
                verdict.add(WARNING, 'rollout in progress: %d of %d replicas updated to revision %s'
                            % (figures['updated'], desired, figures['update_revision']))
    return verdict, figures


def daemonset_verdict(daemonset, scaled_to_zero):
    """The rollout and availability of a DaemonSet: (Verdict, figures)."""
    status = daemonset.get('status') or {}
    desired = _int(status.get('desiredNumberScheduled'))
    figures = {'desired': desired, 'current': _int(status.get('currentNumberScheduled')), 'updated': _int(status.get('updatedNumberScheduled')),
               'ready': _int(status.get('numberReady')), 'available': _int(status.get('numberAvailable')),
               'misscheduled': _int(status.get('numberMisscheduled'))}
    verdict = Verdict()
    observed = _generation(daemonset, verdict)
    if desired == 0:
        verdict.add(scaled_to_zero, 'scheduled on no node')
        return verdict, figures
    if figures['available'] == 0:
        verdict.add(CRITICAL, 'no available pod (0 of %d nodes)' % desired)
    elif figures['available'] < desired:
        verdict.add(WARNING, '%d of %d pods available' % (figures['available'], desired))
    if observed and figures['updated'] < desired:
        verdict.add(WARNING, 'rollout in progress: %d of %d pods updated' % (figures['updated'], desired))
    if figures['misscheduled']:
        verdict.add(WARNING, '%d pods on nodes where they should not run' % figures['misscheduled'])
    return verdict, figures


VERDICTS = {'Deployment': deployment_verdict, 'StatefulSet': statefulset_verdict, 'DaemonSet': daemonset_verdict}


# -- pods -------------------------------------------------------------------------------------

def pod_problems(pod, now, thresholds, node_ready):
    """Findings of one pod: [(status, text, container or None, wants_previous_log)]."""
    problems = []
    status = pod.get('status') or {}
    phase = status.get('phase') or 'Unknown'
    name = pod['metadata'].get('name')
    if pod['metadata'].get('deletionTimestamp'):
        return problems  # terminating: part of a rollout or a scale-down, judged by its workload
    node = (pod.get('spec') or {}).get('nodeName')
    if node and node_ready.get(node) is False:
        problems.append((CRITICAL, 'on node %s, which is NotReady' % node, None, False))
    if phase == 'Pending':
        scheduled = _condition(pod, 'PodScheduled')
        since = _age(pod['metadata'].get('creationTimestamp'), now)
        if since is not None and since > thresholds['pending_max_age']:
            why = ''
            if scheduled and scheduled.get('status') == 'False':
                why = ': %s' % (scheduled.get('message') or scheduled.get('reason') or 'not scheduled')
            problems.append((WARNING, 'Pending for %s%s' % (human_seconds(since), why), None, False))
    elif phase in ('Failed', 'Unknown'):
        problems.append((WARNING, 'phase %s%s' % (phase, ': %s' % status['reason'] if status.get('reason') else ''), None, False))
    for container_status in (status.get('initContainerStatuses') or []) + (status.get('containerStatuses') or []):
        if not isinstance(container_status, dict):
            continue
        container = container_status.get('name')
        state = container_status.get('state') or {}
        waiting = state.get('waiting') or {}
        last = (container_status.get('lastState') or {}).get('terminated') or {}
        restarts = _int(container_status.get('restartCount'))
        last_age = _age(last.get('finishedAt'), now)
        recent = last_age is not None and last_age <= thresholds['restart_window']
        if waiting.get('reason') in BROKEN_WAITING:
            text = '%s: %s' % (container, waiting['reason'])
            if waiting.get('message') and waiting['reason'] != 'CrashLoopBackOff':
                # the back-off message only repeats the pod's name and uid; the others say what is wrong (the image, the missing Secret)
                text += ' (%s)' % waiting['message'][:200]
            if restarts:
                text += ', %d restarts' % restarts
            if last.get('reason'):
                text += ', last terminated: %s (exit code %s)' % (last['reason'], last.get('exitCode'))
            started_once = restarts > 0 or bool(last)
            problems.append((CRITICAL, text, container, started_once))
            continue
        if last.get('reason') == 'OOMKilled' and recent:
            problems.append((thresholds['oom_killed'], '%s: OOMKilled %s ago (limit too low for its memory use)' % (container, human_seconds(last_age)),
                             container, True))
        if recent and restarts:
            verdict = evaluate(restarts, thresholds['restarts_warning'], thresholds['restarts_critical'], 'ge')
            if verdict != OK:
                problems.append((verdict, '%s: %d restarts, the last %s ago (warning >= %s, critical >= %s)'
                                 % (container, restarts, human_seconds(last_age), thresholds['restarts_warning'],
                                    thresholds['restarts_critical']), container, True))
    if phase == 'Running' and not problems:
        ready = _condition(pod, 'Ready')
        if ready and ready.get('status') != 'True':
            since = _age(ready.get('lastTransitionTime'), now)
            if since is None or since > thresholds['not_ready_grace']:
                unready = [c.get('name') for c in status.get('containerStatuses') or [] if isinstance(c, dict) and not c.get('ready')]
                text = 'not ready' + (' for %s' % human_seconds(since) if since is not None else '')
                text += ' (containers %s)' % ', '.join(unready) if unready else ''
                problems.append((WARNING, text, unready[0] if unready else None, False))
    return problems


def pod_summary(pod, problems):
    """What the module returns about a pod with problems."""
    status = pod.get('status') or {}
    containers = status.get('containerStatuses') or []
    return {
        'name': pod['metadata'].get('name'),
        'phase': status.get('phase'),
        'node': (pod.get('spec') or {}).get('nodeName'),
        'ready': '%d/%d' % (sum(1 for c in containers if isinstance(c, dict) and c.get('ready')), len((pod.get('spec') or {}).get('containers') or [])),
        'restarts': sum(_int(c.get('restartCount')) for c in containers if isinstance(c, dict)),
        'status': worst(status for status, dummy, dummy2, dummy3 in problems),
        'problems': [text for dummy, text, dummy2, dummy3 in problems],
    }


# -- the run ----------------------------------------------------------------------------------

class Listing:
    """The answers of the list calls, or the error that replaced each."""

    def __init__(self):
        self.items = {}
        self.errors = {}

    def get(self, name):
        """The items, or None when the call failed (see ``errors``)."""
        return self.items.get(name)

    def error(self, name):
        """The failure of one list call as a reason."""
        return str(self.errors[name])


def read_all(client, namespace, wanted):
    """One list call per resource in ``wanted`` (in LISTS order); a refused or failed call is recorded, not raised.

    An unreachable server stops the reads: every later call would fail the same way.
    """
    listing = Listing()
    for name in LISTS:
        if name not in wanted:
            continue
        group_version, plural, resource, namespaced = LISTS[name]
        try:
            listing.items[name] = client.list(group_version, plural, namespace if namespaced else None, resource=resource)
        except K8sApiError as exc:
            listing.errors[name] = exc
        except K8sUnreachable as exc:
            for rest in LISTS:
                if rest in wanted and rest not in listing.items:
                    listing.errors[rest] = exc
            break
    return listing


def _named(items):
    return {item['metadata'].get('name'): item for item in items or [] if isinstance(item.get('metadata'), dict)}


class HealthRun:
    """k8s_health's backend: reads, verdicts, logs."""

    def __init__(self, client, params, now=None):
        self.client = client
        self.params = params
        self.namespace = params['namespace']
        self.now = now or datetime.datetime.now(datetime.timezone.utc)
        self.thresholds = {
            'restart_window': params['restart_window'],
            'restarts_warning': params['restarts_warning'],
            'restarts_critical': params['restarts_critical'],
            'pending_max_age': params['pending_max_age'],
            'not_ready_grace': params['not_ready_grace'],
            'oom_killed': params['oom_killed'],
        }

    def wanted(self):
        """The list calls this run needs."""
        wanted = {'deployments', 'statefulsets', 'daemonsets', 'pods', 'services', 'endpointslices'}
        if self.params['ingress']:
            wanted.add('ingresses')
        if self.params['backup_cronjob']:
            wanted.update(('cronjobs', 'jobs'))
        if self.params['nodes']:
            wanted.add('nodes')
        return wanted

    def run(self):
        """The result dict of the module."""
        listing = read_all(self.client, self.namespace, self.wanted())
        checks, details, problem_pods = {}, {}, []
        unreachable = [error for error in listing.errors.values() if isinstance(error, K8sUnreachable)]
        reachable = not unreachable
        if unreachable:
            # said once, in error and in the task's message; each check only says that it could not look
            for name, error in list(listing.errors.items()):
                if isinstance(error, K8sUnreachable):
                    listing.errors[name] = 'not checked: the API server could not be reached'
        node_ready, node_check = self.nodes(listing)
        endpoints = self.ready_endpoints(listing)
        for spec in self.params['workloads']:
            check, detail, pods = self.workload(spec, listing, node_ready, endpoints)
            checks[spec['name']] = check
            details[spec['name']] = detail
            problem_pods.extend(pods)
        if self.params['ingress']:
            checks['ingress'] = self.ingress(listing, endpoints)
        if self.params['backup_cronjob']:
            checks['backup_job'] = self.backup_job(listing)
        if node_check is not None:
            checks['nodes'] = node_check
        logs = self.logs(problem_pods) if reachable else []
        status, summary = summarize(list(checks.values()))
        return {
            'changed': False,
            'status': status,
            'summary': summary,
            'namespace': self.namespace,
            'reachable': reachable,
            'api_server': self.client.host,
            'checks': {name: check.as_dict() for name, check in checks.items()},
            'workloads': details,
            'problem_pods': [summary_ for dummy, summary_, dummy2 in problem_pods],
            'logs': logs,
            'error': str(unreachable[0]) if unreachable else None,
            'api_requests': len(self.client.requests),
            'requests': list(self.client.requests),
        }

    # nodes
    def nodes(self, listing):
        """{node name: Ready?} and the nodes check (None when not asked for)."""
        if not self.params['nodes']:
            return {}, None
        nodes = listing.get('nodes')
        if nodes is None:
            return {}, Check.unknown('nodes', '%s; set nodes: false when this login may not list nodes (pods on a NotReady node '
                                              'still show as not ready)' % listing.error('nodes'))
        ready = {}
        for node in nodes:
            condition = _condition(node, 'Ready')
            ready[node['metadata'].get('name')] = bool(condition and condition.get('status') == 'True')
        not_ready = sorted(name for name, is_ready in ready.items() if not is_ready)
        if not ready:
            return ready, Check.unknown('nodes', 'the cluster lists no node', total=0, not_ready=[])
        if not_ready:
            return ready, Check('nodes', WARNING, '%d of %d nodes NotReady: %s' % (len(not_ready), len(ready), ', '.join(not_ready)),
                                total=len(ready), not_ready=not_ready)
        return ready, Check('nodes', OK, 'all %d nodes Ready' % len(ready), total=len(ready), not_ready=[])

    # endpoints
    @staticmethod
    def ready_endpoints(listing):
        """{service name: (ready, total)} from the EndpointSlices, or None when they could not be read."""
        slices = listing.get('endpointslices')
        if slices is None:
            return None
        counts = {}
        for endpoint_slice in slices:
            service = (endpoint_slice['metadata'].get('labels') or {}).get('kubernetes.io/service-name')
            if not service:
                continue
            ready, total = counts.get(service, (0, 0))
            for endpoint in endpoint_slice.get('endpoints') or []:
                total += 1
                # the API: a nil ready condition is to be read as true
                if (endpoint.get('conditions') or {}).get('ready', True) is not False:
                    ready += 1
            counts[service] = (ready, total)
        return counts

    # workloads
    def find(self, spec, listing):
        """(kind, object) or (None, reason status, reason)."""
        kinds = [spec['kind']] if spec.get('kind') else list(KINDS)
        failed = []
        for kind in kinds:
            items = listing.get(KIND_LIST[kind])
            if items is None:
                failed.append(KIND_LIST[kind])
                continue
            found = _named(items).get(spec['name'])
            if found is not None:
                return kind, found, None
        if failed:
            reasons = []
            for name in failed:
                if listing.error(name) not in reasons:
                    reasons.append(listing.error(name))
            return None, UNKNOWN, 'cannot tell whether it exists: %s' % '; '.join(reasons)
        return None, CRITICAL, 'not found: no %s named %s in namespace %s' % (' or '.join(kinds), spec['name'], self.namespace)

    def workload(self, spec, listing, node_ready, endpoints):
        """(Check, detail, [(pod, summary, problems)]) for one workload."""
        name = spec['name']
        kind, obj, reason = self.find(spec, listing)
        if kind is None:
            status = obj
            return Check(name, status, reason, kind=spec.get('kind')), {'kind': spec.get('kind'), 'found': False}, []
        verdict, figures = VERDICTS[kind](obj, self.params['scaled_to_zero'])
        detail = {'kind': kind, 'found': True, 'generation': obj['metadata'].get('generation'),
                  'observed_generation': (obj.get('status') or {}).get('observedGeneration')}
        detail.update(figures)
        template_labels = ((((obj.get('spec') or {}).get('template') or {}).get('metadata') or {}).get('labels')) or {}
        selector = (obj.get('spec') or {}).get('selector')
        # pods
        problem_pods = []
        pods = listing.get('pods')
        if pods is None:
            verdict.add(UNKNOWN, 'pods not checked: %s' % listing.error('pods'))
        else:
            mine = [pod for pod in pods if selector_matches(selector, (pod.get('metadata') or {}).get('labels'))]
            detail['pods'] = len(mine)
            for pod in sorted(mine, key=lambda p: p['metadata'].get('name') or ''):
                problems = pod_problems(pod, self.now, self.thresholds, node_ready)
                if problems:
                    summary = pod_summary(pod, problems)
                    summary['workload'] = name
                    problem_pods.append((pod, summary, problems))
            if problem_pods:
                worst_pod = max(problem_pods, key=lambda entry: _rank(entry[1]['status']))
                verdict.add(worst_pod[1]['status'], '%d of %d pods with problems, e.g. %s: %s'
                            % (len(problem_pods), len(mine), worst_pod[1]['name'], worst_pod[1]['problems'][0]))
        # services
        services = listing.get('services')
        detail['services'] = []
        if services is None:
            verdict.add(UNKNOWN, 'services not checked: %s' % listing.error('services'))
        else:
            for service in sorted(services, key=lambda s: s['metadata'].get('name') or ''):
                if not service_selects(service, template_labels):
                    continue
                service_name = service['metadata'].get('name')
                entry = {'name': service_name, 'type': (service.get('spec') or {}).get('type', 'ClusterIP')}
                if endpoints is None:
                    entry['ready_endpoints'] = None
                    verdict.add(UNKNOWN, 'endpoints of service %s not checked: %s' % (service_name, listing.error('endpointslices')))
                else:
                    ready, total = endpoints.get(service_name, (0, 0))
                    entry.update(ready_endpoints=ready, endpoints=total)
                    if ready == 0 and figures.get('desired'):
                        verdict.add(CRITICAL, 'service %s has no ready endpoint (%d endpoints)' % (service_name, total))
                detail['services'].append(entry)
        detail['reasons'] = [text for dummy, text in verdict.reasons]
        ok_text = '%s: %d/%d ready, %d/%d up to date' % (
            kind, figures.get('ready', 0), figures.get('desired', 0), figures.get('updated', 0), figures.get('desired', 0))
        return Check(name, verdict.status, verdict.message(ok_text), kind=kind), detail, problem_pods

    # ingress
    def ingress(self, listing, endpoints):
        """Every Ingress (or the named ones) has an address and backends that exist and have ready endpoints."""
        ingresses = listing.get('ingresses')
        if ingresses is None:
            return Check.unknown('ingress', listing.error('ingresses'))
        named = _named(ingresses)
        wanted = self.params['ingresses'] or sorted(named)
        verdict = Verdict()
        if not wanted:
            return Check('ingress', WARNING, 'no Ingress in namespace %s: nothing routes traffic to the services' % self.namespace, ingresses=[])
        services = _named(listing.get('services')) if listing.get('services') is not None else None
        report = []
        for name in wanted:
            ingress = named.get(name)
            if ingress is None:
                verdict.add(CRITICAL, 'ingress %s not found' % name)
                continue
            addresses = [entry.get('ip') or entry.get('hostname') for entry in
                         ((ingress.get('status') or {}).get('loadBalancer') or {}).get('ingress') or [] if isinstance(entry, dict)]
            addresses = [address for address in addresses if address]
            if not addresses:
                verdict.add(WARNING, 'ingress %s has no address: its controller has not admitted it' % name)
            backends = sorted(set(_backends(ingress)))
            for backend in backends:
                if services is None:
                    verdict.add(UNKNOWN, 'backends of ingress %s not checked: %s' % (name, listing.error('services')))
                    break
                if backend not in services:
                    verdict.add(CRITICAL, 'ingress %s routes to service %s, which does not exist' % (name, backend))
                elif endpoints is not None and endpoints.get(backend, (0, 0))[0] == 0:
                    verdict.add(CRITICAL, 'ingress %s routes to service %s, which has no ready endpoint' % (name, backend))
            report.append({'name': name, 'addresses': addresses, 'backends': backends})
        return Check('ingress', verdict.status, verdict.message('%d ingresses with an address and ready backends' % len(report)), ingresses=report)

    # backup job
    def backup_job(self, listing):
        """The backup CronJob's last success against its max age, and failed runs since."""
        name = self.params['backup_cronjob']
        cronjobs = listing.get('cronjobs')
        if cronjobs is None:
            return Check.unknown('backup_job', listing.error('cronjobs'), cronjob=name)
        cronjob = _named(cronjobs).get(name)
        if cronjob is None:
            return Check('backup_job', CRITICAL, 'CronJob %s not found in namespace %s' % (name, self.namespace), cronjob=name)
        status = cronjob.get('status') or {}
        verdict = Verdict()
        figures = {'cronjob': name, 'schedule': (cronjob.get('spec') or {}).get('schedule'),
                   'last_schedule': status.get('lastScheduleTime'), 'last_success': status.get('lastSuccessfulTime'),
                   'active': len(status.get('active') or []), 'failed_since_success': []}
        if (cronjob.get('spec') or {}).get('suspend'):
            verdict.add(WARNING, 'CronJob %s is suspended' % name)
        success_age = _age(status.get('lastSuccessfulTime'), self.now)
        figures['last_success_age_seconds'] = success_age
        if success_age is None:
            verdict.add(CRITICAL, 'CronJob %s has never completed successfully' % name)
        elif success_age > self.params['backup_max_age']:
            verdict.add(CRITICAL, 'the last successful run of %s was %s ago (max %s)'
                        % (name, human_seconds(success_age), human_seconds(self.params['backup_max_age'])))
        jobs = listing.get('jobs')
        if jobs is None:
            verdict.add(UNKNOWN, 'jobs not checked: %s' % listing.error('jobs'))
        else:
            last_success = parse_timestamp(status.get('lastSuccessfulTime'))
            for job in sorted(jobs, key=lambda j: j['metadata'].get('creationTimestamp') or ''):
                owners = job['metadata'].get('ownerReferences') or []
                if not any(owner.get('kind') == 'CronJob' and owner.get('name') == name for owner in owners if isinstance(owner, dict)):
                    continue
                failed = _condition(job, 'Failed')
                if not failed or failed.get('status') != 'True':
                    continue
                when = parse_timestamp(failed.get('lastTransitionTime')) or parse_timestamp(job['metadata'].get('creationTimestamp'))
                if last_success is None or (when is not None and when > last_success):
                    figures['failed_since_success'].append({'job': job['metadata'].get('name'), 'reason': failed.get('reason'),
                                                            'message': failed.get('message'), 'time': failed.get('lastTransitionTime')})
            if figures['failed_since_success']:
                last = figures['failed_since_success'][-1]
                verdict.add(WARNING, '%d failed runs since the last success, the last %s: %s'
                            % (len(figures['failed_since_success']), last['job'], last['reason'] or last['message'] or 'failed'))
        ok_text = 'last success %s ago (max %s)' % (human_seconds(success_age or 0), human_seconds(self.params['backup_max_age']))
        return Check('backup_job', verdict.status, verdict.message(ok_text), **figures)

    # logs
    def logs(self, problem_pods):
        """The last lines of the failing containers of the pods with problems, capped (pods, lines, bytes)."""
        if self.params['logs'] == 'none':
            return []
        entries = []
        for pod, summary, problems in problem_pods[:self.params['log_pods']]:
            containers = [(container, previous) for dummy, dummy2, container, previous in problems if container]
            if not containers:
                spec_containers = (pod.get('spec') or {}).get('containers') or []
                containers = [(spec_containers[0].get('name'), False)] if spec_containers else []
                if summary['phase'] == 'Pending':
                    continue  # nothing ran: there is no log to read
            seen = set()
            for container, previous in containers:
                if container in seen:
                    continue
                seen.add(container)
                entries.append(self._log(pod['metadata']['name'], container, previous))
        return entries

    def _log(self, pod, container, previous):
        entry = {'pod': pod, 'container': container, 'previous': previous}
        try:
            text = self.client.pod_log(self.namespace, pod, container, self.params['log_lines'], self.params['log_bytes'], previous)
        except (K8sApiError, K8sUnreachable) as exc:
            if previous and isinstance(exc, K8sApiError) and exc.code == 400:
                # no previous instance to read (it was never started, or it was garbage-collected): read the current one
                return self._log(pod, container, False)
            entry.update(lines=[], error=str(exc))
            return entry
        lines = text.splitlines()
        entry['lines'] = lines[-self.params['log_lines']:]
        entry['truncated'] = len(text.encode('utf-8')) >= self.params['log_bytes']
        return entry


def _backends(ingress):
    spec = ingress.get('spec') or {}
    default = ((spec.get('defaultBackend') or {}).get('service') or {}).get('name')
    if default:
        yield default
    for rule in spec.get('rules') or []:
        for path in ((rule or {}).get('http') or {}).get('paths') or []:
            name = (((path or {}).get('backend') or {}).get('service') or {}).get('name')
            if name:
                yield name


def normalize_workloads(workloads):
    """The workloads option as [{name, kind}], with messages naming the option for bad entries."""
    result, problems, seen = [], [], set()
    for index, entry in enumerate(workloads):
        if isinstance(entry, str):
            entry = {'name': entry}
        if not isinstance(entry, dict) or not isinstance(entry.get('name'), str) or not entry['name'].strip():
            problems.append('workloads[%d] must be a name or a dict with name (and kind)' % index)
            continue
        unknown = sorted(set(entry) - {'name', 'kind'})
        if unknown:
            problems.append('workloads[%d]: unknown key(s) %s; use name and kind' % (index, ', '.join(unknown)))
            continue
        kind = entry.get('kind')
        if kind is not None and kind not in KINDS:
            problems.append('workloads[%d].kind must be one of %s, got %r' % (index, ', '.join(KINDS), kind))
            continue
        if entry['name'] in seen or entry['name'] in ('ingress', 'backup_job', 'nodes'):
            problems.append('workloads[%d]: %s is %s' % (index, entry['name'], 'given twice' if entry['name'] in seen
                                                         else 'the name of another check; it cannot be a workload name here'))
            continue
        seen.add(entry['name'])
        result.append({'name': entry['name'], 'kind': kind})
    return result, problems
