#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: maintenance_window
short_description: Gate a play on the DSR maintenance windows - is now inside one, how long is left, which come next
version_added: 0.3.0
description:
  - The runbook's Change Management, Maintenance Windows - weekly every Sunday 02:00-04:00, monthly on the first Sunday of the
    month 01:00-05:00, quarterly as scheduled, emergency changes outside them - as one task that a maintenance play runs first.
  - "O(mode=check) (the default) only reports: RV(in_window), the current window and RV(remaining_seconds), the next windows
    (RV(next_windows)), and the verdict RV(allowed) that O(mode=guard) would give. O(mode=guard) fails the task, and so the play,
    when RV(allowed) is false: outside every window, or inside one with less time left than O(expected_duration)."
  - An approved emergency change (O(emergency)) lets O(mode=guard) pass outside a window; the result says so
    (RV(allowed_by=emergency), RV(change_id)). An unapproved one does not.
  - "Windows are wall-clock times in O(timezone). The start and the end (the start's local time plus the duration, on the same clock)
    are turned into instants by one rule: a local time the clock shows twice, when clocks go back, is its first showing
    (C(fold=0)); a local time the clock never shows, when clocks go forward, becomes the first instant after the gap, the moment
    the clock jumps. So every instant inside a window shows a time inside the announced window: in V(Europe/Berlin) a 02:00-04:00
    window lasts one hour on the spring-forward Sunday (03:00-04:00 CEST) and three hours on the fall-back Sunday (02:00 CEST to
    04:00 CET). A window that lies wholly inside the skipped hour does not happen that day. V(Asia/Manila) has had no clock change since 1990."
  - The start of a window is inclusive and its end exclusive - at 04:00:00 a 02:00-04:00 window is over.
  - "Windows may overlap (the weekly window lies inside the monthly one on the first Sunday). They are not merged: the current
    window is the one that ends last among those containing now, and RV(next_windows) lists the occurrences that begin after now,
    in order of their start - also one that begins inside the current window, never one that has already begun."
  - Nothing is changed anywhere; the module only reads the clock (or O(now)).
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.attributes
attributes:
  check_mode:
    support: full
    details:
      - The module changes nothing, so check mode runs exactly the same - and O(mode=guard) still fails outside a window, since the
        play would be refused.
  diff_mode:
    support: none
options:
  windows:
    description:
      - The maintenance windows. Each is recurring (O(windows[].rrule)) or one-off (O(windows[].start)), with a
        O(windows[].duration).
      - "When not set, the runbook's two scheduled windows: V(weekly), C(FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0) for V(2h), and
        V(monthly), C(FREQ=MONTHLY;BYDAY=SU;BYSETPOS=1;BYHOUR=1;BYMINUTE=0) for V(4h). Setting O(windows) replaces both; list them
        again to keep them beside a quarterly one."
    type: list
    elements: dict
    suboptions:
      name:
        description: The window's name in the results and messages; unique among the windows.
        type: str
        required: true
      rrule:
        description:
          - "A recurring window: an RFC 5545 RRULE body such as V(FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0) (an C(RRULE:) prefix is
            accepted). The time of day comes from C(BYHOUR), C(BYMINUTE) and C(BYSECOND), default 00:00:00."
          - "C(FREQ) is V(DAILY), V(WEEKLY), V(MONTHLY) or V(YEARLY); V(HOURLY), V(MINUTELY) and V(SECONDLY) are refused, since this is a
            window schedule, not a cron. A V(WEEKLY), V(MONTHLY) or V(YEARLY) rule must name its day (C(BYDAY), C(BYMONTHDAY),
            C(BYYEARDAY) or C(BYWEEKNO)). For the first Sunday of the month write C(BYDAY=SU;BYSETPOS=1) - AWX schedules refuse
            C(BYDAY=1SU), though it is accepted here too."
          - "C(COUNT) and C(INTERVAL) above 1 count from a DTSTART: give one before the rule, as local time in O(timezone),
            V(DTSTART:20260104T020000 RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SU) (without C(BYHOUR), the time of day is then the
            DTSTART's). A DTSTART with C(TZID) or a trailing C(Z), or an C(UNTIL) in UTC, is refused: the zone is O(timezone).
            C(UNTIL) is local time, and a date alone (V(UNTIL=20261231)) includes its whole day. C(COUNT=0) and C(COUNT) with
            C(UNTIL) are refused."
          - Exactly one of O(windows[].rrule) and O(windows[].start).
        type: str
      start:
        description:
          - A one-off window (the quarterly maintenance, scheduled on business needs), as ISO 8601 local date and time in O(timezone)
            without an offset, for example V(2026-03-28T22:00:00).
          - Exactly one of O(windows[].rrule) and O(windows[].start).
        type: str
      duration:
        description:
          - How long the window lasts on the clock, for example V(2h), V(4h), V(90m) (or seconds). More than 0 and at most 7 days,
            and no longer than the shortest time between two occurrences of the rule, so that a window never overlaps itself.
        type: str
        required: true
      description:
        description: Free text, returned with the window (for a report's upcoming list).
        type: str
  names:
    description:
      - Only the windows of these names count - for the verdict, the current window and RV(next_windows). For example V([monthly])
        for the monthly maintenance, which needs the monthly window's four hours, not the weekly window that also falls on the
        first Sunday. Each must be the name of a window of O(windows) (or of the runbook's V(weekly) and V(monthly)); an unknown
        name is an error naming the windows there are.
      - When not set, every window counts.
    type: list
    elements: str
  timezone:
    description:
      - The IANA time zone whose clock the windows follow, for example V(Asia/Manila), V(Europe/Berlin), V(UTC). An unknown zone is an
        error.
    type: str
    default: Asia/Manila
  now:
    description:
      - The moment to judge, ISO 8601 with an offset or V(Z) (V(2026-01-10T18:30:00Z), V(2026-01-11T02:30:00+08:00)); without an offset
        it is local time in O(timezone) (the first showing, if the clock shows it twice). For tests and for planning ("would the job be
        allowed then"). Defaults to the current time.
    type: str
  mode:
    description:
      - V(check) reports and never fails on the window; RV(allowed) still says what V(guard) would decide.
      - V(guard) fails when RV(allowed) is false - outside every window without an approved O(emergency), or when the time left in the
        current window is less than O(expected_duration).
    type: str
    choices: [check, guard]
    default: check
  expected_duration:
    description:
      - How long the gated work is expected to take, for example V(45m) or V(2h). Inside a window with less time left than this,
        RV(allowed) is false ("would overrun the window's end at ..."). When unset, any time left will do.
    type: str
  emergency:
    description:
      - An emergency change (the runbook's expedited process) that lets O(mode=guard) pass outside a window or past its end.
        It only counts when O(emergency.approved=true); the result then has RV(allowed_by=emergency) and RV(change_id).
      - The runbook asks for 2 hours' notice when possible; this module does not check notice.
    type: dict
    suboptions:
      change_id:
        description: The emergency change's id, for example V(CHG-2026-0042).
        type: str
        required: true
      approved:
        description: Whether the change is approved. Must be V(true) for the override; an unapproved change is named in the refusal.
        type: bool
        default: false
      approved_by:
        description: Who approved it, for the message and the audit trail.
        type: str
  upcoming:
    description: How many next windows to return in RV(next_windows), from V(0) to V(50).
    type: int
    default: 3
requirements:
  - python-dateutil, for recurring windows (the default ones are); botocore depends on it, so it is there wherever the S3 module runs
notes:
  - Read-only; RV(ignore:changed) is always false.
  - Runs where C(ansible-playbook) runs; run it with C(run_once) or C(delegate_to=localhost) when one verdict gates a whole play.
seealso:
  - module: dsr.ops.pg_maintenance
  - name: RFC 5545 recurrence rules
    description: The RRULE grammar (section 3.3.10).
    link: https://www.rfc-editor.org/rfc/rfc5545#section-3.3.10
'''

EXAMPLES = r'''
- name: Refuse the weekly maintenance outside the runbook's windows
  dsr.ops.maintenance_window:
    mode: guard
    expected_duration: 90m
  run_once: true

- name: The runbook's windows and this quarter's one-off window, in Manila time
  dsr.ops.maintenance_window:
    mode: guard
    expected_duration: 3h
    windows:
      - {name: weekly, rrule: "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0", duration: 2h}
      - {name: monthly, rrule: "FREQ=MONTHLY;BYDAY=SU;BYSETPOS=1;BYHOUR=1;BYMINUTE=0", duration: 4h}
      - {name: quarterly-2026q2, start: "2026-06-27T22:00:00", duration: 6h, description: "Quarterly maintenance: database upgrade"}

- name: An approved emergency change passes the guard outside a window
  dsr.ops.maintenance_window:
    mode: guard
    emergency:
      change_id: CHG-2026-0042
      approved: true
      approved_by: operations-manager

- name: The next five windows, for the evening report
  dsr.ops.maintenance_window:
    upcoming: 5
  register: windows

- name: Would Saturday night's job be allowed? (planning, never fails)
  dsr.ops.maintenance_window:
    now: "2026-01-10T23:00:00+08:00"
    expected_duration: 2h
  register: plan
'''

RETURN = r'''
in_window:
  description: Whether now is inside a window (start inclusive, end exclusive).
  returned: always
  type: bool
  sample: true
window:
  description:
    - The current window - C(name), C(description), C(start) and C(end) (ISO 8601 with the offset of O(timezone)) - or null outside
      every window. Of overlapping windows, the one that ends last.
  returned: always
  type: dict
  sample: {name: weekly, description: null, start: "2026-01-11T02:00:00+08:00", end: "2026-01-11T04:00:00+08:00"}
ends_at:
  description: The end of the current window, ISO 8601 with offset; null outside every window.
  returned: always
  type: str
  sample: "2026-01-11T04:00:00+08:00"
remaining_seconds:
  description: Seconds (real elapsed time) left in the current window; null outside every window.
  returned: always
  type: float
  sample: 5400.0
next_windows:
  description:
    - Up to O(upcoming) occurrences that begin after now, in order of their start, each C(name), C(description), C(start), C(end).
      The current window is never in it.
  returned: always
  type: list
  elements: dict
  sample: [{name: weekly, description: null, start: "2026-01-18T02:00:00+08:00", end: "2026-01-18T04:00:00+08:00"},
           {name: monthly, description: null, start: "2026-02-01T01:00:00+08:00", end: "2026-02-01T05:00:00+08:00"}]
allowed:
  description: The guard's verdict - whether O(mode=guard) lets the play go on. Computed in O(mode=check) too.
  returned: always
  type: bool
  sample: true
allowed_by:
  description: What allowed it - V(window), V(emergency) (an approved O(emergency) outside a window or past its end), or null when refused.
  returned: always
  type: str
  sample: window
change_id:
  description: O(emergency.change_id) when O(emergency) is given (see RV(allowed_by) for whether it was needed), else null.
  returned: always
  type: str
  sample: CHG-2026-0042
timezone:
  description: The time zone the windows follow (O(timezone)).
  returned: always
  type: str
  sample: Asia/Manila
now:
  description: The moment judged (O(now) or the current time), ISO 8601 with the offset of O(timezone).
  returned: always
  type: str
  sample: "2026-01-11T02:30:00+08:00"
msg:
  description: The verdict in one line - the window and the time left, or why the play is refused (prefixed C(refused:) in O(mode=guard)).
  returned: always
  type: str
  sample: "inside maintenance window weekly (2026-01-11T02:00:00+08:00 to 2026-01-11T04:00:00+08:00), 1h30m left"
'''

from ansible_collections.dsr.ops.plugins.module_utils._durations import parse_duration
from ansible_collections.dsr.ops.plugins.module_utils._maintenance.window import WindowError, argument_spec, libraries, run, validate
from ansible_collections.dsr.ops.plugins.module_utils._module import DsrModule


def main():
    module = DsrModule(argument_spec(), libraries=libraries, convert={'expected_duration': parse_duration}, validate=validate)
    result = module.run(lambda: run(module.params), (WindowError,), str)
    if module.params['mode'] == 'guard' and not result['allowed']:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
