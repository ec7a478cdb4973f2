# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A stub of the Kubernetes API server, for tests only. Not an API server: no etcd, no controllers, no admission.

No Kubernetes API server can be installed on the test machine, so the suite
tests ``dsr.ops.k8s_health``, ``k8s_config_backup`` and ``k8s_config_restore``
(and Debian's ``kubectl``) against this stub. It keeps objects in memory, as
JSON dicts in the shapes the real server sends (``k8s_fixtures.py`` builds
them with the ``kubernetes`` client's own model classes), and implements:

* HTTP, or HTTPS when given a certificate chain and key (ALPN ``http/1.1``
  only: Go clients fall back from HTTP/2); bearer-token authentication on every
  path but ``/_stub/``: a missing or unknown token is the 401 ``Unauthorized``
  Status the real server sends when anonymous access is off. Each token maps to
  a user name, used in 403 messages;
* discovery in the legacy (non-aggregated) form: ``/version``, ``/api``
  (APIVersions), ``/api/v1`` and ``/apis/<group>/<version>`` (APIResourceList
  with ``namespaced``, ``kind``, ``verbs``, ``shortNames``, ``categories``),
  ``/apis`` (APIGroupList), for the resources of :data:`RESOURCES` only, with
  ``pods/log`` as the one subresource. A client asking for aggregated discovery
  (``apidiscovery.k8s.io/v2``) gets these plain documents with
  ``Content-Type: application/json``, which client-go takes as the legacy form;
  ``/healthz``, ``/livez`` and ``/readyz`` answer ``ok``;
* ``/openapi/v3`` (the index) and ``/openapi/v3/<api/v1|apis/g/v>``: a minimal
  OpenAPI 3 document per group-version holding only a PATCH operation per kind
  with its ``x-kubernetes-group-version-kind`` and the ``fieldValidation``,
  ``fieldManager``, ``dryRun`` and ``force`` parameters, which is what kubectl's
  query-parameter verifier reads before ``apply`` (with it kubectl uses the
  server's field validation instead of client-side schema validation, which
  would need ``/openapi/v2``). No schemas: ``kubectl explain`` and client-side
  validation do not work. ``/openapi/v2`` answers 404;
* get, and list (namespaced, and across namespaces for namespaced resources)
  with ``labelSelector`` (``=``, ``==``, ``!=``, ``in``, ``notin``, ``key``,
  ``!key``), ``fieldSelector`` (``=``, ``==``, ``!=`` on the fields the real
  server allows for that kind, else its 400), ``limit`` and ``continue``
  (the token is the stub's own; lists are not snapshots), ``kind: XList``,
  ``metadata.resourceVersion``, items without ``apiVersion``/``kind`` as the
  real server sends them, sorted by namespace and name. ``watch`` (the
  ``watch`` parameter or a ``/watch/`` path) answers 405 MethodNotAllowed
  ``watch is not supported on resources of kind ...`` although discovery lists
  the verb: the stub never streams. A Table ``Accept`` is answered with the
  plain list;
* ``pods/log`` with ``container`` (the real rules when it is missing or
  wrong), ``previous``, ``tailLines``, ``limitBytes``, ``timestamps``,
  ``sinceSeconds``/``sinceTime``, from lines held per pod, container and
  previous-or-current; the kubelet's 400s for a missing previous container and
  a container waiting to start; a pod with no node gives an empty log;
  ``follow`` returns what there is and ends;
* server-side apply: PATCH with ``application/apply-patch+yaml`` (a YAML or
  JSON body), ``fieldManager`` required (the real 422 otherwise), ``force``,
  ``dryRun=All``; it creates a missing object (201) and otherwise merges the
  applied fields into the stored object with a simple recursive merge (maps
  merged key by key, lists of maps that all have a ``name`` merged by name,
  other lists replaced). Real field ownership is NOT modelled: fields a manager
  stops applying are not removed, and conflicts come only from a fault set on
  ``/_stub/faults``, answered with the real 409 apply-conflict Status unless
  ``force=true``. The body is checked as the real server checks it:
  ``metadata.managedFields`` must be absent (400), name and namespace must
  match the URL (400), a ``metadata.resourceVersion`` must be the current one
  (409; on a missing object the stub ignores it), ``spec.replicas`` must not be
  negative (422), the namespace must exist (404). ``status`` in the body is
  dropped for kinds with a status subresource; ``uid``, ``resourceVersion``,
  ``creationTimestamp`` and ``generation`` (bumped when ``spec`` changes, for
  the kinds that have one) are assigned, and a ``managedFields`` entry (manager,
  ``Apply``, ``FieldsV1`` computed from the applied body) is written per manager.
  An apply that changes nothing writes nothing (same resourceVersion). No
  defaulting, no admission, no controllers: an applied Deployment gets no
  status, no ReplicaSet and no Pod;
* ``application/merge-patch+json`` (RFC 7386) and ``application/json-patch+json``
  (RFC 6902: add, remove, replace, move, copy, test) on existing objects, with
  the same resourceVersion precondition (kubectl's managed-fields migration
  after an apply sends such a patch). Strategic merge patch answers 415;
* POST (create, 409 AlreadyExists) and DELETE (the Success Status; no
  graceful deletion, no finalizers, no garbage collection of dependents);
  PUT answers 405;
* the real Status shapes (``kind: Status``, ``apiVersion: v1``, ``metadata: {}``,
  ``status: Failure``, ``message``, ``reason``, ``details``, ``code``) for 401,
  403 (the RBAC authorizer's message), 404 (with details), 409, 422, 500 and
  503; an unknown path answers the real server's plain-text ``404 page not found``;
* ``/_stub/`` control endpoints (no authentication, not in the request log):
  ``POST /_stub/objects`` (seed: a list or ``{"items": [...]}``, upserted, with
  server fields filled in where missing), ``DELETE /_stub/objects``,
  ``POST /_stub/logs``, ``POST /_stub/scenario`` (``{"names": [...]}``: the
  fixtures of ``k8s_fixtures.py`` rebuilt with those scenarios),
  ``GET``/``POST``/``DELETE /_stub/faults`` (``forbid`` rules, ``down`` with a
  code of 500 or 503 and an optional count, ``apply_conflicts``, ``delay``),
  ``GET``/``DELETE /_stub/requests`` (method, path, query, user, status of each
  API request), ``POST /_stub/reset`` (the seed the server started with, no
  faults, an empty log).

What the stub does not know it refuses (404, 405, 415, 400) rather than
guesses. Real API servers differ in far more than this (defaulting, validation
of every field, admission, field ownership, watch, protobuf, aggregated
discovery, priority and fairness, audit, quotas); nothing here says otherwise.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import datetime
import json
import os
import re
import signal
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_USER = 'system:serviceaccount:dsr:monitor'
# the version Debian's kubectl has, so kubectl prints no version-skew warning; the build fields are the stub's own
DEFAULT_VERSION = '1.32.4'
LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration'
UTC = datetime.timezone.utc

VERBS = ('create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch')
NAMESPACE_VERBS = ('create', 'delete', 'get', 'list', 'patch', 'update', 'watch')
METADATA_FIELDS = ('metadata.name', 'metadata.namespace')
POD_FIELDS = METADATA_FIELDS + ('spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork',
                                'status.phase', 'status.podIP', 'status.nominatedNodeName')
EVENT_FIELDS = METADATA_FIELDS + ('involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid',
                                  'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason',
                                  'reportingComponent', 'source', 'type')


class Resource:
    """One resource of the discovery documents and what the stub does with it."""

    # pylint: disable-next=too-many-arguments
    def __init__(self, group, version, plural, kind, namespaced=True, short_names=(), categories=(), status=False, generation=False,
                 fields=METADATA_FIELDS, field_error='default', verbs=VERBS):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced = namespaced
        self.short_names, self.categories = list(short_names), list(categories)
        self.status, self.generation = status, generation
        self.fields, self.field_error = fields, field_error
        self.verbs = list(verbs)

    @property
    def api_version(self):
        return '%s/%s' % (self.group, self.version) if self.group else self.version

    @property
    def qualified(self):
        """``deployments.apps``, ``pods``: how the real messages name a resource."""
        return '%s.%s' % (self.plural, self.group) if self.group else self.plural

    @property
    def qualified_kind(self):
        return '%s.%s' % (self.kind, self.group) if self.group else self.kind

    def discovery(self):
        entry = {'name': self.plural, 'singularName': self.kind.lower(), 'namespaced': self.namespaced, 'kind': self.kind, 'verbs': self.verbs}
        if self.short_names:
            entry['shortNames'] = self.short_names
        if self.categories:
            entry['categories'] = self.categories
        return entry


RESOURCES = [
    Resource('', 'v1', 'pods', 'Pod', short_names=['po'], categories=['all'], status=True, fields=POD_FIELDS, field_error='label'),
    Resource('', 'v1', 'services', 'Service', short_names=['svc'], categories=['all'], status=True),
    Resource('', 'v1', 'configmaps', 'ConfigMap', short_names=['cm']),
    Resource('', 'v1', 'secrets', 'Secret', fields=METADATA_FIELDS + ('type',), field_error='label'),
    Resource('', 'v1', 'serviceaccounts', 'ServiceAccount', short_names=['sa']),
    Resource('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', short_names=['pvc'], status=True),
    Resource('', 'v1', 'namespaces', 'Namespace', namespaced=False, short_names=['ns'], status=True, fields=METADATA_FIELDS + ('status.phase',),
             field_error='label', verbs=NAMESPACE_VERBS),
    Resource('', 'v1', 'nodes', 'Node', namespaced=False, short_names=['no'], status=True, fields=METADATA_FIELDS + ('spec.unschedulable',),
             field_error='label'),
    Resource('', 'v1', 'endpoints', 'Endpoints', short_names=['ep']),
    Resource('', 'v1', 'events', 'Event', short_names=['ev'], fields=EVENT_FIELDS, field_error='label'),
    Resource('apps', 'v1', 'deployments', 'Deployment', short_names=['deploy'], categories=['all'], status=True, generation=True),
    Resource('apps', 'v1', 'statefulsets', 'StatefulSet', short_names=['sts'], categories=['all'], status=True, generation=True),
    Resource('apps', 'v1', 'daemonsets', 'DaemonSet', short_names=['ds'], categories=['all'], status=True, generation=True),
    Resource('apps', 'v1', 'replicasets', 'ReplicaSet', short_names=['rs'], categories=['all'], status=True, generation=True,
             fields=METADATA_FIELDS + ('status.replicas',), field_error='label'),
    Resource('batch', 'v1', 'jobs', 'Job', categories=['all'], status=True, generation=True, fields=METADATA_FIELDS + ('status.successful',),
             field_error='label'),
    Resource('batch', 'v1', 'cronjobs', 'CronJob', short_names=['cj'], categories=['all'], status=True, generation=True),
    Resource('networking.k8s.io', 'v1', 'ingresses', 'Ingress', short_names=['ing'], status=True, generation=True),
    Resource('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy', short_names=['netpol'], generation=True),
    Resource('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice'),
    Resource('rbac.authorization.k8s.io', 'v1', 'roles', 'Role'),
    Resource('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding'),
    Resource('autoscaling', 'v2', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler', short_names=['hpa'], categories=['all'], status=True,
             generation=True),
    Resource('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', short_names=['pdb'], status=True, generation=True),
]
BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}
GROUP_VERSIONS = []
for _resource in RESOURCES:
    if (_resource.group, _resource.version) not in GROUP_VERSIONS:
        GROUP_VERSIONS.append((_resource.group, _resource.version))


def resource_for(obj):
    """The :class:`Resource` of an object dict (by apiVersion and kind); KeyError when the stub does not serve it."""
    return BY_KIND[(obj.get('apiVersion'), obj.get('kind'))]


def rfc3339(moment=None):
    """A metav1.Time string: UTC, whole seconds, ``Z``."""
    moment = moment or datetime.datetime.now(UTC)
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_time(text):
    """A datetime from an RFC 3339 string (``Z`` or an offset, a fraction down to nanoseconds)."""
    return datetime.datetime.fromisoformat(re.sub(r'(\.\d{6})\d+', r'\1', text.replace('Z', '+00:00')))


# ---------------------------------------------------------------- Status bodies


class ApiError(Exception):
    """An error answer: a Status body (or plain text) and its HTTP code."""

    def __init__(self, code, reason, message, details=None, text=None):
        super().__init__(message)
        self.code = code
        self.text = text
        self.body = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': message, 'reason': reason}
        if details:
            self.body['details'] = details
        self.body['code'] = code


def _details(resource, name=None, **extra):
    details = {}
    if name:
        details['name'] = name
    if resource is not None and resource.group:
        details['group'] = resource.group
    if resource is not None:
        details['kind'] = resource.plural
    details.update(extra)
    return details


def not_found(resource, name):
    return ApiError(404, 'NotFound', '%s "%s" not found' % (resource.qualified, name), _details(resource, name))


def page_not_found():
    """What the real server's mux answers for a path it does not serve: plain text, not a Status."""
    return ApiError(404, 'NotFound', '404 page not found', text='404 page not found\n')


def already_exists(resource, name):
    return ApiError(409, 'AlreadyExists', '%s "%s" already exists' % (resource.qualified, name), _details(resource, name))


def conflict(resource, name):
    return ApiError(409, 'Conflict', 'Operation cannot be fulfilled on %s "%s": the object has been modified; please apply your changes to the '
                    'latest version and try again' % (resource.qualified, name), _details(resource, name))


def apply_conflict(conflicts):
    """The 409 of a server-side apply that meets fields owned by other managers (fieldmanager's NewConflictError)."""
    causes = [{'reason': 'FieldManagerConflict', 'message': 'conflict with %s' % _manager_text(item), 'field': item['field']} for item in conflicts]
    if len(conflicts) == 1:
        message = 'Apply failed with 1 conflict: conflict with %s: %s' % (_manager_text(conflicts[0]), conflicts[0]['field'])
    else:
        by_manager = {}
        for item in conflicts:
            by_manager.setdefault(_manager_text(item), []).append(item['field'])
        parts = []
        for manager, fields in sorted(by_manager.items()):
            if len(fields) == 1:
                parts.append('conflict with %s: %s' % (manager, fields[0]))
            else:
                parts.append('conflicts with %s:\n%s' % (manager, '\n'.join('- %s' % field for field in fields)))
        message = 'Apply failed with %d conflicts: %s' % (len(conflicts), '\n'.join(parts))
    return ApiError(409, 'Conflict', message, {'causes': causes})


def _manager_text(item):
    if item.get('operation', 'Update') == 'Update' and item.get('api_version'):
        return '"%s" using %s' % (item['manager'], item['api_version'])
    return '"%s"' % item['manager']


def invalid(kind_group, kind, name, causes):
    """422 Invalid (NewInvalid): ``causes`` are ``(field, reason, body)``."""
    qualified = '%s.%s' % (kind, kind_group) if kind_group else kind
    joined = ['%s: %s' % (field, body) for field, _reason, body in causes]
    message = '%s "%s" is invalid: %s' % (qualified, name, joined[0] if len(joined) == 1 else '[%s]' % ', '.join(joined))
    details = {'name': name} if name else {}
    if kind_group:
        details['group'] = kind_group
    details['kind'] = kind
    details['causes'] = [{'reason': reason, 'message': body, 'field': field} for field, reason, body in causes]
    return ApiError(422, 'Invalid', message, details)


def bad_request(message):
    return ApiError(400, 'BadRequest', message)


def forbidden(user, verb, resource, namespace, name=None, subresource=None):
    """The RBAC refusal exactly as the API server words it (responsewriters.forbiddenMessage + NewForbidden)."""
    what = resource.plural + ('/' + subresource if subresource else '')
    if namespace:
        reason = 'User "%s" cannot %s resource "%s" in API group "%s" in the namespace "%s"' % (user, verb, what, resource.group, namespace)
    else:
        reason = 'User "%s" cannot %s resource "%s" in API group "%s" at the cluster scope' % (user, verb, what, resource.group)
    if name:
        message = '%s "%s" is forbidden: %s' % (resource.qualified, name, reason)
    else:
        message = '%s is forbidden: %s' % (resource.qualified, reason)
    return ApiError(403, 'Forbidden', message, _details(resource, name))


def unauthorized():
    return ApiError(401, 'Unauthorized', 'Unauthorized')


def down_error(code, message):
    if code == 503:
        return ApiError(503, 'ServiceUnavailable', message)
    return ApiError(500, 'InternalError', 'Internal error occurred: %s' % message, {'causes': [{'message': message}]})


# ---------------------------------------------------------------- selectors


_REQUIREMENT = re.compile(r'\s*(?P<key>!?[A-Za-z0-9_./-]+)\s*(?:(?P<op>==|!=|=|in\b|notin\b)\s*(?P<value>\([^)]*\)|[^,\s]*))?\s*')


def parse_label_selector(text):
    """Requirements ``(key, op, values)`` of a label selector; raises ApiError 400 on what it cannot read."""
    requirements = []
    position = 0
    text = text or ''
    while position < len(text):
        match = _REQUIREMENT.match(text, position)
        if not match or match.end() == position:
            raise bad_request('unable to parse requirement: found \'%s\', expected: identifier' % text[position:])
        key, op, value = match.group('key'), (match.group('op') or '').strip(), match.group('value')
        if key.startswith('!'):
            if op:
                raise bad_request('unable to parse requirement: found \'%s\'' % text[position:])
            requirements.append((key[1:], '!', ()))
        elif not op:
            requirements.append((key, 'exists', ()))
        elif op in ('in', 'notin'):
            if not value or not value.startswith('('):
                raise bad_request('unable to parse requirement: found \'%s\', expected: \'(\'' % (value or ''))
            requirements.append((key, op, tuple(part.strip() for part in value[1:-1].split(',') if part.strip())))
        else:
            requirements.append((key, '!=' if op == '!=' else '=', (value.strip(),)))
        position = match.end()
        if position < len(text):
            if text[position] != ',':
                raise bad_request('unable to parse requirement: found \'%s\', expected: \',\'' % text[position:])
            position += 1
    return requirements


def labels_match(requirements, labels):
    labels = labels or {}
    for key, op, values in requirements:
        present = key in labels
        if op == 'exists' and not present:
            return False
        if op == '!' and present:
            return False
        if op == '=' and labels.get(key) != values[0]:
            return False
        if op == '!=' and present and labels[key] == values[0]:
            return False
        if op == 'in' and (not present or labels[key] not in values):
            return False
        if op == 'notin' and present and labels[key] in values:
            return False
    return True


def parse_field_selector(text, resource):
    """Requirements ``(field, negate, value)``; the real 400 for a field the kind does not index."""
    requirements = []
    for part in [p for p in (text or '').split(',') if p.strip()]:
        match = re.fullmatch(r'\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*', part)
        if not match:
            raise bad_request('invalid selector: \'%s\'; can\'t understand \'%s\'' % (text, part))
        field, op, value = match.groups()
        if field == 'spec.host' and resource.plural == 'pods':
            field = 'spec.nodeName'
        if field not in resource.fields:
            if resource.field_error == 'label':
                raise bad_request('field label not supported: %s' % field)
            raise bad_request('"%s" is not a known field selector: only "metadata.name", "metadata.namespace"' % field)
        requirements.append((field, op == '!=', value))
    return requirements


def field_value(obj, field):
    if field == 'source':
        return (obj.get('source') or {}).get('component', '')
    value = obj
    for part in field.split('.'):
        if not isinstance(value, dict):
            return ''
        value = value.get(part)
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return '' if value is None else str(value)


def fields_match(requirements, obj):
    for field, negate, value in requirements:
        if (field_value(obj, field) == value) == negate:
            return False
    return True


# ---------------------------------------------------------------- patches and merges


def merge_applied(live, applied):
    """The stub's apply merge: maps key by key, lists of named maps by name, anything else replaced."""
    if isinstance(live, dict) and isinstance(applied, dict):
        merged = dict(live)
        for key, value in applied.items():
            merged[key] = merge_applied(live[key], value) if key in live else copy.deepcopy(value)
        return merged
    if _named_list(live) and _named_list(applied):
        by_name = {item['name']: item for item in live}
        merged = []
        for item in applied:
            merged.append(merge_applied(by_name[item['name']], item) if item['name'] in by_name else copy.deepcopy(item))
        applied_names = {item['name'] for item in applied}
        merged += [copy.deepcopy(item) for item in live if item['name'] not in applied_names]
        return merged
    return copy.deepcopy(applied)


def _named_list(value):
    return isinstance(value, list) and value and all(isinstance(item, dict) and 'name' in item for item in value)


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path):
    if path == '':
        return []
    if not path.startswith('/'):
        raise ApiError(422, 'Invalid', 'invalid JSON pointer: %s' % path)
    return [part.replace('~1', '/').replace('~0', '~') for part in path[1:].split('/')]


def _walk(doc, parts):
    for part in parts:
        if isinstance(doc, list):
            doc = doc[int(part)]
        else:
            doc = doc[part]
    return doc


def json_patch(doc, operations):
    """RFC 6902 JSON patch; a failing operation answers 422 (message worded by the stub)."""
    doc = copy.deepcopy(doc)
    if not isinstance(operations, list):
        raise bad_request('json: cannot unmarshal object into Go value of type jsonpatch.Patch')
    for operation in operations:
        op, path = operation.get('op'), operation.get('path', '')
        try:
            if op == 'test':
                if _walk(doc, _pointer(path)) != operation.get('value'):
                    raise ApiError(422, 'Invalid', 'testing value %s failed: test failed' % path)
                continue
            if op in ('move', 'copy'):
                value = copy.deepcopy(_walk(doc, _pointer(operation['from'])))
                if op == 'move':
                    doc = _remove(doc, _pointer(operation['from']))
                doc = _add(doc, _pointer(path), value)
            elif op == 'add':
                doc = _add(doc, _pointer(path), copy.deepcopy(operation.get('value')))
            elif op == 'remove':
                doc = _remove(doc, _pointer(path))
            elif op == 'replace':
                parts = _pointer(path)
                _walk(doc, parts)
                doc = _add(_remove(doc, parts), parts, copy.deepcopy(operation.get('value')))
            else:
                raise ApiError(422, 'Invalid', 'Unexpected kind: %s' % op)
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(422, 'Invalid', '%s operation does not apply: doc is missing path: "%s": missing value' % (op, path)) from None
    return doc


def _add(doc, parts, value):
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == '-' else int(last)
        if index > len(parent):
            raise IndexError(index)
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise TypeError(last)
    return doc


def _remove(doc, parts):
    if not parts:
        return None
    parent = _walk(doc, parts[:-1])
    if isinstance(parent, list):
        del parent[int(parts[-1])]
    else:
        del parent[parts[-1]]
    return doc


def fields_v1(applied):
    """An approximation of the FieldsV1 set of an applied body: ``f:`` per map key, ``k:{"name":..}`` per named list item."""
    def walk(value):
        if isinstance(value, dict):
            return {'f:%s' % key: walk(item) for key, item in sorted(value.items())}
        if _named_list(value):
            return {'k:%s' % json.dumps({'name': item['name']}, separators=(',', ':')): dict({'.': {}}, **walk(item)) for item in value}
        return {}
    body = {key: value for key, value in applied.items() if key not in ('apiVersion', 'kind')}
    metadata = {key: value for key, value in (body.get('metadata') or {}).items() if key not in ('name', 'namespace')}
    if metadata:
        body['metadata'] = metadata
    else:
        body.pop('metadata', None)
    return walk(body)


# ---------------------------------------------------------------- the store


class Store:
    """Objects by (group, plural, namespace, name), pod logs, faults and the request log."""

    FAULTS = ('forbid', 'down', 'apply_conflicts', 'delay')

    def add_faults(self, faults):
        """Add ``forbid`` / ``apply_conflicts`` rules, set (or, with None, clear) ``down`` / ``delay``; the faults now in force."""
        unknown = sorted(set(faults) - set(self.FAULTS))
        if unknown:
            raise ValueError('stub: unknown fault %r (%s)' % (unknown[0], ', '.join(self.FAULTS)))
        with self.lock:
            for key, value in faults.items():
                if key in ('forbid', 'apply_conflicts'):
                    self.faults.setdefault(key, []).extend(value if isinstance(value, list) else [value])
                elif value is None:
                    self.faults.pop(key, None)
                else:
                    self.faults[key] = value
            return copy.deepcopy(self.faults)

    def __init__(self, now=None):
        self.now = now
        self.objects = {}
        self.logs = {}
        self.faults = {}
        self.requests = []
        self.revision = 1000
        self.lock = threading.RLock()
        self.initial = ([], {})

    def current_time(self):
        return self.now or datetime.datetime.now(UTC).replace(microsecond=0)

    def next_revision(self):
        self.revision += 1
        return str(self.revision)

    @staticmethod
    def key(resource, namespace, name):
        return (resource.group, resource.plural, namespace if resource.namespaced else '', name)

    def seed(self, objects, logs=None, initial=False):
        """Upsert object dicts (server fields filled where missing) and set logs ``{(ns, pod, container, previous): [(time, line)]}``."""
        with self.lock:
            for obj in objects:
                self.put(copy.deepcopy(obj))
            for log_key, lines in (logs or {}).items():
                self.logs[tuple(log_key)] = [tuple(line) for line in lines]
            if initial:
                self.initial = (copy.deepcopy(list(objects)), copy.deepcopy(dict(logs or {})))

    def put(self, obj):
        resource = resource_for(obj)
        meta = obj.setdefault('metadata', {})
        if resource.namespaced and not meta.get('namespace'):
            raise ValueError('%s %s has no namespace' % (resource.kind, meta.get('name')))
        meta.setdefault('uid', str(uuid.uuid4()))
        meta.setdefault('creationTimestamp', rfc3339(self.current_time()))
        if meta.get('resourceVersion', '').isdigit():
            self.revision = max(self.revision, int(meta['resourceVersion']))
        else:
            meta['resourceVersion'] = self.next_revision()
        if resource.generation:
            meta.setdefault('generation', 1)
        self.objects[self.key(resource, meta.get('namespace'), meta['name'])] = obj

    def clear(self):
        with self.lock:
            self.objects.clear()
            self.logs.clear()

    def reset(self):
        with self.lock:
            self.clear()
            self.faults = {}
            self.requests = []
            objects, logs = self.initial
            for obj in objects:
                self.put(copy.deepcopy(obj))
            self.logs.update({tuple(key): list(value) for key, value in logs.items()})

    def get(self, resource, namespace, name):
        return self.objects.get(self.key(resource, namespace, name))

    def namespace_exists(self, name):
        return self.get(BY_PATH[('', 'v1', 'namespaces')], None, name) is not None

    def items(self, resource, namespace):
        keys = sorted(key for key in self.objects if key[0] == resource.group and key[1] == resource.plural and (namespace is None or key[2] == namespace))
        return [self.objects[key] for key in keys]


# ---------------------------------------------------------------- the HTTP side


class Handler(BaseHTTPRequestHandler):
    """One request: control endpoints, authentication, faults, then the API."""

    protocol_version = 'HTTP/1.1'
    server_version = 'dsr-k8s-stub'
    sys_version = ''

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self):  # pylint: disable=invalid-name
        self.dispatch('GET')

    def do_POST(self):  # pylint: disable=invalid-name
        self.dispatch('POST')

    def do_PATCH(self):  # pylint: disable=invalid-name
        self.dispatch('PATCH')

    def do_PUT(self):  # pylint: disable=invalid-name
        self.dispatch('PUT')

    def do_DELETE(self):  # pylint: disable=invalid-name
        self.dispatch('DELETE')

    def read_body(self):
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def send(self, code, body, content_type='application/json', headers=()):
        if isinstance(body, (dict, list)):
            data = (json.dumps(body, separators=(',', ':')) + '\n').encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
        self.send_response(code)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        self.send_header('Cache-Control', 'no-cache, private')
        self.send_header('Audit-Id', str(uuid.uuid4()))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)

    def send_error_answer(self, error):
        if error.text is not None:
            self.send(error.code, error.text, 'text/plain; charset=utf-8', headers=[('X-Content-Type-Options', 'nosniff')])
        else:
            self.send(error.code, error.body)

    def dispatch(self, method):
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query, keep_blank_values=True)
        body = self.read_body()
        if path.startswith('/_stub/'):
            try:
                code, answer = Control(self.server).handle(method, path, query, body)
            except ApiError as exc:
                self.send_error_answer(exc)
                return
            self.send(code, answer)
            return
        store = self.server.store
        entry = {'method': method, 'path': path, 'query': split.query, 'params': {key: values[-1] for key, values in query.items()},
                 'user': None, 'status': None, 'content_type': self.headers.get('Content-Type'), 'accept': self.headers.get('Accept'),
                 'user_agent': self.headers.get('User-Agent')}
        with store.lock:
            store.requests.append(entry)
        try:
            user = self.authenticate()
            entry['user'] = user
            self.apply_faults(store)
            code, answer, content_type = Api(self.server, user).handle(method, path, query, body, self.headers)
        except ApiError as exc:
            entry['status'] = exc.code
            self.send_error_answer(exc)
            return
        entry['status'] = code
        self.send(code, answer, content_type)

    def authenticate(self):
        header = self.headers.get('Authorization') or ''
        scheme, _space, token = header.partition(' ')
        if scheme.lower() != 'bearer' or token.strip() not in self.server.tokens:
            raise unauthorized()
        return self.server.tokens[token.strip()]

    @staticmethod
    def apply_faults(store):
        with store.lock:
            delay = float(store.faults.get('delay') or 0)
            down = store.faults.get('down')
            if down:
                if down.get('count') is not None:
                    down['count'] = int(down['count']) - 1
                    if down['count'] <= 0:
                        store.faults.pop('down')
        if delay:
            time.sleep(delay)
        if down:
            raise down_error(int(down.get('code', 503)), down.get('message') or 'the API server is unavailable (stub fault)')


class Control:
    """The ``/_stub/`` endpoints."""

    def __init__(self, server):
        self.server = server
        self.store = server.store

    def handle(self, method, path, query, body):
        del query
        data = json.loads(body.decode() or 'null') if body else None
        route = (method, path.rstrip('/'))
        if route == ('POST', '/_stub/objects'):
            items = data.get('items', []) if isinstance(data, dict) else (data or [])
            try:
                self.store.seed(items)
            except (KeyError, ValueError) as exc:
                raise bad_request('stub: cannot seed: %r' % (exc,)) from None
            return 200, {'seeded': len(items)}
        if route == ('DELETE', '/_stub/objects'):
            self.store.clear()
            return 200, {'cleared': True}
        if route == ('GET', '/_stub/objects'):
            with self.store.lock:
                return 200, {'items': [copy.deepcopy(obj) for _key, obj in sorted(self.store.objects.items())]}
        if route == ('POST', '/_stub/logs'):
            entries = data if isinstance(data, list) else [data]
            with self.store.lock:
                for item in entries:
                    lines = item['lines']
                    if isinstance(lines, str):
                        lines = [(rfc3339(self.store.current_time()), line) for line in lines.splitlines()]
                    self.store.logs[(item['namespace'], item['pod'], item['container'], bool(item.get('previous')))] = [tuple(line) for line in lines]
            return 200, {'logs': len(entries)}
        if route == ('POST', '/_stub/scenario'):
            names = data.get('names') or [data.get('name', 'healthy')]
            self.server.load_scenario(names)
            return 200, {'scenario': names, 'objects': len(self.store.objects)}
        if route == ('GET', '/_stub/faults'):
            return 200, copy.deepcopy(self.store.faults)
        if route == ('POST', '/_stub/faults'):
            try:
                return 200, self.store.add_faults(data or {})
            except ValueError as exc:
                raise bad_request(str(exc)) from None
        if route == ('DELETE', '/_stub/faults'):
            with self.store.lock:
                self.store.faults = {}
            return 200, {}
        if route == ('GET', '/_stub/requests'):
            with self.store.lock:
                return 200, {'requests': copy.deepcopy(self.store.requests)}
        if route == ('DELETE', '/_stub/requests'):
            with self.store.lock:
                self.store.requests = []
            return 200, {'requests': []}
        if route == ('POST', '/_stub/reset'):
            self.store.reset()
            return 200, {'objects': len(self.store.objects)}
        raise page_not_found()


class Api:
    """The Kubernetes API paths."""

    def __init__(self, server, user):
        self.server = server
        self.store = server.store
        self.user = user

    # pylint: disable-next=too-many-return-statements
    def handle(self, method, path, query, body, headers):
        path = path.rstrip('/') or '/'
        parts = [part for part in path.split('/') if part]
        if method == 'GET':
            if path == '/version':
                return 200, self.server.version_info(), 'application/json'
            if path in ('/healthz', '/livez', '/readyz'):
                return 200, 'ok', 'text/plain; charset=utf-8'
            if path == '/api':
                return 200, {'kind': 'APIVersions', 'versions': ['v1'],
                             'serverAddressByClientCIDRs': [{'clientCIDR': '0.0.0.0/0', 'serverAddress': self.server.address_for_clients}]}, 'application/json'
            if path == '/apis':
                return 200, self.group_list(), 'application/json'
            if parts[:1] == ['openapi']:
                return self.openapi(parts, headers.get('Accept') or '')
        if parts[:2] == ['api', 'v1']:
            group, version, rest = '', 'v1', parts[2:]
        elif parts[:1] == ['apis'] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise page_not_found()
        if (group, version) not in GROUP_VERSIONS:
            raise page_not_found()
        if not rest:
            if method != 'GET':
                raise page_not_found()
            return 200, self.resource_list(group, version), 'application/json'
        watch = False
        if rest[0] == 'watch':
            watch, rest = True, rest[1:]
        resource, namespace, name, subresource = self.route(group, version, rest)
        if watch or query.get('watch', [''])[-1] in ('true', '1'):
            self.authorize('watch', resource, namespace, name)
            raise ApiError(405, 'MethodNotAllowed', 'watch is not supported on resources of kind "%s"' % resource.qualified,
                           {'group': resource.group, 'kind': resource.plural} if resource.group else {'kind': resource.plural})
        return Operations(self, resource, namespace, name, subresource, query, headers).run(method, body)

    @staticmethod
    def route(group, version, rest):
        namespace = None
        if rest[0] == 'namespaces' and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        resource = BY_PATH.get((group, version, rest[0]))
        if resource is None or len(rest) > 3 or (namespace is not None and not resource.namespaced):
            raise page_not_found()
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if name and resource.namespaced and namespace is None:
            raise page_not_found()
        if subresource and (resource.plural, subresource) != ('pods', 'log'):
            raise page_not_found()
        return resource, namespace, name, subresource

    def authorize(self, verb, resource, namespace, name=None, subresource=None):
        """The ``forbid`` faults: rules ``{"verb", "resource", "group", "namespace", "user", "subresource"}`` (missing = any)."""
        with self.store.lock:
            rules = list(self.store.faults.get('forbid', []))
        for rule in rules:
            wanted = rule.get('resource', '*')
            what = resource.plural + ('/' + subresource if subresource else '')
            if wanted not in ('*', what, resource.qualified, '%s.%s' % (what, resource.group)):
                continue
            if rule.get('group') is not None and rule['group'] != resource.group:
                continue
            if rule.get('verb', '*') not in ('*', verb):
                continue
            if rule.get('namespace') is not None and rule['namespace'] != (namespace or ''):
                continue
            if rule.get('user') is not None and rule['user'] != self.user:
                continue
            raise forbidden(self.user, verb, resource, namespace, name, subresource)

    def group_list(self):
        groups = []
        for group, version in GROUP_VERSIONS:
            if not group:
                continue
            entry = {'groupVersion': '%s/%s' % (group, version), 'version': version}
            groups.append({'name': group, 'versions': [entry], 'preferredVersion': entry})
        return {'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': groups}

    @staticmethod
    def resource_list(group, version):
        resources = []
        for resource in RESOURCES:
            if (resource.group, resource.version) != (group, version):
                continue
            resources.append(resource.discovery())
            if resource.plural == 'pods':
                resources.append({'name': 'pods/log', 'singularName': '', 'namespaced': True, 'kind': 'Pod', 'verbs': ['get']})
        answer = {'kind': 'APIResourceList', 'groupVersion': '%s/%s' % (group, version) if group else version, 'resources': resources}
        if group:
            answer = {'kind': 'APIResourceList', 'apiVersion': 'v1', 'groupVersion': answer['groupVersion'], 'resources': resources}
        return answer

    def openapi(self, parts, accept):
        if parts == ['openapi', 'v2']:
            # no definitions: a client that validates against it finds no schema for any kind and skips the check
            if 'protobuf' in accept:
                return 200, b'', 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf'
            return 200, {'swagger': '2.0', 'info': {'title': 'Kubernetes (dsr.ops k8s_stub: no definitions)', 'version': 'v' + self.server.version},
                         'paths': {}, 'definitions': {}}, 'application/json'
        if parts == ['openapi', 'v3']:
            paths = {}
            for group, version in GROUP_VERSIONS:
                key = 'apis/%s/%s' % (group, version) if group else 'api/%s' % version
                paths[key] = {'serverRelativeURL': '/openapi/v3/%s?hash=%s' % (key, self.server.openapi_hash)}
            return 200, {'paths': paths}, 'application/json'
        if len(parts) >= 4 and parts[:2] == ['openapi', 'v3']:
            rest = parts[2:]
            if rest[0] == 'api' and len(rest) == 2:
                group, version = '', rest[1]
            elif rest[0] == 'apis' and len(rest) == 3:
                group, version = rest[1], rest[2]
            else:
                raise page_not_found()
            if (group, version) in GROUP_VERSIONS:
                return 200, openapi_document(group, version), 'application/json'
        raise page_not_found()


def openapi_document(group, version):
    """A minimal OpenAPI 3 document of a group-version: one PATCH operation per kind with the query parameters kubectl looks for."""
    paths = {}
    for resource in RESOURCES:
        if (resource.group, resource.version) != (group, version):
            continue
        base = '/apis/%s/%s' % (group, version) if group else '/api/%s' % version
        path = base + ('/namespaces/{namespace}' if resource.namespaced else '') + '/%s/{name}' % resource.plural
        parameters = [{'name': name, 'in': 'query', 'schema': {'type': kind, 'uniqueItems': True}}
                      for name, kind in (('dryRun', 'string'), ('fieldManager', 'string'), ('fieldValidation', 'string'), ('force', 'boolean'))]
        paths[path] = {'patch': {'operationId': 'patch%s' % resource.kind, 'parameters': parameters,
                                 'x-kubernetes-action': 'patch',
                                 'x-kubernetes-group-version-kind': {'group': group, 'version': version, 'kind': resource.kind},
                                 'responses': {'200': {'description': 'OK'}}}}
    return {'openapi': '3.0.0', 'info': {'title': 'Kubernetes (dsr.ops k8s_stub: PATCH operations only)', 'version': 'stub'}, 'paths': paths}


class Operations:
    """get, list, log, apply, patch, create, delete on one resource path."""

    # pylint: disable-next=too-many-arguments
    def __init__(self, api, resource, namespace, name, subresource, query, headers):
        self.api, self.store = api, api.store
        self.resource, self.namespace, self.name, self.subresource = resource, namespace, name, subresource
        self.query = {key: values[-1] for key, values in query.items()}
        self.query_all = query
        self.headers = headers

    def run(self, method, body):
        if method == 'GET':
            if self.subresource == 'log':
                self.api.authorize('get', self.resource, self.namespace, self.name, 'log')
                return 200, self.pod_log(), 'text/plain'
            if self.name:
                self.api.authorize('get', self.resource, self.namespace, self.name)
                return 200, self.get(), 'application/json'
            self.api.authorize('list', self.resource, self.namespace)
            return 200, self.list(), 'application/json'
        if method == 'PATCH' and self.name and not self.subresource:
            self.api.authorize('patch', self.resource, self.namespace, self.name)
            return self.patch(body)
        if method == 'POST' and not self.name:
            self.api.authorize('create', self.resource, self.namespace)
            return self.create(body)
        if method == 'DELETE' and self.name and not self.subresource:
            self.api.authorize('delete', self.resource, self.namespace, self.name)
            return self.delete()
        verb = {'PUT': 'update', 'POST': 'create', 'DELETE': 'deletecollection', 'PATCH': 'patch'}.get(method, method.lower())
        raise ApiError(405, 'MethodNotAllowed', 'stub: %s is not supported on resources of kind "%s"' % (verb, self.resource.qualified),
                       _details(self.resource))

    # ------------------------------------------------------------ reads

    def get(self):
        with self.store.lock:
            obj = self.store.get(self.resource, self.namespace, self.name)
            if obj is None:
                raise not_found(self.resource, self.name)
            return copy.deepcopy(obj)

    def list(self):
        labels = parse_label_selector(self.query.get('labelSelector', ''))
        fields = parse_field_selector(self.query.get('fieldSelector', ''), self.resource)
        try:
            limit = int(self.query.get('limit') or 0)
        except ValueError:
            raise bad_request('stub: limit must be an integer') from None
        start = None
        if self.query.get('continue'):
            try:
                start = json.loads(base64.urlsafe_b64decode(self.query['continue'].encode()).decode())['start']
            except (ValueError, KeyError, TypeError):
                raise bad_request('continue key is not valid: stub: cannot decode the continue token') from None
        with self.store.lock:
            revision = str(self.store.revision)
            selected = []
            for obj in self.store.items(self.resource, self.namespace):
                meta = obj['metadata']
                position = [meta.get('namespace', ''), meta['name']]
                if start is not None and position <= start:
                    continue
                if labels_match(labels, meta.get('labels')) and fields_match(fields, obj):
                    selected.append(obj)
            metadata = {'resourceVersion': revision}
            if limit and len(selected) > limit:
                last = selected[limit - 1]['metadata']
                token = {'v': 'meta.k8s.io/v1', 'rv': int(revision), 'start': [last.get('namespace', ''), last['name']]}
                metadata['continue'] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
                metadata['remainingItemCount'] = len(selected) - limit
                selected = selected[:limit]
            items = []
            for obj in selected:
                item = copy.deepcopy(obj)
                item.pop('apiVersion', None)
                item.pop('kind', None)
                items.append(item)
        return {'kind': self.resource.kind + 'List', 'apiVersion': self.resource.api_version, 'metadata': metadata, 'items': items}

    def pod_log(self):
        pod = self.get()
        spec = pod.get('spec') or {}
        containers = [c['name'] for c in spec.get('containers') or []]
        init_containers = [c['name'] for c in spec.get('initContainers') or []]
        container = self.query.get('container')
        if not container:
            if len(containers) == 1:
                container = containers[0]
            elif not containers:
                raise bad_request('a container name must be specified for pod %s' % self.name)
            else:
                message = 'a container name must be specified for pod %s, choose one of: [%s]' % (self.name, ' '.join(containers))
                if init_containers:
                    message += ' or one of the init containers: [%s]' % ' '.join(init_containers)
                raise bad_request(message)
        elif container not in containers + init_containers:
            raise bad_request('container %s is not valid for pod %s' % (container, self.name))
        if not spec.get('nodeName'):
            return ''
        previous = self.query.get('previous') in ('true', '1')
        with self.store.lock:
            lines = self.store.logs.get((self.namespace, self.name, container, previous))
        status = self.container_status(pod, container)
        if previous:
            if lines is None or not ((status.get('lastState') or {}).get('terminated')):
                raise bad_request('previous terminated container "%s" in pod "%s" not found' % (container, self.name))
        else:
            waiting = (status.get('state') or {}).get('waiting')
            if waiting and lines is None:
                reason = waiting.get('reason', '')
                text = {'ErrImagePull': 'image can\'t be pulled', 'ImagePullBackOff': 'trying and failing to pull image'}.get(reason, reason)
                raise bad_request('container "%s" in pod "%s" is waiting to start: %s' % (container, self.name, text))
        return self.render_log(lines or [])

    @staticmethod
    def container_status(pod, container):
        status = pod.get('status') or {}
        for item in (status.get('containerStatuses') or []) + (status.get('initContainerStatuses') or []):
            if item.get('name') == container:
                return item
        return {}

    def render_log(self, lines):
        since = None
        if self.query.get('sinceSeconds'):
            since = self.store.current_time() - datetime.timedelta(seconds=int(self.query['sinceSeconds']))
        elif self.query.get('sinceTime'):
            since = parse_time(self.query['sinceTime'])
        if since is not None:
            lines = [line for line in lines if parse_time(line[0]) >= since]
        if self.query.get('tailLines'):
            tail = int(self.query['tailLines'])
            lines = lines[len(lines) - tail:] if tail < len(lines) else lines
            lines = [] if tail == 0 else lines
        timestamps = self.query.get('timestamps') in ('true', '1')
        text = ''.join(('%s %s\n' % (stamp, line)) if timestamps else line + '\n' for stamp, line in lines)
        data = text.encode()
        if self.query.get('limitBytes'):
            data = data[:int(self.query['limitBytes'])]
        return data

    # ------------------------------------------------------------ writes

    def dry_run(self, kind):
        values = self.query_all.get('dryRun', [])
        for value in values:
            if value != 'All':
                raise invalid('meta.k8s.io', kind, '', [('dryRun', 'FieldValueNotSupported', 'Unsupported value: "%s": supported values: "All"' % value)])
        return bool(values)

    def manager(self):
        """``fieldManager``, else what the API server derives from the User-Agent (its part before the first ``/``)."""
        return self.query.get('fieldManager') or (self.headers.get('User-Agent') or 'unknown').split('/')[0]

    def parse_body(self, body, content_type):
        try:
            if content_type.startswith('application/apply-patch+yaml'):
                data = yaml.safe_load(body.decode() or '{}')
            else:
                data = json.loads(body.decode() or 'null')
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request('error decoding patch: %s' % exc) from None
        return data

    def check_body(self, obj, live):
        """The checks the real server makes on an applied or created body that the stub models."""
        if not isinstance(obj, dict):
            raise bad_request('stub: the body must be an object')
        if (obj.get('apiVersion'), obj.get('kind')) != (self.resource.api_version, self.resource.kind):
            raise bad_request('stub: the body\'s apiVersion/kind (%s, %s) do not match the URL\'s resource (%s, %s)'
                              % (obj.get('apiVersion'), obj.get('kind'), self.resource.api_version, self.resource.kind))
        meta = obj.get('metadata')
        if not isinstance(meta, dict):
            raise bad_request('stub: the body has no metadata')
        if self.name and meta.get('name') != self.name:
            raise bad_request('the name of the object (%s) does not match the name on the URL (%s)' % (meta.get('name'), self.name))
        if self.resource.namespaced and meta.get('namespace') not in (None, '', self.namespace):
            raise bad_request('the namespace of the provided object does not match the namespace sent on the request')
        if meta.get('resourceVersion') and live is not None and meta['resourceVersion'] != live['metadata']['resourceVersion']:
            raise conflict(self.resource, meta.get('name'))
        replicas = (obj.get('spec') or {}).get('replicas') if isinstance(obj.get('spec'), dict) else None
        if isinstance(replicas, int) and replicas < 0:
            raise invalid(self.resource.group, self.resource.kind, meta.get('name'),
                          [('spec.replicas', 'FieldValueInvalid', 'Invalid value: %d: must be greater than or equal to 0' % replicas)])
        if self.resource.namespaced and not self.store.namespace_exists(self.namespace):
            raise not_found(BY_PATH[('', 'v1', 'namespaces')], self.namespace)

    def patch(self, body):
        content_type = (self.headers.get('Content-Type') or '').split(';')[0].strip()
        apply = content_type == 'application/apply-patch+yaml'
        if content_type not in ('application/apply-patch+yaml', 'application/merge-patch+json', 'application/json-patch+json'):
            raise ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: '
                           'application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (stub: no strategic merge patch)')
        causes = []
        if apply and not self.query.get('fieldManager'):
            causes.append(('fieldManager', 'FieldValueRequired', 'Required value: is required for apply patch'))
        if not apply and 'force' in self.query:
            causes.append(('force', 'FieldValueForbidden', 'Forbidden: may not be specified for non-apply patch'))
        if causes:
            raise invalid('meta.k8s.io', 'PatchOptions', '', causes)
        dry_run = self.dry_run('PatchOptions')
        data = self.parse_body(body, content_type)
        with self.store.lock:
            live = self.store.get(self.resource, self.namespace, self.name)
            if apply:
                return self.apply(data, live, dry_run)
            if live is None:
                raise not_found(self.resource, self.name)
            patched = merge_patch(copy.deepcopy(live), data) if content_type == 'application/merge-patch+json' else json_patch(live, data)
            if patched.get('metadata', {}).get('resourceVersion') != live['metadata']['resourceVersion']:
                raise conflict(self.resource, self.name)
            for key in ('uid', 'creationTimestamp'):
                patched['metadata'][key] = live['metadata'][key]
            if self.resource.status:
                if 'status' in live:
                    patched['status'] = copy.deepcopy(live['status'])
                else:
                    patched.pop('status', None)
            if 'managedFields' not in (data if isinstance(data, dict) else {}).get('metadata', {}) and not _touches_managed_fields(data):
                self.record_manager(patched, self.manager(), 'Update', data if isinstance(data, dict) else {})
            return self.store_result(patched, live, dry_run, 200)

    def apply(self, applied, live, dry_run):
        self.check_body(applied, live)
        if (applied.get('metadata') or {}).get('managedFields') is not None:
            raise bad_request('metadata.managedFields must be nil')
        force = self.query.get('force') in ('true', '1')
        if live is not None and not force:
            conflicts = [item for item in self.store.faults.get('apply_conflicts', []) if self.conflict_matches(item)]
            if conflicts:
                raise apply_conflict([{'manager': item.get('manager', 'kubectl-client-side-apply'), 'operation': item.get('operation', 'Update'),
                                       'api_version': item.get('api_version', self.resource.api_version),
                                       'field': item.get('field', '.spec.replicas')} for item in conflicts])
        body = copy.deepcopy(applied)
        body['metadata'].pop('resourceVersion', None)
        if self.resource.status:
            body.pop('status', None)
        manager = self.query['fieldManager']
        if live is None:
            result = body
            result['metadata']['namespace'] = self.namespace if self.resource.namespaced else None
            if not self.resource.namespaced:
                result['metadata'].pop('namespace')
            self.record_manager(result, manager, 'Apply', applied)
            return self.store_result(result, None, dry_run, 201)
        result = merge_applied(copy.deepcopy(live), body)
        if manager == 'kubectl' and (live['metadata'].get('annotations') or {}).get(LAST_APPLIED):
            # the API server keeps kubectl's client-side annotation in step with kubectl's server-side applies (lastAppliedUpdater)
            config = copy.deepcopy(applied)
            if isinstance(config['metadata'].get('annotations'), dict):
                config['metadata']['annotations'].pop(LAST_APPLIED, None)
            result['metadata'].setdefault('annotations', {})[LAST_APPLIED] = json.dumps(config, sort_keys=True, separators=(',', ':')) + '\n'
        self.record_manager(result, manager, 'Apply', applied)
        return self.store_result(result, live, dry_run, 200)

    def conflict_matches(self, item):
        return (item.get('resource') in (None, self.resource.plural, self.resource.qualified)
                and item.get('name') in (None, self.name) and item.get('namespace') in (None, self.namespace or ''))

    def record_manager(self, obj, manager, operation, applied):
        entries = [entry for entry in obj['metadata'].get('managedFields') or []
                   if not (entry.get('manager') == manager and entry.get('operation') == operation and not entry.get('subresource'))]
        old = {json.dumps(entry.get('fieldsV1'), sort_keys=True): entry for entry in obj['metadata'].get('managedFields') or []
               if entry.get('manager') == manager and entry.get('operation') == operation and not entry.get('subresource')}
        fields = fields_v1(applied) if operation == 'Apply' else _merge_fields(next(iter(old.values()), {}).get('fieldsV1') or {}, fields_v1(applied))
        previous = old.get(json.dumps(fields, sort_keys=True))
        entries.append({'manager': manager, 'operation': operation, 'apiVersion': self.resource.api_version,
                        'time': previous['time'] if previous else rfc3339(self.store.current_time()), 'fieldsType': 'FieldsV1', 'fieldsV1': fields})
        obj['metadata']['managedFields'] = entries

    def store_result(self, result, live, dry_run, code):
        meta = result['metadata']
        if live is None:
            meta['uid'] = str(uuid.uuid4())
            meta['creationTimestamp'] = rfc3339(self.store.current_time())
            if self.resource.generation:
                meta['generation'] = 1
            if dry_run:
                meta.pop('resourceVersion', None)
                return code, result, 'application/json'
            meta['resourceVersion'] = self.store.next_revision()
            self.store.objects[self.store.key(self.resource, self.namespace, self.name or meta['name'])] = result
            return code, copy.deepcopy(result), 'application/json'
        meta['resourceVersion'] = live['metadata']['resourceVersion']
        if self.resource.generation:
            meta['generation'] = live['metadata'].get('generation', 1) + (1 if result.get('spec') != live.get('spec') else 0)
        if result == live:
            return code, copy.deepcopy(live), 'application/json'
        if dry_run:
            return code, result, 'application/json'
        meta['resourceVersion'] = self.store.next_revision()
        self.store.objects[self.store.key(self.resource, self.namespace, self.name)] = result
        return code, copy.deepcopy(result), 'application/json'

    def create(self, body):
        dry_run = self.dry_run('CreateOptions')
        obj = self.parse_body(body, self.headers.get('Content-Type') or 'application/json')
        if not isinstance(obj, dict) or not isinstance(obj.get('metadata'), dict) or not obj['metadata'].get('name'):
            raise invalid(self.resource.group, self.resource.kind, '',
                          [('metadata.name', 'FieldValueRequired', 'Required value: name or generateName is required')])
        self.name = obj['metadata']['name']
        with self.store.lock:
            live = self.store.get(self.resource, self.namespace, self.name)
            if live is not None:
                raise already_exists(self.resource, self.name)
            self.check_body(obj, None)
            if obj['metadata'].get('managedFields') is not None:
                raise bad_request('metadata.managedFields must be nil')
            if obj['metadata'].get('resourceVersion'):
                raise bad_request('resourceVersion should not be set on objects to be created')
            result = copy.deepcopy(obj)
            if self.resource.namespaced:
                result['metadata']['namespace'] = self.namespace
            if self.resource.status:
                result.pop('status', None)
            self.record_manager(result, self.manager(), 'Update', obj)
            return self.store_result(result, None, dry_run, 201)

    def delete(self):
        dry_run = self.dry_run('DeleteOptions')
        with self.store.lock:
            live = self.store.get(self.resource, self.namespace, self.name)
            if live is None:
                raise not_found(self.resource, self.name)
            if not dry_run:
                del self.store.objects[self.store.key(self.resource, self.namespace, self.name)]
        return 200, {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Success',
                     'details': _details(self.resource, self.name, uid=live['metadata']['uid'])}, 'application/json'


def _touches_managed_fields(operations):
    return isinstance(operations, list) and any(str(op.get('path', '')).startswith('/metadata/managedFields') for op in operations if isinstance(op, dict))


def _merge_fields(old, new):
    merged = dict(old)
    for key, value in new.items():
        merged[key] = _merge_fields(merged.get(key) or {}, value) if isinstance(value, dict) and value else value
    return merged


class StubServer(ThreadingHTTPServer):
    """The stub on a loopback port; ``start()`` serves in a thread, ``url`` is its base URL, ``stop()`` ends it.

    ``token`` (or ``tokens``, token -> user name) is required on every API request;
    ``user`` names the default token's user in 403 messages. ``certfile`` (the chain,
    leaf first) and ``keyfile`` make it HTTPS. ``scenario`` (a name or a list of names
    of ``k8s_fixtures.SCENARIOS``) seeds it with the DSR namespace; ``now`` fixes the
    clock of the fixtures and of the server fields it assigns.
    """

    daemon_threads = True
    allow_reuse_address = True

    # pylint: disable-next=too-many-arguments
    def __init__(self, port=0, token=None, tokens=None, user=DEFAULT_USER, certfile=None, keyfile=None, scenario=None, now=None,
                 version=DEFAULT_VERSION, verbose=False):
        super().__init__(('127.0.0.1', port), Handler)
        self.tokens = dict(tokens or {})
        if token:
            self.tokens[token] = user
        if not self.tokens:
            raise ValueError('the stub needs at least one bearer token')
        self.store = Store(now)
        self.verbose = verbose
        self.version = version
        self.openapi_hash = uuid.uuid4().hex.upper()
        self.tls = None
        if certfile:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(certfile, keyfile)
            self.tls.set_alpn_protocols(['http/1.1'])
        self.url = '%s://127.0.0.1:%d' % ('https' if self.tls else 'http', self.server_address[1])
        self.address_for_clients = '127.0.0.1:%d' % self.server_address[1]
        self._thread = None
        self.scenario = None
        if scenario:
            self.load_scenario([scenario] if isinstance(scenario, str) else list(scenario), initial=True)

    def load_scenario(self, names, initial=True):
        """Replace every object and log with ``k8s_fixtures.build(names)``; it becomes what ``/_stub/reset`` goes back to."""
        sys.path.insert(0, HERE)
        import k8s_fixtures  # pylint: disable=import-outside-toplevel
        cluster = k8s_fixtures.build(names, now=self.store.now)
        self.store.clear()
        self.store.seed(cluster.objects, cluster.logs, initial=initial)
        self.scenario = list(names)

    def version_info(self):
        major, minor, _patch = self.version.split('.')
        return {'major': major, 'minor': minor, 'gitVersion': 'v' + self.version, 'gitCommit': '0' * 40, 'gitTreeState': 'clean',
                'buildDate': '2025-01-01T00:00:00Z', 'goVersion': 'go1.23.8', 'compiler': 'gc', 'platform': 'linux/amd64'}

    def finish_request(self, request, client_address):
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(60)
        try:
            connection = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that refused the certificate or hung up: nothing to answer
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                connection.close()

    def handle_error(self, request, client_address):
        # a client that hangs up mid-request is no error of the stub's; anything else is printed as usual
        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            super().handle_error(request, client_address)

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()

    # conveniences for tests in the same process (the same as the /_stub/ endpoints)

    def seed(self, objects, logs=None):
        self.store.seed(objects, logs)

    def set_faults(self, **faults):
        self.store.add_faults(faults)

    def clear_faults(self):
        with self.store.lock:
            self.store.faults = {}

    def requests(self):
        with self.store.lock:
            return copy.deepcopy(self.store.requests)

    def reset_requests(self):
        with self.store.lock:
            self.store.requests = []


def main(argv=None):
    """Serve until SIGTERM; print the URL. The token comes from ``--token-file`` (0600) or ``$K8S_STUB_TOKEN``, or ``--token`` for local use."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--cert', help='certificate chain (PEM, leaf first): serve HTTPS')
    parser.add_argument('--key', help='private key of --cert')
    parser.add_argument('--token', help='the bearer token (visible in the process list: prefer --token-file or $K8S_STUB_TOKEN)')
    parser.add_argument('--token-file', help='file holding the bearer token')
    parser.add_argument('--user', default=DEFAULT_USER, help='the token\'s user name in 403 messages (default: %(default)s)')
    parser.add_argument('--scenario', action='append', help='k8s_fixtures scenario to seed (repeatable; default: healthy)')
    parser.add_argument('--version', default=DEFAULT_VERSION, help='the Kubernetes version /version reports (default: %(default)s)')
    parser.add_argument('--verbose', action='store_true', help='log every request on stderr')
    args = parser.parse_args(argv)
    token = args.token or os.environ.get('K8S_STUB_TOKEN')
    if args.token_file:
        with open(args.token_file, encoding='utf-8') as handle:
            token = handle.read().strip()
    if not token:
        parser.error('give --token-file, $K8S_STUB_TOKEN or --token')
    if bool(args.cert) != bool(args.key):
        parser.error('--cert and --key go together')
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = StubServer(args.port, token=token, user=args.user, certfile=args.cert, keyfile=args.key, scenario=args.scenario or ['healthy'],
                        version=args.version, verbose=args.verbose)
    print('kubernetes API stub on %s' % server.url, flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
