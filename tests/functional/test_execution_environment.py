# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The execution environment's build context, made the way a sysadmin makes it (scripts/ee-context.sh:
ansible-galaxy collection build, then ansible-builder create - no container engine), and what the
image's builder stage would install, found with ansible-builder's own introspection over the
collection installed from that context's tarball."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from conftest import COLLECTION

BIN = Path(sys.executable).parent


def requirement_lines(path):
    return [line.split('#', 1)[0].strip() for line in Path(path).read_text().splitlines() if line.split('#', 1)[0].strip()]


def pin(requirements, name):
    for line in requirement_lines(requirements):
        if re.split('[=<>!~ ]', line, maxsplit=1)[0].lower() == name:
            return line
    raise AssertionError('%s not pinned in %s' % (name, requirements))


@pytest.fixture(scope='module')
def context(tmp_path_factory):
    where = tmp_path_factory.mktemp('ee') / 'context'
    env = dict(os.environ, PATH=str(BIN) + os.pathsep + os.environ.get('PATH', ''))
    done = subprocess.run(['bash', str(COLLECTION / 'scripts' / 'ee-context.sh'), str(where)], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'build context: %s' % where in done.stdout
    # made again over its own previous output
    again = subprocess.run(['bash', str(COLLECTION / 'scripts' / 'ee-context.sh'), str(where)], env=env, capture_output=True, text=True,
                           timeout=600, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    return where


def test_a_directory_that_is_not_a_context_is_never_replaced(tmp_path):
    precious = tmp_path / 'precious'
    precious.mkdir()
    (precious / 'notes.txt').write_text('not a build context')
    env = dict(os.environ, PATH=str(BIN) + os.pathsep + os.environ.get('PATH', ''))
    done = subprocess.run(['bash', str(COLLECTION / 'scripts' / 'ee-context.sh'), str(precious)], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert 'is not a build context this script made' in done.stderr
    assert (precious / 'notes.txt').read_text() == 'not a build context'


def test_the_containerfile_installs_the_pinned_ansible_and_the_collection(context):
    containerfile = (context / 'Containerfile').read_text()
    definition = yaml.safe_load((COLLECTION / 'execution-environment' / 'execution-environment.yml').read_text())
    # the image runs what the test suite tests: the same ansible-core
    core = pin(COLLECTION / 'tests' / 'requirements.txt', 'ansible-core')
    assert definition['dependencies']['ansible_core']['package_pip'] == core
    assert 'ARG ANSIBLE_INSTALL_REFS="%s ansible-runner==' % core in containerfile
    assert 'ARG EE_BASE_IMAGE="%s"' % definition['images']['base_image']['name'] in containerfile
    assert 'ARG PYCMD="/usr/bin/python3.12"' in containerfile
    # the collection from the context's own tarball, then the builder stage's introspection of it
    assert 'ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml' in containerfile
    assert 'introspect.py introspect' in containerfile
    # PostgreSQL 15's client tools, enabled before the system packages are installed
    final = containerfile[containerfile.index('FROM base AS final'):]
    assert final.index('module enable -y postgresql:15') < final.index('install-from-bindep')
    requirements = yaml.safe_load((context / '_build' / 'requirements.yml').read_text())
    assert requirements == {'collections': [{'name': 'collections/dsr-ops.tar.gz', 'type': 'file'}]}


def test_the_tarball_is_this_collection_without_local_state(context):
    galaxy = yaml.safe_load((COLLECTION / 'galaxy.yml').read_text())
    with tarfile.open(context / '_build' / 'collections' / 'dsr-ops.tar.gz') as archive:
        names = archive.getnames()
        manifest = json.load(archive.extractfile('MANIFEST.json'))
    info = manifest['collection_info']
    assert (info['namespace'], info['name'], info['version']) == ('dsr', 'ops', galaxy['version'])
    for needed in ('meta/execution-environment.yml', 'meta/runtime.yml', 'requirements.txt', 'bindep.txt', 'plugins/modules/pg_backup.py',
                   'roles/daily_ops/tasks/main.yml', 'playbooks/morning_check.yml'):
        assert needed in names, needed
    assert not [name for name in names if name.startswith(('.venv', 'tests/output', 'build/', '.git/')) or name.endswith('.pyc')]


def test_the_builder_stage_would_install_every_requirement(context, tmp_path):
    installed = tmp_path / 'collections'
    subprocess.run([str(BIN / 'ansible-galaxy'), 'collection', 'install', '-p', str(installed),
                    str(context / '_build' / 'collections' / 'dsr-ops.tar.gz')], check=True, capture_output=True, timeout=300)
    pip_out, bindep_out = tmp_path / 'requirements.txt', tmp_path / 'bindep.txt'
    subprocess.run([str(BIN / 'ansible-builder'), 'introspect', '--write-pip', str(pip_out), '--write-bindep', str(bindep_out), str(installed)],
                   check=True, capture_output=True, timeout=300)
    assert sorted(requirement_lines(pip_out)) == sorted(requirement_lines(COLLECTION / 'requirements.txt'))
    system = requirement_lines(bindep_out)
    assert 'postgresql [platform:rpm]' in system
    # the test suite's own packages stay out of the image (bindep's default profile leaves [test] out)
    assert all('test' in line.split('[', 1)[1] for line in system if line.startswith(('prometheus', 'chromium', 'kubernetes-client')))
