# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one way dsr.ops modules reach a Kubernetes API server.

The options carry kubernetes.core's names (``kubeconfig``, ``context``,
``host``, ``api_key``, ``validate_certs``, ``ca_cert``, ``client_cert``,
``client_key``, ``proxy``, ``no_proxy``) and its ``K8S_AUTH_*`` environment
fallbacks, read option by option as kubernetes.core reads them, so that an AWX
"OpenShift or Kubernetes API Bearer Token" credential (which injects
``K8S_AUTH_HOST``, ``K8S_AUTH_API_KEY``, ``K8S_AUTH_VERIFY_SSL``,
``K8S_AUTH_SSL_CA_CERT``) and a playbook written for kubernetes.core work
unchanged. The configuration is resolved in kubernetes.core's order: host with
a token or client certificate; else a kubeconfig (path or dict) and context;
else the in-cluster service account; else the default kubeconfig
(``KUBECONFIG`` or ``~/.kube/config``).

The official ``kubernetes`` client loads the configuration (kubeconfig files
with exec credential plugins, OIDC, embedded certificates; the in-cluster
token and its rotation) - code nobody should write again - and its
``ApiClient`` sends the requests. The modules ask for raw JSON
(``_preload_content=False``): no model classes are built, and what the module
returns is exactly what the API server said. Every request is counted
(``K8sClient.requests``), so a test can prove that a check's cost does not grow
with the number of workloads.

Errors are :class:`K8sApiError` (the server answered with a ``Status``: 403
names the verb and resource that RBAC refused) or :class:`K8sUnreachable`; their
``str()`` never holds the token.
"""

from __future__ import annotations

import json
import os
import urllib.parse

# option -> the K8S_AUTH_* variables kubernetes.core reads for it, in its order (the option's name, then the client's)
ENVIRONMENT = {
    'kubeconfig': ('K8S_AUTH_KUBECONFIG',),
    'context': ('K8S_AUTH_CONTEXT',),
    'host': ('K8S_AUTH_HOST',),
    'api_key': ('K8S_AUTH_API_KEY',),
    'validate_certs': ('K8S_AUTH_VALIDATE_CERTS', 'K8S_AUTH_VERIFY_SSL'),
    'ca_cert': ('K8S_AUTH_CA_CERT', 'K8S_AUTH_SSL_CA_CERT'),
    'client_cert': ('K8S_AUTH_CLIENT_CERT', 'K8S_AUTH_CERT_FILE'),
    'client_key': ('K8S_AUTH_CLIENT_KEY', 'K8S_AUTH_KEY_FILE'),
    'proxy': ('K8S_AUTH_PROXY',),
    'no_proxy': ('K8S_AUTH_NO_PROXY',),
}
_FALSE = ('0', 'false', 'no', 'off')


class K8sError(Exception):
    """A Kubernetes request failed; ``str()`` is safe to show."""


class K8sConfigError(K8sError):
    """No usable connection configuration (no kubeconfig, not in a cluster, a bad kubeconfig)."""


class K8sUnreachable(K8sError):
    """The API server could not be reached (refused, DNS, TLS, timeout)."""


class K8sApiError(K8sError):
    """The API server answered with an error ``Status``."""

    def __init__(self, verb, resource, namespace, code, reason, message):
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        self.code = code
        self.reason = reason
        self.message = message
        where = ' in namespace %s' % namespace if namespace else ''
        super().__init__('%s %s%s refused: %s %s: %s' % (verb, resource, where, code, reason or 'error', message or 'no message'))


def kubernetes_argument_spec():
    """The connection options, kubernetes.core's names and aliases."""
    return dict(
        kubeconfig=dict(type='raw', no_log=False),
        context=dict(type='str'),
        host=dict(type='str'),
        api_key=dict(type='str', no_log=True),
        validate_certs=dict(type='bool', aliases=['verify_ssl']),
        ca_cert=dict(type='path', aliases=['ssl_ca_cert']),
        client_cert=dict(type='path', aliases=['cert_file']),
        client_key=dict(type='path', aliases=['key_file'], no_log=False),
        proxy=dict(type='str'),
        no_proxy=dict(type='str'),
        request_timeout=dict(type='float', default=30),
    )


def resolve_environment(params, environ=None):
    """Fill every unset connection option from its K8S_AUTH_* variable; return the secrets read (to mask)."""
    environ = os.environ if environ is None else environ
    secrets = []
    for option, names in ENVIRONMENT.items():
        if params.get(option) is not None:
            continue
        for name in names:
            value = environ.get(name)
            if value is None or value == '':
                continue
            if option == 'validate_certs':
                value = value.strip().lower() not in _FALSE
            params[option] = value
            if option == 'api_key':
                secrets.append(value)
            break
    secrets.extend(kubeconfig_secrets(params.get('kubeconfig')))
    return secrets


def kubeconfig_secrets(kubeconfig):
    """The credentials in a kubeconfig given as a dict (tokens, passwords, private keys), to mask like no_log options."""
    if not isinstance(kubeconfig, dict):
        return []
    secrets = []
    for entry in kubeconfig.get('users') or []:
        user = entry.get('user') if isinstance(entry, dict) else None
        if not isinstance(user, dict):
            continue
        for key in ('token', 'password', 'client-key-data'):
            if isinstance(user.get(key), str) and user[key]:
                secrets.append(user[key])
        provider = user.get('auth-provider')
        if isinstance(provider, dict) and isinstance(provider.get('config'), dict):
            for key in ('access-token', 'id-token', 'refresh-token', 'client-secret'):
                if isinstance(provider['config'].get(key), str) and provider['config'][key]:
                    secrets.append(provider['config'][key])
    return secrets


def validate_connection_params(params):
    """Messages naming the option and the fix."""
    problems = []
    kubeconfig = params.get('kubeconfig')
    if kubeconfig is not None and not isinstance(kubeconfig, (str, dict)):
        problems.append('kubeconfig must be the path of a kubeconfig file or a kubeconfig as a dict, got a %s' % type(kubeconfig).__name__)
    elif isinstance(kubeconfig, str) and kubeconfig and not os.path.isfile(os.path.expanduser(kubeconfig)):
        problems.append('kubeconfig: %s is not a file; give the path of a kubeconfig (or set K8S_AUTH_KUBECONFIG)' % kubeconfig)
    host = params.get('host')
    if host:
        parsed = urllib.parse.urlsplit(host)
        if parsed.scheme not in ('http', 'https') or not parsed.netloc:
            problems.append('host must be the API server URL such as https://api.dsr.example:6443, got %r' % _safe(host))
        elif parsed.username is not None or parsed.password is not None:
            problems.append('host must not hold credentials; use api_key (or K8S_AUTH_API_KEY) or client_cert/client_key')
    if bool(params.get('client_cert')) != bool(params.get('client_key')):
        problems.append('client_cert and client_key go together: give both (or neither)')
    for option in ('ca_cert', 'client_cert', 'client_key'):
        path = params.get(option)
        if path and not os.path.isfile(path):
            problems.append('%s: %s is not a file' % (option, path))
    if params.get('request_timeout') is not None and not params['request_timeout'] > 0:
        problems.append('request_timeout must be a positive number of seconds, got %s' % params['request_timeout'])
    return problems


def _safe(url):
    parsed = urllib.parse.urlsplit(str(url))
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc.rsplit('@', 1)[-1], parsed.path, '', ''))


def configuration(params):
    """A kubernetes.client.Configuration from the options, in kubernetes.core's order (see the module docstring)."""
    import kubernetes  # pylint: disable=import-outside-toplevel
    from kubernetes.config.config_exception import ConfigException  # pylint: disable=import-outside-toplevel

    config = kubernetes.client.Configuration()
    host, api_key, kubeconfig, context = params.get('host'), params.get('api_key'), params.get('kubeconfig'), params.get('context')
    try:
        if host and (api_key or params.get('client_cert')):
            pass
        elif kubeconfig or context:
            _load_kubeconfig(kubeconfig, context, config)
        else:
            try:
                kubernetes.config.load_incluster_config(client_configuration=config)
            except ConfigException:
                _load_kubeconfig(None, None, config)
    except ConfigException as exc:
        raise K8sConfigError('no usable Kubernetes configuration: %s; set host and api_key (K8S_AUTH_HOST, K8S_AUTH_API_KEY), '
                             'kubeconfig (K8S_AUTH_KUBECONFIG) or run in a cluster' % _scrub(str(exc), api_key).rstrip('.'))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise K8sConfigError('cannot read the kubeconfig: %s' % _scrub(str(exc), api_key))
    if host:
        config.host = host.rstrip('/')
    if api_key:
        config.api_key = {'authorization': 'Bearer ' + api_key}
        config.api_key_prefix = {}
    if params.get('validate_certs') is not None:
        config.verify_ssl = bool(params['validate_certs'])
    for option, attribute in (('ca_cert', 'ssl_ca_cert'), ('client_cert', 'cert_file'), ('client_key', 'key_file'),
                              ('proxy', 'proxy'), ('no_proxy', 'no_proxy')):
        if params.get(option):
            setattr(config, attribute, params[option])
    if not config.host or config.host == 'http://localhost':
        raise K8sConfigError('no Kubernetes API server: set host (or K8S_AUTH_HOST), a kubeconfig with a current context, '
                             'or run in a cluster')
    # one retry on a dropped connection; the default retries three times on every error, which makes "API down" slow
    config.retries = 1
    return config


def _load_kubeconfig(kubeconfig, context, config):
    import kubernetes  # pylint: disable=import-outside-toplevel
    # persist_config=False: a refreshed token is never written back into the user's file
    if isinstance(kubeconfig, dict):
        kubernetes.config.load_kube_config_from_dict(config_dict=kubeconfig, context=context, client_configuration=config,
                                                     persist_config=False)
    else:
        kubernetes.config.load_kube_config(config_file=os.path.expanduser(kubeconfig) if kubeconfig else None, context=context,
                                           client_configuration=config, persist_config=False)


def _scrub(text, *secrets):
    for secret in secrets:
        if secret:
            text = text.replace(secret, '********')
    return text


class K8sClient:
    """Raw JSON reads (and server-side apply) on one API server, every request counted in ``requests``."""

    def __init__(self, config, timeout=30.0):
        import kubernetes  # pylint: disable=import-outside-toplevel
        self._api = kubernetes.client.ApiClient(config)
        self._secret = (config.api_key or {}).get('authorization')
        self.host = _safe(config.host)
        self.timeout = timeout
        self.requests = []

    @classmethod
    def from_params(cls, params):
        """The client the module's connection options describe."""
        return cls(configuration(params), params.get('request_timeout') or 30.0)

    def close(self):
        """Release the connection pool."""
        try:
            self._api.close()
        except Exception:  # pylint: disable=broad-except
            pass

    def request(self, method, path, query=None, body=None, content_type=None, verb=None, resource=None, namespace=None, raw=False):
        """Send one request; the decoded JSON answer (``raw``: the text).

        ``verb``, ``resource`` and ``namespace`` describe the request for error
        messages, as RBAC names them: ``list deployments.apps``. ``body`` is
        sent as JSON (which is also YAML, for server-side apply).
        """
        import urllib3  # pylint: disable=import-outside-toplevel
        query = [(key, value) for key, value in (query or {}).items() if value is not None]
        self.requests.append('%s %s%s' % (method, path, '?' + urllib.parse.urlencode(query) if query else ''))
        headers = {'Accept': 'text/plain' if raw else 'application/json'}
        if content_type:
            headers['Content-Type'] = content_type
        payload = None if body is None else json.dumps(body, sort_keys=True)
        verb = verb or method.lower()
        try:
            code, reason, data = self._send(method, path, query, headers, payload)
        except urllib3.exceptions.HTTPError as exc:
            raise K8sUnreachable('cannot reach the Kubernetes API server %s: %s' % (self.host, _scrub(_reason(exc), self._secret)))
        except OSError as exc:
            raise K8sUnreachable('cannot reach the Kubernetes API server %s: %s' % (self.host, _scrub(str(exc), self._secret)))
        text = data.decode('utf-8', 'replace') if isinstance(data, bytes) else (data or '')
        if code >= 400:
            raise self._api_error(code, reason, text, verb, resource or path, namespace)
        if raw:
            return text
        try:
            return json.loads(text)
        except ValueError:
            raise K8sApiError(verb, resource or path, namespace, code, 'BadResponse',
                              'the answer is not JSON (%d bytes): is %s a Kubernetes API server?' % (len(text), self.host))

    def _send(self, method, path, query, headers, payload):
        """(status, reason, body bytes) through the client's ApiClient, whichever generation of the library it is."""
        from kubernetes.client.exceptions import ApiException  # pylint: disable=import-outside-toplevel
        if hasattr(self._api, 'param_serialize'):
            # kubernetes >= 37 (the current OpenAPI generator): serialize, send, and the answer is not raised on
            method, url, headers, payload, post = self._api.param_serialize(
                method, path, query_params=query, header_params=headers, body=payload, auth_settings=['BearerToken'])
            response = self._api.call_api(method, url, header_params=headers, body=payload, post_params=post or None,
                                          _request_timeout=self.timeout)
            return response.status, response.reason, response.read()
        try:
            response = self._api.call_api(path, method, query_params=query, header_params=headers, body=payload,
                                          auth_settings=['BearerToken'], _preload_content=False, _return_http_data_only=True,
                                          _request_timeout=self.timeout)
        except ApiException as exc:
            if not exc.status:
                raise K8sUnreachable('cannot reach the Kubernetes API server %s: %s' % (self.host, _scrub(str(exc.reason), self._secret)))
            return exc.status, exc.reason, exc.body
        return response.status, response.reason, response.data

    def _api_error(self, code, reason, text, verb, resource, namespace):
        message = None
        try:
            status = json.loads(text)
            if isinstance(status, dict) and status.get('kind') == 'Status':
                reason = status.get('reason') or reason
                message = status.get('message')
        except ValueError:
            pass
        if message is None:
            message = text[:300].strip() or None
        return K8sApiError(verb, resource, namespace, code, reason, _scrub(message or '', self._secret) or None)

    def list(self, group_version, plural, namespace=None, label_selector=None, resource=None):
        """The items of one list call (a namespace's, or the cluster's for a cluster-scoped kind)."""
        base = '/api/%s' % group_version if '/' not in group_version else '/apis/%s' % group_version
        path = '%s/namespaces/%s/%s' % (base, urllib.parse.quote(namespace, safe=''), plural) if namespace else '%s/%s' % (base, plural)
        answer = self.request('GET', path, {'labelSelector': label_selector}, verb='list', resource=resource or plural, namespace=namespace)
        items = answer.get('items') if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise K8sApiError('list', resource or plural, namespace, 200, 'BadResponse', 'the answer has no items list')
        return [item for item in items if isinstance(item, dict)]

    def get(self, path, resource, namespace, name):
        """One object, or None when the API server says 404 (any other error raises)."""
        try:
            return self.request('GET', path, verb='get', resource=resource, namespace=namespace)
        except K8sApiError as exc:
            if exc.code == 404 and exc.reason == 'NotFound':
                return None
            raise

    # pylint: disable-next=too-many-arguments
    def apply(self, path, body, resource, namespace, field_manager, force=False, dry_run=False):
        """Server-side apply of ``body`` at ``path`` (``dry_run``: the API server's dry run, nothing stored); the object as applied."""
        query = {'fieldManager': field_manager, 'force': 'true' if force else None, 'dryRun': 'All' if dry_run else None}
        return self.request('PATCH', path, query, body=body, content_type='application/apply-patch+yaml', verb='patch',
                            resource=resource, namespace=namespace)

    def pod_log(self, namespace, pod, container, tail_lines, limit_bytes, previous=False):
        """The last lines of one container's log (``previous``: of its last terminated instance)."""
        path = '/api/v1/namespaces/%s/pods/%s/log' % (urllib.parse.quote(namespace, safe=''), urllib.parse.quote(pod, safe=''))
        query = {'container': container, 'tailLines': tail_lines, 'limitBytes': limit_bytes, 'previous': 'true' if previous else None}
        return self.request('GET', path, query, verb='get', resource='pods/log', namespace=namespace, raw=True)


def _reason(exc):
    reason = getattr(exc, 'reason', None)
    return str(reason if reason is not None else exc)
