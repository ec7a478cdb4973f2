# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A small client for JSON-over-HTTP services (Prometheus today; Elasticsearch and others next).

What every such client must get right, in one place:

* authentication in the ``Authorization`` header only (basic, bearer, or an
  API key), never in a URL, a message or a result;
* TLS: a CA bundle, an optional client certificate, or no verification when
  asked; a certificate error says which option fixes it;
* a timeout on every request, and a clear message when it expires;
* messages name the service and a URL without any user part (:func:`safe_url`);
* one TLS context and one kept-alive connection per client: a check sends a dozen
  queries, and a TLS handshake for each (with the CA bundle loaded again) cost more
  than the queries themselves. A connection the server closed while idle is opened
  again once, when the request was sent on a reused connection.

The standard library is enough (http.client; urllib when a proxy from the environment
applies, as before: ``https_proxy``, ``no_proxy``), so the modules need no extra package.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request

USER_AGENT = 'dsr.ops'


class HttpConnectionError(Exception):
    """The service could not be reached (refused, DNS, TLS, timeout); ``str()`` is safe to show."""


def safe_url(url):
    """The URL without any user:password part, query or fragment, for messages."""
    parsed = urllib.parse.urlsplit(url)
    netloc = parsed.netloc.rsplit('@', 1)[-1]
    return urllib.parse.urlunsplit((parsed.scheme, netloc, parsed.path, '', ''))


def url_problems(option, url, example, credentials_hint):
    """Messages for a base URL option that cannot work: scheme, host, credentials in it, a query string."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ('http', 'https') or not parsed.netloc:
        return ['%s must be an http:// or https:// URL such as %s, got %r' % (option, example, safe_url(url))]
    if parsed.username is not None or parsed.password is not None:
        return ['%s must not hold credentials: %s' % (option, credentials_hint)]
    if parsed.query or parsed.fragment:
        return ['%s must be the base URL (with its path prefix, if any), without a query string' % option]
    return []


def authorization(username=None, password=None, bearer_token=None, api_key=None):
    """The Authorization header value for the credentials given, or None."""
    if bearer_token:
        return 'Bearer ' + bearer_token
    if api_key:
        return 'ApiKey ' + api_key
    if username:
        return 'Basic ' + base64.b64encode(('%s:%s' % (username, password or '')).encode('utf-8')).decode('ascii')
    return None


def credentials_from_environment(params, environment, keys, environ):
    """Fill the credential options ``keys`` from their ``environment`` variables when none of them is set.

    When any of them is given as an option, the environment is not read for the
    others, so that a secret injected for the whole run (an AWX credential) does not
    clash with the authentication chosen for one task. Returns the secrets read (all
    but ``username``), which the caller must mask: AnsibleModule only masks options.
    """
    if any(params.get(key) is not None for key in keys):
        return []
    found = []
    for key in keys:
        value = environ.get(environment[key])
        if value:
            params[key] = value
            if key != 'username':
                found.append(value)
    return found


class JsonHttpClient:
    """Requests to one service's base URL; answers are ``(status, parsed JSON or None, raw bytes, headers)``.

    ``opener(request, timeout)`` replaces the network in unit tests.
    """

    def __init__(self, url, service, authorization_header=None, ca_cert=None, client_cert=None, client_key=None,
                 validate_certs=True, timeout=30.0, opener=None, headers=None):
        self.url = url.rstrip('/')
        self.service = service
        self.timeout = timeout
        self.headers = {'Accept': 'application/json', 'User-Agent': USER_AGENT}
        self.headers.update(headers or {})
        if authorization_header:
            self.headers['Authorization'] = authorization_header
        self.ca_cert = ca_cert
        self.client_cert = client_cert
        self.client_key = client_key
        self.validate_certs = validate_certs
        self._opener = opener
        self._ssl_context = None
        self._conn = None
        self._lock = threading.Lock()

    def where(self):
        """The service and its URL, for messages."""
        return '%s at %s' % (self.service, safe_url(self.url))

    def _context(self):
        """The TLS context, built once per client (loading a CA bundle is costly)."""
        if self._ssl_context is not None:
            return self._ssl_context
        if not self.validate_certs:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            try:
                context = ssl.create_default_context(cafile=self.ca_cert)
            except (OSError, ssl.SSLError) as exc:
                raise HttpConnectionError('cannot load ca_cert %s: %s' % (self.ca_cert, getattr(exc, 'strerror', None) or exc)) from None
        if self.client_cert:
            try:
                context.load_cert_chain(self.client_cert, self.client_key)
            except (OSError, ssl.SSLError) as exc:
                raise HttpConnectionError('cannot load the client certificate %s: %s'
                                          % (self.client_cert, getattr(exc, 'strerror', None) or exc)) from None
        self._ssl_context = context
        return context

    def _proxied(self):
        """True when a proxy from the environment applies to this URL: then urllib, which knows proxies, sends it."""
        parsed = urllib.parse.urlsplit(self.url)
        return parsed.scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(parsed.hostname or '')

    def _open(self, request):
        if self._opener is not None:
            return self._opener(request, self.timeout)
        handlers = [urllib.request.HTTPSHandler(context=self._context())] if self.url.startswith('https:') else []
        return urllib.request.build_opener(*handlers).open(request, timeout=self.timeout)

    def _through_urllib(self, request):
        try:
            with self._open(request) as response:
                return response.status, response.read(), _headers(response)
        except urllib.error.HTTPError as exc:
            answer = exc.code, exc.read(), _headers(exc)
            exc.close()
            return answer

    def _connection(self):
        """``(connection, reused)``: the kept-alive connection, opened when there is none."""
        if self._conn is not None:
            return self._conn, True
        parsed = urllib.parse.urlsplit(self.url)
        if parsed.scheme == 'https':
            self._conn = http.client.HTTPSConnection(parsed.hostname, parsed.port, timeout=self.timeout, context=self._context())
        else:
            self._conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=self.timeout)
        return self._conn, False

    def close(self):
        """Close the kept-alive connection (the next request opens another)."""
        with self._lock:
            self._drop()

    def _drop(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _kept_alive(self, request):
        target = request.selector or '/'
        with self._lock:
            while True:
                connection, reused = self._connection()
                try:
                    # header names as urllib sends them (title case)
                    headers = {name.title(): value for name, value in request.header_items()}
                    connection.request(request.get_method(), target, body=request.data, headers=headers)
                    response = connection.getresponse()
                    raw = response.read()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    self._drop()
                    if reused:
                        # the server closed the idle connection: the request never reached it, send it on a new one
                        continue
                    raise
                except BaseException:
                    self._drop()
                    raise
                if response.will_close:
                    self._drop()
                return response.status, raw, dict(response.getheaders())

    def request(self, method, path, form=None, body=None, content_type=None, headers=None):
        """Send one request; an HTTP error status is an answer, not an exception. Unreachable is HttpConnectionError."""
        data = None
        extra = dict(headers or {})
        if form is not None:
            data = urllib.parse.urlencode(form).encode('utf-8')
            extra.setdefault('Content-Type', 'application/x-www-form-urlencoded')
        elif body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode('utf-8')
            extra.setdefault('Content-Type', content_type or 'application/json')
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=dict(self.headers, **extra))
        try:
            if self._opener is not None or self._proxied():
                status, raw, response_headers = self._through_urllib(request)
            else:
                status, raw, response_headers = self._kept_alive(request)
        except urllib.error.URLError as exc:
            raise HttpConnectionError('unable to reach %s: %s%s' % (self.where(), _reason(exc.reason), _tls_hint(exc.reason))) from None
        except (socket.timeout, TimeoutError):
            raise HttpConnectionError('no answer from %s within %s s (timeout)' % (self.where(), self.timeout)) from None
        except OSError as exc:
            raise HttpConnectionError('unable to reach %s: %s%s' % (self.where(), _reason(exc), _tls_hint(exc))) from None
        except http.client.HTTPException as exc:
            raise HttpConnectionError('unable to reach %s: not an HTTP answer (%s)' % (self.where(), type(exc).__name__)) from None
        return status, decode_json(raw), raw, response_headers


def _headers(response):
    headers = getattr(response, 'headers', None)
    return dict(headers.items()) if headers is not None else {}


def decode_json(raw):
    """Parsed JSON, or None when the body is not JSON."""
    try:
        return json.loads(raw.decode('utf-8'))
    except (UnicodeDecodeError, ValueError):
        return None


def snippet(raw):
    """The start of a body that was not what was expected, for a message."""
    return repr(raw[:120].decode('utf-8', errors='replace').strip())


def _reason(reason):
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)


def _tls_hint(reason):
    if isinstance(reason, ssl.SSLCertVerificationError):
        return ' (set ca_cert to the CA that signed the server certificate)'
    return ''
