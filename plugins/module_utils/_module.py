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
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._options import nul_problems


class DsrModule(AnsibleModule):
    """AnsibleModule plus the dsr.ops preamble (see the module docstring)."""

    def __init__(self, argument_spec, libraries=(), convert=None, validate=None, secrets_from_environment=None, **kwargs):
        kwargs.setdefault('supports_check_mode', True)
        super().__init__(argument_spec=argument_spec, **kwargs)
        if secrets_from_environment is not None:
            # credentials an AWX credential put in the environment are not options, so AnsibleModule would not mask them
            self.no_log_values.update(secret for secret in secrets_from_environment(self.params) if secret)
        problems = nul_problems(self.params)
        if problems:
            self.fail_json(msg='invalid options: ' + '; '.join(problems))
        self.libraries = list(libraries(self.params) if callable(libraries) else libraries)
        for name in self.libraries:
            _deps.require(self, name)
        for option, converter in (convert or {}).items():
            if self.params.get(option) is None:
                continue
            try:
                self.params[option] = converter(self.params[option], option)
            except ValueError as exc:
                problems.append(str(exc))
        if validate is not None:
            problems.extend(validate(self.params))
        if problems:
            self.fail_json(msg='invalid options: ' + '; '.join(problems))

    def driver_errors(self):
        """The PostgreSQL driver's exceptions, when this run uses the driver."""
        if 'psycopg2' in self.libraries:
            import psycopg2  # pylint: disable=import-outside-toplevel
            return (psycopg2.Error,)
        return ()

    def run(self, call, errors, describe):
        """Return ``call()``; an exception of ``errors`` (or of the driver) fails the module.

        ``describe(exc)`` gives the failure: a message (``changed`` false), or a
        dict of fail_json keywords. A driver error's text is the server's message.
        """
        expected = tuple(errors) + self.driver_errors()
        try:
            result = call()
        except expected as exc:  # pylint: disable=catching-non-exception
            details = describe(exc)
            if not isinstance(details, dict):
                details = {'msg': details, 'changed': False}
            self.fail_json(**details)
        for warning in result.pop('warnings', None) or []:
            self.warn(warning)
        return result


def reason(exc):
    """The text of an expected error: the server's own message for a driver error."""
    text = getattr(exc, 'pgerror', None) or str(exc)
    return text.strip()
