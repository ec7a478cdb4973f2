# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fixtures for functional tests that run dsr.ops modules as processes against the harness.

``harness`` uses the servers scripts/test.sh started (``DSR_HARNESS_STATE``) or
starts its own throwaway PostgreSQL. ``run_module`` runs a module file the way
Ansible does, as its own process reading its arguments from a JSON file, so a
test can kill it (and everything it started) with SIGKILL.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg2
import pytest

HERE = Path(__file__).resolve()
COLLECTION = HERE.parents[2]
sys.path.insert(0, str(COLLECTION / 'tests' / 'harness'))

import dsr_harness  # noqa: E402  pylint: disable=wrong-import-position


def _collections_root(tmp_root):
    """A directory holding ansible_collections/dsr/ops for PYTHONPATH."""
    if HERE.parents[4].name == 'ansible_collections':
        return str(HERE.parents[5])
    link = Path(tmp_root) / 'ansible_collections' / 'dsr'
    link.mkdir(parents=True, exist_ok=True)
    if not (link / 'ops').exists():
        (link / 'ops').symlink_to(COLLECTION)
    return str(tmp_root)


@pytest.fixture(scope='session')
def harness():
    """The running harness's PostgreSQL state (dict), started here if scripts/test.sh did not."""
    state_file = os.environ.get('DSR_HARNESS_STATE')
    if state_file and os.path.exists(state_file):
        yield dsr_harness.read_state(os.path.dirname(state_file))['services']['postgres']
        return
    base = tempfile.mkdtemp(prefix='dsr-functional-')
    os.rmdir(base)
    state = dsr_harness.up(base, ['postgres'], standby=False)
    try:
        yield state['services']['postgres']
    finally:
        dsr_harness.down(base)


def _service(name):
    """A harness service's state: the one scripts/test.sh started, else one started here for the session."""
    state_file = os.environ.get('DSR_HARNESS_STATE')
    if state_file and os.path.exists(state_file):
        state = dsr_harness.read_state(os.path.dirname(state_file))['services'].get(name)
        if state:
            yield state
            return
    base = tempfile.mkdtemp(prefix='dsr-%s-' % name)
    os.rmdir(base)
    started = dsr_harness.up(base, [name])
    try:
        yield started['services'][name]
    finally:
        dsr_harness.down(base)


@pytest.fixture(scope='session')
def s3_service():
    """The harness's S3 server state (endpoint_url, region, access_key, secret_key), started here if needed."""
    yield from _service('s3')


@pytest.fixture(scope='session')
def tls_service():
    """The harness's TLS endpoints (ca_cert, endpoints by name), started here if scripts/test.sh did not."""
    yield from _service('tls')


@pytest.fixture(scope='session')
def k8s_service():
    """The harness's Kubernetes API stub (url, token, token_file, ca_cert, control_url, namespace), started here if needed."""
    yield from _service('kubernetes')


def k8s_stub_server(tmp_path_factory, token, scenario='healthy', name='k8s'):
    """A started Kubernetes API stub (tests/harness/k8s_stub.py, a stub, not an API server) with its own CA over TLS.

    For a module-scoped fixture: ``server = k8s_stub_server(...); yield server; server.stop()``;
    ``server.ca_cert`` is the CA bundle that verifies it.
    """
    import k8s_stub  # pylint: disable=import-outside-toplevel
    base = tmp_path_factory.mktemp(name)
    ca = dsr_harness.HarnessCA(str(base))
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = ca.issue(str(base), 'kube-apiserver', now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))
    server = k8s_stub.StubServer(token=token, certfile=cert['chain'], keyfile=cert['key'], scenario=scenario).start()
    server.ca_cert = ca.root_file
    return server


@pytest.fixture(scope='session')
def module_env(tmp_path_factory):
    """Environment in which ``python plugins/modules/X.py args.json`` imports the collection."""
    root = _collections_root(tmp_path_factory.mktemp('collections'))
    env = dict(os.environ)
    env['PYTHONPATH'] = root + os.pathsep + env.get('PYTHONPATH', '')
    return env


@pytest.fixture(scope='module')
def records_module(tmp_path_factory):
    """The collection's ``_textfile.records`` (the metric names ops_metrics writes), imported in this process."""
    root = _collections_root(tmp_path_factory.mktemp('collections'))
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module('ansible_collections.dsr.ops.plugins.module_utils._textfile.records')


def run_promtool(*args, stdin=None, timeout=60):
    """``promtool args`` run to its end (CompletedProcess, output as text; its exit code is the caller's to judge).

    Without promtool on PATH the test fails, saying how to install it.
    """
    path = shutil.which('promtool')
    if not path:
        pytest.fail('promtool not found: apt-get install --no-install-recommends prometheus (scripts/test.sh does)')
    return subprocess.run([path] + [str(arg) for arg in args], stdin=stdin, capture_output=True, text=True, check=False, timeout=timeout)


class ModuleRun:
    """A module process; ``result()`` waits for its JSON, ``kill()`` SIGKILLs its whole process group."""

    def __init__(self, name, args, env, workdir):
        # one file per run: runs started from several threads at once must not read each other's arguments
        args_file = Path(workdir) / ('%s-%d-%s.json' % (name, os.getpid(), uuid.uuid4().hex))
        args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
        args_file.chmod(0o600)
        self.proc = subprocess.Popen([sys.executable, str(COLLECTION / 'plugins' / 'modules' / ('%s.py' % name)), str(args_file)],
                                     env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)

    def result(self, timeout=600):
        """The module's result dict (plus ``_stderr``)."""
        stdout, stderr = self.proc.communicate(timeout=timeout)
        try:
            data = json.loads(stdout.decode('utf-8'))
        except ValueError:
            raise AssertionError('module printed no JSON (exit %s): %s %s' % (self.proc.returncode, stdout[-2000:], stderr[-2000:])) from None
        data['_stderr'] = stderr.decode('utf-8', 'replace')
        return data

    def kill(self):
        """SIGKILL the module and every process in its group (pg_dump included)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.communicate()


@pytest.fixture
def run_module(module_env, tmp_path):
    """``run_module(name, args)`` -> result dict; ``run_module.start(name, args)`` -> ModuleRun."""
    def run(name, args, timeout=600):
        return ModuleRun(name, args, module_env, tmp_path).result(timeout)

    run.start = lambda name, args: ModuleRun(name, args, module_env, tmp_path)
    return run


def connection_args(pg, user='postgres', database='postgres'):
    """Module connection options for the harness primary."""
    return {'login_host': pg['host'], 'port': pg['port'], 'login_user': user, 'login_password': pg['passwords'][user], 'login_db': database}


def recreate_database(pg, name, owner='dsr_app'):
    """Drop ``name`` if it exists and create it empty, owned by ``owner``."""
    conn = connect(pg)
    with conn.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        cur.execute('CREATE DATABASE "%s" OWNER "%s"' % (name, owner))
    conn.close()


def drop_database(pg, name):
    """Drop ``name`` if it exists, whoever is connected."""
    conn = connect(pg)
    with conn.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
    conn.close()


def connect(pg, database='postgres', user='postgres'):
    """A psycopg2 autocommit connection to the harness primary."""
    conn = psycopg2.connect(host=pg['host'], port=pg['port'], user=user, password=pg['passwords'][user], dbname=database)
    conn.autocommit = True
    return conn
