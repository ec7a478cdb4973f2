# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The status vocabulary every dsr.ops check module speaks.

``ok``, ``warning`` and ``critical`` are verdicts on figures that were read.
``unknown`` means the check could not look (server unreachable, query failed):
it is never a pass, and gating treats it as failing by default.
``skipped`` marks one sub-check that could not run (missing privilege, feature
absent) and always carries the reason.
"""

from __future__ import annotations

import math

OK = 'ok'
WARNING = 'warning'
CRITICAL = 'critical'
UNKNOWN = 'unknown'
SKIPPED = 'skipped'

STATUSES = (OK, WARNING, CRITICAL, UNKNOWN, SKIPPED)

# Order used to pick the overall status: the worst one wins. ``unknown`` ranks
# above ``warning`` and ``critical`` ranks highest, so an unreachable server
# that is reported ``critical`` is never masked by an ``unknown`` sub-check.
_SEVERITY = {SKIPPED: 0, OK: 1, WARNING: 2, UNKNOWN: 3, CRITICAL: 4}

FAIL_ON_CHOICES = ('critical', 'warning', 'never')

# What each fail_on level fails on. ``unknown`` fails unless the user says never.
_FAILING = {
    'critical': frozenset((CRITICAL, UNKNOWN)),
    'warning': frozenset((WARNING, CRITICAL, UNKNOWN)),
    'never': frozenset(),
}

COMPARISONS = ('gt', 'ge', 'lt', 'le')


class ThresholdError(ValueError):
    """Raised when a warning/critical pair makes no sense for its comparison."""


def worst(statuses):
    """Return the most severe status of an iterable.

    ``skipped`` entries only decide the result when nothing else ran, and then
    the result is ``unknown``: a check made only of skipped parts did not look.
    """
    statuses = [s for s in statuses if s is not None]
    ran = [s for s in statuses if s != SKIPPED]
    if not ran:
        return UNKNOWN
    return max(ran, key=lambda s: _SEVERITY[s])


def should_fail(status, fail_on='critical'):
    """Return True when ``status`` must fail the task under ``fail_on``."""
    try:
        return status in _FAILING[fail_on]
    except KeyError:
        raise ValueError('fail_on must be one of %s, got %r' % (', '.join(FAIL_ON_CHOICES), fail_on))


def _crosses(value, limit, comparison):
    if comparison == 'gt':
        return value > limit
    if comparison == 'ge':
        return value >= limit
    if comparison == 'lt':
        return value < limit
    if comparison == 'le':
        return value <= limit
    raise ThresholdError('comparison must be one of %s, got %r' % (', '.join(COMPARISONS), comparison))


def validate_thresholds(name, warning, critical, comparison='gt'):
    """Check that a warning/critical pair is ordered for its comparison.

    For ``gt``/``ge`` the critical limit must not be below the warning limit;
    for ``lt``/``le`` it must not be above it. Either may be None (disabled).
    """
    if comparison not in COMPARISONS:
        raise ThresholdError('%s: comparison must be one of %s, got %r' % (name, ', '.join(COMPARISONS), comparison))
    for label, limit in (('warning', warning), ('critical', critical)):
        # NaN compares false with everything: a NaN threshold would never fire and the check would always say ok
        if limit is not None and not math.isfinite(limit):
            raise ThresholdError('%s: the %s threshold must be a finite number, got %s; leave it out to disable it' % (name, label, limit))
    if warning is None or critical is None:
        return
    if comparison in ('gt', 'ge') and critical < warning:
        raise ThresholdError('%s: the critical threshold (%s) must not be lower than the warning threshold (%s)' % (name, critical, warning))
    if comparison in ('lt', 'le') and critical > warning:
        raise ThresholdError('%s: the critical threshold (%s) must not be higher than the warning threshold (%s) '
                             'for a lower-is-worse figure' % (name, critical, warning))


def evaluate(value, warning=None, critical=None, comparison='gt'):
    """Return the status of one figure against its thresholds.

    ``None`` or NaN as value means the figure could not be read: ``unknown``.
    A threshold set to None is disabled.
    """
    if value is None:
        return UNKNOWN
    if isinstance(value, float) and math.isnan(value):
        return UNKNOWN
    if critical is not None and _crosses(value, critical, comparison):
        return CRITICAL
    if warning is not None and _crosses(value, warning, comparison):
        return WARNING
    return OK


class Check:
    """The result of one sub-check: a status, a human reason and its figures."""

    def __init__(self, name, status=OK, msg='', **figures):
        if status not in STATUSES:
            raise ValueError('unknown status %r' % (status,))
        self.name = name
        self.status = status
        self.msg = msg
        self.figures = figures

    @classmethod
    def skipped(cls, name, reason, **figures):
        """A sub-check that could not run, with the reason why."""
        return cls(name, SKIPPED, reason, **figures)

    @classmethod
    def unknown(cls, name, reason, **figures):
        """A sub-check that tried to look and could not."""
        return cls(name, UNKNOWN, reason, **figures)

    def as_dict(self):
        """Plain data for exit_json: status, msg and the figures."""
        result = {'status': self.status, 'msg': self.msg}
        result.update(self.figures)
        return result


def summarize(checks):
    """Return (overall status, one-line summary) for a list of Check objects."""
    overall = worst(c.status for c in checks)
    notable = ['%s=%s' % (c.name, c.status) for c in checks if c.status != OK]
    if notable:
        summary = '%s: %s' % (overall, ', '.join(notable))
    else:
        summary = '%s: all %d checks ok' % (overall, len(checks))
    return overall, summary


def gate(result, fail_on, subject, checks=None):
    """Gate a check module's result on ``fail_on``.

    Adds ``failed_checks`` (the sub-checks whose status fails, in their order)
    and returns the failure message, ``<subject> <summary> (<name>: <reason>; ...)``,
    or None when the overall status passes. ``subject`` carries its verb:
    ``'PostgreSQL health is'``, ``'metrics are'``. ``checks`` is an iterable of
    ``(name, check dict)``; by default the items of ``result['checks']``.
    """
    checks = result['checks'].items() if checks is None else checks
    failing = [(name, check) for name, check in checks if should_fail(check['status'], fail_on)]
    result['failed_checks'] = [name for name, dummy in failing]
    if not should_fail(result['status'], fail_on):
        return None
    reasons = ['%s: %s' % (name, check['msg']) for name, check in failing]
    return '%s %s (%s)' % (subject, result['summary'], '; '.join(reasons))
