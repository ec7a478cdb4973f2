# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""DsrModule: the preamble every module shares (libraries, conversion, validation, errors, warnings)."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._durations import parse_duration
from ansible_collections.dsr.ops.plugins.module_utils._module import DsrModule

SPEC = dict(name=dict(type='str'), max_age=dict(type='str'), secret=dict(type='str', no_log=True), state=dict(type='str', default='present'))


def outcome(args, capsys, call=None, errors=(), **kwargs):
    """Run a throw-away module; return its JSON result."""
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module = DsrModule(SPEC, **kwargs)
            result = module.run(call or (lambda: {'changed': False, 'warnings': ['look at this']}), errors, lambda exc: 'it failed: %s' % exc)
            module.exit_json(**result)
    return json.loads(capsys.readouterr().out)


def test_every_problem_is_named_in_one_message(capsys):
    result = outcome({'name': 'x', 'max_age': 'soonish'}, capsys, convert={'max_age': parse_duration},
                     validate=lambda params: ['name must be longer, got %r' % params['name']])
    assert result['failed'] is True and result['msg'].startswith('invalid options: ')
    assert 'max_age' in result['msg'] and 'name must be longer' in result['msg']


def test_a_nul_byte_is_refused_without_showing_a_secret(capsys):
    result = outcome({'secret': 'pass\0word'}, capsys)
    assert result['failed'] is True and 'secret contains a NUL byte' in result['msg'] and 'word' not in json.dumps(result)


def test_conversion_replaces_the_value_and_warnings_reach_ansible(capsys):
    seen = {}

    def call():
        seen.update(module_params=True)
        return {'changed': False, 'warnings': ['look at this']}
    result = outcome({'max_age': '2h'}, capsys, call=call, convert={'max_age': parse_duration},
                     validate=lambda params: [] if params['max_age'] == 7200 else ['not converted'])
    assert result.get('failed') is not True and seen
    assert 'look at this' in json.dumps(result.get('warnings'))


def test_libraries_may_depend_on_the_options(capsys, monkeypatch):
    monkeypatch.setitem(_deps._ERRORS, 'zstandard', 'Traceback: No module named zstandard')  # pylint: disable=protected-access

    def needs(params):
        return ['zstandard'] if params['state'] == 'present' else []
    assert 'zstandard' in outcome({}, capsys, libraries=needs)['msg']
    assert outcome({'state': 'pruned'}, capsys, libraries=needs).get('failed') is not True


def test_an_expected_error_is_a_message_not_a_traceback(capsys):
    def call():
        raise OSError(28, 'No space left on device', '/backups/x')
    result = outcome({}, capsys, call=call, errors=(OSError,))
    assert result['failed'] is True and result['msg'] == "it failed: [Errno 28] No space left on device: '/backups/x'"
    assert result['changed'] is False


def test_secrets_from_the_environment_are_masked_like_options(capsys):
    def from_environment(params):
        params['secret'] = 'env-secret-value'
        return ['env-secret-value']
    result = outcome({}, capsys, secrets_from_environment=from_environment,
                     call=lambda: {'changed': False, 'echo': 'got env-secret-value'})
    assert 'env-secret-value' not in json.dumps(result) and result['echo'].startswith('got ')
