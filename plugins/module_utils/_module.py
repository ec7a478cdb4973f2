# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""DsrModule: what every dsr.ops module does before and around its backend, in one place.

amazon.aws's AnsibleAWSModule is the model. A module states its argument spec,
the libraries its run needs (which may depend on the options: retention alone
never connects, so it needs no driver), how options are converted (durations,
sizes: a ValueError becomes a message naming the option) and validated, and
which backend errors are expected. DsrModule then

* fills credentials from the environment (``secrets_from_environment``) and
  masks them like ``no_log`` options;
* refuses NUL bytes in any option (no C library accepts them) and reports every
  conversion and validation problem in one ``invalid options: ...`` message;
* fails with install advice for a missing library, before anything runs;
* runs the backend and turns an expected error into ``fail_json`` with a safe
  message, never a traceback; PostgreSQL driver errors are expected whenever
  psycopg2 is in use;
* passes the backend's ``warnings`` on to Ansible.

A check module (pg_health, k8s_health, cert_expiry...) states all of that once, as a
``Check``: its ``main()`` is ``run_module(CHECK)``, and ``run_in_process(CHECK, params)``
runs the very same validation, preamble and work without AnsibleModule, which is how
dsr.ops.ops_checks runs the checks of many environments in one Python process (a module
task costs a Python start-up and its module_utils compiled from source, per host and task).
"""

from __future__ import annotations

import collections
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._options import nul_problems

Preamble = collections.namedtuple('Preamble', 'secrets libraries failure')


class ModuleFailure(Exception):
    """The module fails: ``details`` are the fail_json keywords (``msg`` among them)."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.details = dict(details, msg=msg)


def preamble(params, libraries=(), convert=None, validate=None, secrets_from_environment=None):
    """The dsr.ops preamble on options AnsibleModule has validated; ``params`` is converted in place.

    Returns the secrets taken from the environment, the libraries the run uses, and the
    failure (fail_json keywords) or None.
    """
    secrets = set()
    if secrets_from_environment is not None:
        # credentials an AWX credential put in the environment are not options, so AnsibleModule would not mask them
        secrets.update(secret for secret in secrets_from_environment(params) if secret)
    problems = nul_problems(params)
    if problems:
        return Preamble(secrets, [], {'msg': 'invalid options: ' + '; '.join(problems)})
    names = list(libraries(params) if callable(libraries) else libraries)
    for name in names:
        failure = _deps.missing(name)
        if failure is not None:
            return Preamble(secrets, names, failure)
    for option, converter in (convert or {}).items():
        if params.get(option) is None:
            continue
        try:
            params[option] = converter(params[option], option)
        except ValueError as exc:
            problems.append(str(exc))
    if validate is not None:
        problems.extend(validate(params))
    if problems:
        return Preamble(secrets, names, {'msg': 'invalid options: ' + '; '.join(problems)})
    return Preamble(secrets, names, None)


class DsrModule(AnsibleModule):
    """AnsibleModule plus the dsr.ops preamble (see the module docstring)."""

    def __init__(self, argument_spec, libraries=(), convert=None, validate=None, secrets_from_environment=None, **kwargs):
        kwargs.setdefault('supports_check_mode', True)
        super().__init__(argument_spec=argument_spec, **kwargs)
        secrets, self.libraries, failure = preamble(self.params, libraries, convert, validate, secrets_from_environment)
        self.no_log_values.update(secrets)
        if failure is not None:
            self.fail_json(**failure)

    def driver_errors(self):
        """The PostgreSQL driver's exceptions, when this run uses the driver."""
        return driver_errors(self.libraries)

    def run(self, call, errors, describe):
        """Return ``call()``; an exception of ``errors`` (or of the driver) fails the module.

        ``describe(exc)`` gives the failure: a message (``changed`` false), or a
        dict of fail_json keywords. A driver error's text is the server's message.
        """
        try:
            result = expect(call, errors, describe, self.libraries)
        except ModuleFailure as exc:
            self.fail_json(**exc.details)
        for warning in result.pop('warnings', None) or []:
            self.warn(warning)
        return result


def driver_errors(libraries):
    """The PostgreSQL driver's exceptions, when a run uses the driver."""
    if 'psycopg2' in libraries:
        import psycopg2  # pylint: disable=import-outside-toplevel
        return (psycopg2.Error,)
    return ()


def expect(call, errors, describe, libraries=()):
    """Return ``call()``; an exception of ``errors`` (or of the driver) becomes a ModuleFailure.

    ``describe(exc)`` gives the failure: a message (``changed`` false), or a dict of fail_json keywords.
    """
    expected = tuple(errors) + driver_errors(libraries)
    try:
        return call()
    except expected as exc:  # pylint: disable=catching-non-exception
        details = describe(exc)
        if not isinstance(details, dict):
            details = {'msg': details, 'changed': False}
        raise ModuleFailure(**details) from None


def reason(exc):
    """The text of an expected error: the server's own message for a driver error."""
    text = getattr(exc, 'pgerror', None) or str(exc)
    return text.strip()


class Check:
    """A check module's options and work, for its own module and for dsr.ops.ops_checks.

    ``run(params, check_mode, libraries)`` returns the module's result (``changed``
    included, ``warnings`` a list of strings) or raises ModuleFailure; ``gate(result,
    params)`` returns the failure message for the module's fail_on, or None.
    ``spec_kwargs`` are AnsibleModule's mutually_exclusive, required_one_of...
    """

    def __init__(self, name, argument_spec, run, gate, libraries=(), convert=None, validate=None, secrets_from_environment=None,
                 **spec_kwargs):
        self.name = name
        self.argument_spec = argument_spec
        self.run = run
        self.gate = gate
        self.libraries = libraries
        self.convert = convert
        self.validate = validate
        self.secrets_from_environment = secrets_from_environment
        self.spec_kwargs = spec_kwargs


def run_module(check):
    """The whole ``main()`` of a check module."""
    module = DsrModule(check.argument_spec(), libraries=check.libraries, convert=check.convert, validate=check.validate,
                       secrets_from_environment=check.secrets_from_environment, **check.spec_kwargs)
    try:
        result = check.run(module.params, module.check_mode, module.libraries)
    except ModuleFailure as exc:
        module.fail_json(**exc.details)
    for warning in result.pop('warnings', None) or []:
        module.warn(warning)
    failure = check.gate(result, module.params)
    if failure:
        module.fail_json(msg=failure, **result)
    module.exit_json(**result)


def run_in_process(check, params, check_mode=False):
    """Run ``check`` on ``params`` as its module would, without AnsibleModule: ``(result, secrets)``.

    The result is what the module task would register (``failed``, ``msg``, ``warnings``);
    an option set to None counts as not given, as ``omit`` would. ``secrets`` are the
    values to mask in any output: the no_log options' and the environment's credentials.
    The gate is the caller's: ``failed`` means the check could not run or its gate failed.
    """
    params = {key: value for key, value in (params or {}).items() if value is not None}
    validated = ArgumentSpecValidator(check.argument_spec(), **check.spec_kwargs).validate(params)
    secrets = set(validated._no_log_values)  # pylint: disable=protected-access
    if validated.error_messages:
        msg = validated.errors.msg
        if isinstance(validated.errors.errors[0], UnsupportedError):
            msg = 'Unsupported parameters for (dsr.ops.%s) module: %s' % (check.name, msg)
        return {'failed': True, 'changed': False, 'msg': msg}, secrets
    params = validated.validated_parameters
    warnings = ['Both option %s and its alias %s are set.' % (item['option'], item['alias'])
                for item in validated._warnings]  # pylint: disable=protected-access
    try:
        prepared = preamble(params, check.libraries, check.convert, check.validate, check.secrets_from_environment)
        secrets.update(prepared.secrets)
        if prepared.failure is not None:
            return dict(prepared.failure, failed=True, changed=False), secrets
        result = check.run(params, check_mode, prepared.libraries)
    except ModuleFailure as exc:
        return dict({'changed': False}, **dict(exc.details, failed=True)), secrets
    except Exception as exc:  # pylint: disable=broad-except
        # a bug: the module would have failed with its traceback; this run goes on with the other checks
        return {'failed': True, 'changed': False, 'msg': 'dsr.ops.%s failed: %s: %s' % (check.name, type(exc).__name__, exc),
                'exception': traceback.format_exc()}, secrets
    result['warnings'] = warnings + list(result.get('warnings') or [])
    failure = check.gate(result, params)
    result['failed'] = bool(failure)
    if failure:
        result['msg'] = failure
    return result, secrets
