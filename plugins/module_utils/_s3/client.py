# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One S3 client for the dsr.ops modules: options, credentials, retries, errors.

Every call goes through :meth:`Store.call`, so every call is retried by
botocore's ``standard`` retry mode (exponential backoff with jitter on 5xx,
throttling and dropped connections) and every failure becomes an
:class:`S3RequestError` whose message names the operation, the bucket and key,
and S3's error code, never a credential.
"""

from __future__ import annotations

import http.client
import os
import threading
import time
from urllib.parse import urlsplit

from ansible_collections.dsr.ops.plugins.module_utils._s3.errors import S3InputError, S3RequestError

try:
    import boto3
    import botocore.config
    import botocore.exceptions
    import urllib3.exceptions
    # what reading a response body can raise when the connection drops mid-stream
    STREAM_ERRORS = (botocore.exceptions.BotoCoreError, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)
except ImportError:  # guarded by _deps.require(module, 'boto3') before use
    boto3 = None
    STREAM_ERRORS = (http.client.HTTPException, OSError)

# The variables AWX's "Amazon Web Services" credential and the AWS tools set.
# AWS_SECURITY_TOKEN is the older name of AWS_SESSION_TOKEN; AWX still injects it.
ENV_ACCESS_KEY = ('AWS_ACCESS_KEY_ID', 'AWS_ACCESS_KEY', 'EC2_ACCESS_KEY')
ENV_SECRET_KEY = ('AWS_SECRET_ACCESS_KEY', 'AWS_SECRET_KEY', 'EC2_SECRET_KEY')
ENV_SESSION_TOKEN = ('AWS_SESSION_TOKEN', 'AWS_SECURITY_TOKEN', 'EC2_SECURITY_TOKEN')
ENV_PROFILE = ('AWS_PROFILE', 'AWS_DEFAULT_PROFILE')
ENV_REGION = ('AWS_REGION', 'AWS_DEFAULT_REGION', 'EC2_REGION')
ENV_ENDPOINT = ('AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL', 'S3_URL')
ENV_CA_BUNDLE = ('AWS_CA_BUNDLE',)

# botocore's standard mode backs off up to 20 s between attempts: 50 retries is a quarter of an hour per call
MAX_RETRIES = 50


def aws_argument_spec():
    """The connection options of the ``dsr.ops.aws`` documentation fragment."""
    return dict(
        access_key=dict(type='str', aliases=['aws_access_key_id', 'aws_access_key'], no_log=False),
        secret_key=dict(type='str', aliases=['aws_secret_access_key', 'aws_secret_key'], no_log=True),
        session_token=dict(type='str', aliases=['aws_session_token', 'security_token', 'aws_security_token'], no_log=True),
        profile=dict(type='str', aliases=['aws_profile']),
        region=dict(type='str', aliases=['aws_region']),
        endpoint_url=dict(type='str', aliases=['aws_endpoint_url', 's3_url']),
        validate_certs=dict(type='bool', default=True),
        ca_bundle=dict(type='path', aliases=['aws_ca_bundle']),
        addressing_style=dict(type='str', choices=['auto', 'path', 'virtual'], default='auto'),
        checksum_calculation=dict(type='str', choices=['when_supported', 'when_required']),
        retries=dict(type='int', default=10),
        connect_timeout=dict(type='float', default=10),
        read_timeout=dict(type='float', default=60),
    )


def _first_env(names, environ):
    for name in names:
        if environ.get(name):
            return environ[name]
    return None


def resolve_connection(params, environ=None):
    """Fill unset connection options from the environment; return ``(params, problems)``.

    Credentials are all-or-nothing: when none of access_key, secret_key,
    session_token and profile is given, the three keys are read from the
    environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN
    or AWS_SECURITY_TOKEN, with their older names); when none is found there
    either, boto3's own chain (shared config and credentials files, container
    and instance roles) decides.
    """
    environ = os.environ if environ is None else environ
    params = dict(params)
    problems = []
    given = [name for name in ('access_key', 'secret_key', 'session_token') if params.get(name)]
    if params.get('profile') and given:
        problems.append('profile cannot be combined with %s: use a profile or keys, not both' % ', '.join(given))
    if not given and not params.get('profile'):
        params['access_key'] = _first_env(ENV_ACCESS_KEY, environ)
        params['secret_key'] = _first_env(ENV_SECRET_KEY, environ)
        params['session_token'] = _first_env(ENV_SESSION_TOKEN, environ)
        if not (params['access_key'] or params['secret_key']):
            params['session_token'] = None
            params['profile'] = _first_env(ENV_PROFILE, environ)
    if bool(params.get('access_key')) != bool(params.get('secret_key')):
        problems.append('access_key and secret_key go together: give both (or set AWS_ACCESS_KEY_ID and '
                        'AWS_SECRET_ACCESS_KEY), or neither to use a profile or an instance role')
    if params.get('session_token') and not params.get('access_key'):
        problems.append('session_token needs access_key and secret_key (temporary credentials come as all three)')
    for name, env_names in (('region', ENV_REGION), ('endpoint_url', ENV_ENDPOINT), ('ca_bundle', ENV_CA_BUNDLE)):
        if not params.get(name):
            params[name] = _first_env(env_names, environ)
    endpoint = params.get('endpoint_url')
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ('http', 'https') or not parts.hostname:
            problems.append('endpoint_url must be an http:// or https:// URL such as https://minio.dsr.example:9000, got %r' % endpoint)
        elif parts.username or parts.password:
            problems.append('endpoint_url must not hold credentials; use access_key and secret_key')
    if params.get('retries') is not None and not 0 <= params['retries'] <= MAX_RETRIES:
        problems.append('retries must be 0 or more and at most %d (with backoff, that many retries of one call already take '
                        'minutes), got %d' % (MAX_RETRIES, params['retries']))
    for name in ('connect_timeout', 'read_timeout'):
        if params.get(name) is not None and params[name] <= 0:
            problems.append('%s must be a positive number of seconds' % name)
    return params, problems


def describe_error(exc):
    """``(code, message)`` of a botocore exception, with no credentials in it."""
    if boto3 is not None and isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get('Error', {})
        code = str(error.get('Code') or exc.response.get('ResponseMetadata', {}).get('HTTPStatusCode') or 'error')
        message = error.get('Message') or ''
        return code, ('%s %s' % (code, message)).strip()
    if boto3 is not None and isinstance(exc, botocore.exceptions.NoCredentialsError):
        return 'NoCredentials', ('no AWS credentials found: set access_key and secret_key (or AWS_ACCESS_KEY_ID and '
                                 'AWS_SECRET_ACCESS_KEY), a profile, or run where an instance role is available')
    if boto3 is not None and isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return 'EndpointConnectionError', 'cannot connect to %s' % exc.kwargs.get('endpoint_url', 'the endpoint')
    return type(exc).__name__, str(exc)


class Store:
    """A boto3 S3 client with the module's retry, timeout and checksum settings."""

    def __init__(self, params, max_pool_connections=10):
        self.params = params
        self._lock = threading.Lock()
        # retries = HTTP requests sent - operations called (botocore reports no retry count when
        # the last attempt dies on a connection error), plus the retries of our own loops
        self._sent = 0
        self._operations = 0
        self._own_retries = 0
        # the audit trail: (operation, bucket, key) -> count, in first-call order
        self._calls = {}
        config = dict(
            # total_max_attempts counts the first request too (max_attempts would count retries only)
            retries={'mode': 'standard', 'total_max_attempts': params['retries'] + 1},
            connect_timeout=params['connect_timeout'],
            read_timeout=params['read_timeout'],
            max_pool_connections=max(10, max_pool_connections),
            # With SHA-256 part checksums, the signed x-amz-checksum-sha256 header already ties the body to
            # the signature and S3 refuses a body that does not match it; hashing the payload once more for
            # the signature cost 0.26 CPU-s per 286 MiB (benchmarks/s3_benchmark.py). botocore makes the
            # same trade over HTTPS when it sets the checksum itself.
            s3={'addressing_style': params['addressing_style'],
                'payload_signing_enabled': not params.get('part_checksums', False)},
            user_agent_extra='dsr.ops',
        )
        if params.get('checksum_calculation'):
            config['request_checksum_calculation'] = params['checksum_calculation']
            config['response_checksum_validation'] = params['checksum_calculation']
        verify = params['ca_bundle'] if params.get('ca_bundle') else params['validate_certs']
        try:
            session = boto3.session.Session(
                aws_access_key_id=params.get('access_key') or None,
                aws_secret_access_key=params.get('secret_key') or None,
                aws_session_token=params.get('session_token') or None,
                profile_name=params.get('profile') or None,
                region_name=params.get('region') or None,
            )
            self.client = session.client('s3', endpoint_url=params.get('endpoint_url') or None, verify=verify,
                                         config=botocore.config.Config(**config))
        except botocore.exceptions.BotoCoreError as exc:
            raise S3RequestError('cannot set up the S3 client: %s' % describe_error(exc)[1]) from None
        self.client.meta.events.register('before-send.s3', self._on_send)

    def _on_send(self, **_kwargs):
        with self._lock:
            self._sent += 1

    @property
    def requests(self):
        """What was asked of S3, for the audit trail: ``operation s3://bucket/key`` with a count when repeated."""
        with self._lock:
            calls = list(self._calls.items())
        return ['%s s3://%s/%s%s' % (operation, bucket or '', key or '', ' (x%d)' % count if count > 1 else '')
                for (operation, bucket, key), count in calls]

    @property
    def retry_attempts(self):
        """Retries made after transient errors so far, all calls together."""
        with self._lock:
            return max(0, self._sent - self._operations) + self._own_retries

    def call(self, operation, what, **kwargs):
        """Run one client operation; count its retries; raise S3RequestError naming ``what``."""
        target = (operation, kwargs.get('Bucket'), kwargs.get('Key') or kwargs.get('Prefix'))
        with self._lock:
            self._operations += 1
            self._calls[target] = self._calls.get(target, 0) + 1
        try:
            return getattr(self.client, operation)(**kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            code, message = describe_error(exc)
            raise S3RequestError('%s failed: %s' % (what, message), code=code) from None

    def backoff(self, attempt):
        """Sleep before retry ``attempt`` (1, 2, ...) of one of our own loops, and count it."""
        with self._lock:
            self._own_retries += 1
        time.sleep(min(20.0, 0.2 * 2 ** attempt))

    def get_small(self, bucket, key, limit):
        """The whole body of a small object (at most ``limit`` bytes, else ValueError), retried when the stream breaks."""
        attempt = 0
        while True:
            response = self.call('get_object', 'download of s3://%s/%s' % (bucket, key), Bucket=bucket, Key=key)
            body = response['Body']
            try:
                raw = body.read(limit + 1)
            except STREAM_ERRORS as exc:
                attempt += 1
                if attempt > self.params['retries']:
                    raise S3RequestError('download of s3://%s/%s failed after %d retries: %s' % (bucket, key, attempt - 1, exc)) from None
                self.backoff(attempt)
                continue
            finally:
                body.close()
            if len(raw) > limit:
                raise ValueError('s3://%s/%s is larger than %d bytes' % (bucket, key, limit))
            return raw

    def head(self, bucket, key):
        """HEAD an object with its checksums; None when it does not exist."""
        try:
            return self.call('head_object', 'HEAD s3://%s/%s' % (bucket, key), Bucket=bucket, Key=key, ChecksumMode='ENABLED')
        except S3RequestError as exc:
            if exc.code in ('404', 'NoSuchKey', 'NotFound'):
                return None
            raise

    def check_bucket(self, bucket):
        """Fail clearly when the bucket is missing or not ours to use."""
        try:
            self.call('head_bucket', 'access to bucket %s' % bucket, Bucket=bucket)
        except S3RequestError as exc:
            if exc.code in ('404', 'NoSuchBucket', 'NotFound'):
                raise S3InputError('bucket %s does not exist at this endpoint; create it (with versioning and a '
                                   'lifecycle rule, see docs/s3.md) or fix the bucket option' % bucket) from None
            if exc.code in ('403', 'AccessDenied', 'Forbidden'):
                raise S3InputError('access to bucket %s is denied: check the credentials and the bucket policy' % bucket) from None
            raise
