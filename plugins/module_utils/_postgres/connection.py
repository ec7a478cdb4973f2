# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""PostgreSQL connection options shared by every dsr.ops PostgreSQL module.

Option names follow community.postgresql. Anything left unset is not passed to
libpq at all, so libpq's own fallbacks apply: ``PGHOST``, ``PGPORT``,
``PGUSER``, ``PGPASSWORD``, ``PGDATABASE``, ``PGSSLMODE``, ``PGSSLROOTCERT``,
``PGCONNECT_TIMEOUT`` and ``.pgpass`` / ``PGPASSFILE``. That is how AWX and
Automation Controller credential types inject secrets.
"""

from __future__ import annotations

import os
import time

from ansible_collections.dsr.ops.plugins.module_utils import _deps

if _deps.HAS_PSYCOPG2:
    import psycopg2

SSL_MODES = ('disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full')

DEFAULT_CONNECT_TIMEOUT = 10
APPLICATION_NAME = 'dsr.ops'

# option name -> libpq keyword
_LIBPQ_KEYWORDS = (
    ('login_user', 'user'),
    ('login_password', 'password'),
    ('port', 'port'),
    ('login_db', 'dbname'),
    ('ssl_mode', 'sslmode'),
    ('ca_cert', 'sslrootcert'),
    ('ssl_cert', 'sslcert'),
    ('ssl_key', 'sslkey'),
    ('connect_timeout', 'connect_timeout'),
)

# libpq keyword -> environment variable, for child processes such as pg_dump
_LIBPQ_ENVIRONMENT = {
    'host': 'PGHOST',
    'port': 'PGPORT',
    'user': 'PGUSER',
    'password': 'PGPASSWORD',
    'dbname': 'PGDATABASE',
    'sslmode': 'PGSSLMODE',
    'sslrootcert': 'PGSSLROOTCERT',
    'sslcert': 'PGSSLCERT',
    'sslkey': 'PGSSLKEY',
    'connect_timeout': 'PGCONNECT_TIMEOUT',
    'application_name': 'PGAPPNAME',
}


class PostgresError(Exception):
    """Base class of every PostgreSQL backend error; ``str()`` is safe to show."""


class PostgresConnectionError(PostgresError):
    """The server could not be reached or refused the login."""


class PostgresQueryError(PostgresError):
    """A statement failed on a live connection."""


class PostgresInputError(PostgresError):
    """The user's input does not match what is on the server (unknown table, ...)."""


def postgres_argument_spec():
    """Return the connection options every PostgreSQL module accepts."""
    return dict(
        login_user=dict(type='str', aliases=['login']),
        login_password=dict(type='str', no_log=True),
        login_host=dict(type='str', aliases=['host']),
        login_unix_socket=dict(type='path', aliases=['unix_socket']),
        port=dict(type='int', aliases=['login_port']),
        login_db=dict(type='str', aliases=['db']),
        ssl_mode=dict(type='str', choices=list(SSL_MODES)),
        ca_cert=dict(type='path', aliases=['ssl_rootcert']),
        ssl_cert=dict(type='path'),
        ssl_key=dict(type='path', no_log=False),
        connect_timeout=dict(type='int'),
    )


# every connection option of postgres_argument_spec(), what a Connector keeps
CONNECTION_OPTIONS = ('login_user', 'login_password', 'login_host', 'login_unix_socket', 'port', 'login_db', 'ssl_mode', 'ca_cert',
                      'ssl_cert', 'ssl_key', 'connect_timeout')

# PostgreSQL truncates longer identifiers (NAMEDATALEN - 1 bytes)
IDENTIFIER_MAX_BYTES = 63


def identifier_problem(option, value):
    """A message when ``value`` cannot be a PostgreSQL name as given (empty, NUL, too long), else None."""
    if value is None:
        return None
    if value == '':
        return '%s must not be empty' % option
    length = len(value.encode('utf-8'))
    if length > IDENTIFIER_MAX_BYTES:
        return ('%s is %d bytes long; PostgreSQL names are at most %d bytes (it would silently use the first %d): '
                'use a shorter name' % (option, length, IDENTIFIER_MAX_BYTES, IDENTIFIER_MAX_BYTES))
    return None


def identifier_problems(params, options):
    """identifier_problem for each of ``options`` that is set."""
    return [problem for problem in (identifier_problem(option, params.get(option)) for option in options) if problem]


def validate_connection_params(params):
    """Return a list of messages for connection options that cannot work."""
    problems = []
    for option in ('login_user', 'login_db'):
        problem = identifier_problem(option, params.get(option))
        if problem and params.get(option) != '':
            problems.append(problem)
    port = params.get('port')
    if port is not None and not 1 <= port <= 65535:
        problems.append('port must be between 1 and 65535, got %d' % port)
    timeout = params.get('connect_timeout')
    if timeout is not None and timeout < 1:
        problems.append('connect_timeout must be at least 1 second, got %d' % timeout)
    if bool(params.get('ssl_cert')) != bool(params.get('ssl_key')):
        problems.append('ssl_cert and ssl_key must be given together (the client certificate and its key)')
    return problems


def connection_kwargs(params, environ=None):
    """Translate module options into libpq keywords, leaving unset ones to libpq."""
    environ = os.environ if environ is None else environ
    kwargs = {}
    if params.get('login_host'):
        kwargs['host'] = params['login_host']
    elif params.get('login_unix_socket'):
        kwargs['host'] = params['login_unix_socket']
    for option, keyword in _LIBPQ_KEYWORDS:
        value = params.get(option)
        if value is not None and value != '':
            kwargs[keyword] = value
    if 'connect_timeout' not in kwargs and not environ.get('PGCONNECT_TIMEOUT'):
        kwargs['connect_timeout'] = DEFAULT_CONNECT_TIMEOUT
    if not environ.get('PGAPPNAME'):
        kwargs['application_name'] = APPLICATION_NAME
    return kwargs


def _scrub(text, params):
    password = params.get('login_password')
    if password:
        text = text.replace(password, '********')
    return text.strip()


class Connector:
    """How a backend reaches PostgreSQL: the module's connection options, resolved once into libpq keywords.

    Every backend gets one: ``connect(database)`` opens a connection (to the
    options' ``login_db``, or to ``database``), ``environment(database)`` is the
    environment for a child program (pg_dump, pg_restore, psql), ``to(...)`` is
    the same login with some options changed (another host: a standby's
    primary). Calling the object connects to ``login_db``.
    """

    def __init__(self, params, environ=None):
        self.params = {name: params.get(name) for name in CONNECTION_OPTIONS}
        self._environ = environ
        self.kwargs = connection_kwargs(self.params, environ)

    def to(self, **changes):
        """The same login with ``changes`` (module option names) applied."""
        return Connector(dict(self.params, **changes), self._environ)

    def _for(self, database):
        return self.to(login_db=database) if database and database != self.params.get('login_db') else self

    def connect(self, database=None, autocommit=True):
        """Open a connection; return ``(connection, seconds it took)``; PostgresConnectionError never holds the password."""
        target = self._for(database)
        return _open(target.kwargs, target.params, autocommit)

    def environment(self, database=None):
        """The environment for a libpq child process: the password travels there, never on a command line."""
        environ = dict(os.environ if self._environ is None else self._environ)
        for keyword, value in self._for(database).kwargs.items():
            environ[_LIBPQ_ENVIRONMENT[keyword]] = str(value)
        return environ

    def __call__(self):
        return self.connect()


def _open(kwargs, params, autocommit):
    started = time.monotonic()
    try:
        conn = psycopg2.connect(**kwargs)
    except psycopg2.Error as exc:
        # 'from None': the chained libpq error would reach the traceback that
        # fail_json returns under -vvv, and we only vouch for the scrubbed text.
        raise PostgresConnectionError('unable to connect to PostgreSQL: %s' % _scrub(str(exc), params)) from None
    elapsed = time.monotonic() - started
    conn.autocommit = autocommit
    return conn, elapsed


def describe(conn):
    """Where a live connection actually went, after libpq's fallbacks."""
    info = conn.info
    return {
        'host': info.host,
        'port': info.port,
        'user': info.user,
        'database': info.dbname,
        'server_version': info.server_version,
    }


def server_version_string(server_version_num):
    """Render libpq's integer server version (150018) as text (15.18)."""
    major, minor = divmod(int(server_version_num), 10000)
    if major >= 10:
        return '%d.%d' % (major, minor)
    return '%d.%d.%d' % (major, minor // 100, minor % 100)
