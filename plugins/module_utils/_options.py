# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks of option values that every module needs, each returning messages that name the option and the fix."""

from __future__ import annotations


def nul_problems(params, prefix=''):
    """Messages for every string option (nested ones included) holding a NUL byte, which no C library accepts.

    The message names the option, never its value (it may be a password).
    """
    problems = []
    for key, value in sorted(params.items()):
        name = prefix + key
        if isinstance(value, str) and '\0' in value:
            problems.append('%s contains a NUL byte; remove it' % name)
        elif isinstance(value, dict):
            problems.extend(nul_problems(value, name + '.'))
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                if isinstance(item, str) and '\0' in item:
                    problems.append('%s[%d] contains a NUL byte; remove it' % (name, index))
                elif isinstance(item, dict):
                    problems.extend(nul_problems(item, '%s[%d].' % (name, index)))
    return problems


def empty_problems(params, names):
    """Messages for options in ``names`` given as an empty string (for paths: set a path or leave the option out)."""
    return ['%s is empty: give a path or leave the option out' % name for name in names if params.get(name) == '']
