#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: k8s_health
short_description: Health of the DSR workloads on Kubernetes, the runbook's System Health Verification
version_added: 0.3.0
description:
  - Judges every workload of O(workloads) in O(namespace) - Deployments, StatefulSets and DaemonSets - by the rules
    C(kubectl rollout status) and the kube-state-metrics alerts use, its pods by what C(kubectl get pods) shows, the
    Services that select its pods by their ready endpoints (EndpointSlices), the Ingresses by their address and backends,
    and the database backup CronJob by the age of its last success. Each is one check with the shared status
    (V(ok), V(warning), V(critical), V(unknown)).
  - "Workloads: a change not yet observed by the controller (C(metadata.generation) above C(status.observedGeneration))
    is a warning whatever the replicas say; a Deployment whose C(Progressing) condition is C(ProgressDeadlineExceeded), or
    with no available replica, is critical; fewer updated, ready or available replicas than desired is a warning; a
    StatefulSet's partition and revisions, and a DaemonSet's scheduled, updated and available pods, are judged likewise."
  - "Pods: a container waiting with V(CrashLoopBackOff), V(ImagePullBackOff), V(ErrImagePull), V(CreateContainerConfigError)
    (and the other reasons a container cannot start) is critical; an V(OOMKilled) termination or restarts within
    O(restart_window), Pending longer than O(pending_max_age), not ready, or on a NotReady node are judged by the options
    below. A pod with a problem makes its workload at least as bad."
  - The last O(log_lines) lines of every failing container (the previous instance for a crash loop) are returned, for
    up to O(log_pods) pods - not only the first pod of a Deployment.
  - A workload that is not found is V(critical). A list call that the API server refuses (RBAC) or cannot answer makes
    what depends on it V(unknown), naming the verb and the resource refused. Nothing is V(ok) for not having been seen.
  - A fixed number of list calls per run (at most ten, one per resource kind), whatever the number of workloads, plus one
    call per log read; RV(api_requests) counts them. The runbook's loop makes nineteen calls plus the logs.
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.kubernetes
  - dsr.ops.attributes
  - dsr.ops.attributes.INFO_MODULE
options:
  namespace:
    description: The namespace of the DSR environment.
    type: str
    default: dsr-production
  workloads:
    description:
      - The workloads to judge, each a name or a dict with O(workloads[].name) and O(workloads[].kind).
      - Default, the runbook's seven services, the frontend and the database - V(registration-service),
        V(data-management-service), V(eligibility-service), V(interoperability-service), V(payment-service),
        V(grievance-service), V(analytics-service), V(dsr-frontend), V(postgresql).
      - A name is looked for among the Deployments, then the StatefulSets, then the DaemonSets, unless its kind is given.
    type: list
    elements: raw
    suboptions:
      name:
        description: The workload's name; also its check's name in RV(checks).
        type: str
        required: true
      kind:
        description: V(Deployment), V(StatefulSet) or V(DaemonSet).
        type: str
  scaled_to_zero:
    description: The status of a workload scaled to zero replicas (a DSR service nobody serves).
    type: str
    choices: [ok, warning, critical]
    default: critical
  restart_window:
    description:
      - Restarts count when the container's last termination finished within this window (a duration such as V(1h)).
        Kubernetes keeps only a container's restart count and its last termination, so older restarts are shown but ok.
    type: str
    default: 1h
  restarts_warning:
    description: Restarts of a container (last one within O(restart_window)) that make a warning.
    type: int
    default: 1
  restarts_critical:
    description: Restarts of a container (last one within O(restart_window)) that make it critical.
    type: int
    default: 5
  oom_killed:
    description: The status of a container whose last termination, within O(restart_window), was V(OOMKilled).
    type: str
    choices: [ok, warning, critical]
    default: warning
  pending_max_age:
    description: A pod Pending longer than this (a duration) is a warning, with the scheduler's reason.
    type: str
    default: 5m
  not_ready_grace:
    description: A running pod not ready for less than this (a duration) is not reported (a readiness probe flapping once).
    type: str
    default: 2m
  ingress:
    description: Check the Ingresses of the namespace (O(ingresses), else all of them; none at all is a warning).
    type: bool
    default: true
  ingresses:
    description: The Ingresses that must exist; unset means every Ingress in the namespace.
    type: list
    elements: str
  backup_cronjob:
    description:
      - The CronJob that backs the database up (the runbook's C(job/postgresql-backup)); an empty string skips the check.
      - Its C(status.lastSuccessfulTime) must be younger than O(backup_max_age), and failed Jobs it owns since are a warning.
    type: str
    default: postgresql-backup
  backup_max_age:
    description: The oldest acceptable last success of O(backup_cronjob) (a duration).
    type: str
    default: 26h
  nodes:
    description:
      - List the nodes, to report NotReady ones and the pods on them. Set V(false) when the login may only read its
        namespace (pods on a NotReady node are still seen as not ready by the pod checks).
    type: bool
    default: true
  logs:
    description: V(failing) reads the logs of the failing containers; V(none) reads no log (logs may hold personal data).
    type: str
    choices: [failing, none]
    default: failing
  log_lines:
    description: Lines per container log (the runbook's C(--tail=10)).
    type: int
    default: 10
  log_bytes:
    description: Bytes per container log at most (C(limitBytes)), so a runaway log cannot fill the result.
    type: int
    default: 8192
  log_pods:
    description: Pods whose logs are read at most, the first ones with problems.
    type: int
    default: 10
  fail_on:
    description:
      - When the task fails. V(critical) fails on an overall V(critical) or V(unknown); V(warning) on V(warning) too;
        V(never) only reports.
    type: str
    choices: [critical, warning, never]
    default: critical
notes:
  - Read-only; RV(ignore:changed) is always false. The login needs C(list) on the kinds above in the namespace, C(get) on
    C(pods/log), and C(list) on C(nodes) unless O(nodes=false).
  - Workload names may not be V(ingress), V(backup_job) or V(nodes), the names of the other checks.
seealso:
  - name: kubectl rollout status
    description: The rollout rules this module applies.
    link: https://kubernetes.io/docs/reference/kubectl/generated/kubectl_rollout/kubectl_rollout_status/
  - module: dsr.ops.metrics_check
'''

EXAMPLES = r'''
- name: The runbook's System Health Verification, with an AWX bearer-token credential (K8S_AUTH_* in the environment)
  dsr.ops.k8s_health:
    namespace: dsr-production
  register: k8s

- name: A namespace-scoped monitor login, the staging namespace, stricter restarts
  dsr.ops.k8s_health:
    kubeconfig: /etc/dsr/kubeconfig-monitor
    context: dsr-staging
    namespace: dsr-staging
    nodes: false
    restarts_warning: 1
    restarts_critical: 3
    fail_on: warning

- name: Show the failing containers' last lines
  ansible.builtin.debug:
    msg: "{{ item.pod }}/{{ item.container }}{{ ' (previous)' if item.previous else '' }}: {{ item.lines }}"
  loop: "{{ k8s.logs }}"
  loop_control:
    label: "{{ item.pod }}"
'''

RETURN = r'''
status:
  description: Overall status, the worst of the checks.
  returned: always
  type: str
  sample: critical
summary:
  description: One line naming the overall status and every check that is not V(ok).
  returned: always
  type: str
  sample: "critical: payment-service=critical, backup_job=warning"
failed_checks:
  description: Names of the checks whose status made the task fail under O(fail_on).
  returned: always
  type: list
  elements: str
  sample: [payment-service]
namespace:
  description: The namespace checked.
  returned: always
  type: str
  sample: dsr-production
reachable:
  description: Whether the API server answered.
  returned: always
  type: bool
  sample: true
error:
  description: Why the API server could not be reached, said once (each check then only says it could not look); null when it answered.
  returned: always
  type: str
  sample: null
api_server:
  description: The API server's URL.
  returned: always
  type: str
  sample: https://api.dsr.example:6443
checks:
  description: One entry per workload (by its name), and V(ingress), V(backup_job) and V(nodes) when checked.
  returned: always
  type: dict
  contains:
    status:
      description: The check's status.
      type: str
      returned: always
      sample: critical
    msg:
      description: Why, worst finding first.
      type: str
      returned: always
      sample: "1 of 3 pods with problems, e.g. payment-service-7d9f-x2x: payment: CrashLoopBackOff, 7 restarts"
    kind:
      description: The workload's kind (workload checks).
      type: str
      returned: for workloads
      sample: Deployment
    ingresses:
      description: Each Ingress checked with its C(addresses) and C(backends) (the V(ingress) check).
      type: list
      elements: dict
      returned: for the ingress check
      sample: [{name: dsr-ingress, addresses: [203.0.113.10], backends: [dsr-frontend, registration-service]}]
    cronjob:
      description: The backup CronJob's name (the V(backup_job) check).
      type: str
      returned: for the backup_job check
      sample: postgresql-backup
    schedule:
      description: Its schedule.
      type: str
      returned: when the CronJob was found
      sample: 0 2 * * *
    last_schedule:
      description: Its C(status.lastScheduleTime).
      type: str
      returned: when the CronJob was found
      sample: "2026-12-03T02:00:00Z"
    last_success:
      description: Its C(status.lastSuccessfulTime), null when it never succeeded.
      type: str
      returned: when the CronJob was found
      sample: "2026-12-03T02:14:31Z"
    last_success_age_seconds:
      description: Seconds since the last success, null when it never succeeded.
      type: float
      returned: when the CronJob was found
      sample: 25320.0
    active:
      description: Jobs of the CronJob running now.
      type: int
      returned: when the CronJob was found
      sample: 0
    failed_since_success:
      description: Failed Jobs of the CronJob since its last success, each with C(job), C(reason), C(message), C(time).
      type: list
      elements: dict
      returned: when the CronJob was found
      sample: []
    total:
      description: Nodes listed (the V(nodes) check).
      type: int
      returned: for the nodes check, when they were listed
      sample: 3
    not_ready:
      description: Names of the NotReady nodes (the V(nodes) check).
      type: list
      elements: str
      returned: for the nodes check, when they were listed
      sample: []
workloads:
  description: Per workload, what was read.
  returned: always
  type: dict
  contains:
    kind:
      description: Deployment, StatefulSet or DaemonSet; null when not found.
      type: str
      returned: always
      sample: Deployment
    found:
      description: Whether the workload exists.
      type: bool
      returned: always
      sample: true
    generation:
      description: C(metadata.generation).
      type: int
      returned: when found
      sample: 12
    observed_generation:
      description: C(status.observedGeneration).
      type: int
      returned: when found
      sample: 12
    desired:
      description: Desired replicas (scheduled nodes for a DaemonSet).
      type: int
      returned: when found
      sample: 3
    current:
      description: Current replicas (scheduled pods for a DaemonSet).
      type: int
      returned: when found
      sample: 3
    updated:
      description: Replicas of the current template.
      type: int
      returned: when found
      sample: 3
    ready:
      description: Ready replicas.
      type: int
      returned: when found
      sample: 3
    available:
      description: Available replicas.
      type: int
      returned: when found
      sample: 3
    current_revision:
      description: A StatefulSet's C(status.currentRevision).
      type: str
      returned: for StatefulSets
      sample: postgresql-6d4b9c7f5
    update_revision:
      description: A StatefulSet's C(status.updateRevision).
      type: str
      returned: for StatefulSets
      sample: postgresql-6d4b9c7f5
    partition:
      description: A StatefulSet's rolling-update partition, when set.
      type: int
      returned: for partitioned StatefulSets
      sample: 1
    misscheduled:
      description: A DaemonSet's pods on nodes where they should not run.
      type: int
      returned: for DaemonSets
      sample: 0
    pods:
      description: Pods its selector picks.
      type: int
      returned: when found and the pods were listed
      sample: 3
    services:
      description: The Services selecting its pods, each with C(name), C(type), C(ready_endpoints) and C(endpoints).
      type: list
      elements: dict
      returned: when found
      sample: [{name: payment-service, type: ClusterIP, ready_endpoints: 3, endpoints: 3}]
    reasons:
      description: Every finding about the workload, in the order found.
      type: list
      elements: str
      returned: when found
      sample: ["2 of 3 replicas available"]
problem_pods:
  description: The pods with problems, each with C(name), C(workload), C(phase), C(node), C(ready), C(restarts), C(status) and C(problems).
  returned: always
  type: list
  elements: dict
  sample: [{name: payment-service-7d9f-x2x, workload: payment-service, phase: Running, node: node-2, ready: 0/1, restarts: 7,
            status: critical, problems: ["payment: CrashLoopBackOff, 7 restarts, last terminated: Error (exit code 1)"]}]
logs:
  description:
    - The last lines of the failing containers, each with C(pod), C(container), C(previous), C(lines), C(truncated) (the
      O(log_bytes) cap was reached), or C(error) when the log could not be read.
    - Logs can hold personal data; set O(logs=none) where the job output is widely readable.
  returned: always
  type: list
  elements: dict
  sample: [{pod: payment-service-7d9f-x2x, container: payment, previous: true, lines: ["FATAL: cannot reach dsr-db"], truncated: false}]
api_requests:
  description: Requests sent to the API server.
  returned: always
  type: int
  sample: 11
requests:
  description: The requests sent, as C(METHOD path?query).
  returned: always
  type: list
  elements: str
  sample: ["GET /apis/apps/v1/namespaces/dsr-production/deployments"]
'''

from ansible_collections.dsr.ops.plugins.module_utils._module import run_module
from ansible_collections.dsr.ops.plugins.module_utils._k8s.entry import CHECK


def main():
    run_module(CHECK)


if __name__ == '__main__':
    main()
