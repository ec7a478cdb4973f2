# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A callback for the benchmarks: the wall time of every task of a play, written as JSON to $DSR_TASK_TIMES."""

from __future__ import annotations

DOCUMENTATION = r'''
name: task_times
type: aggregate
short_description: Wall time per task, for the benchmarks under benchmarks/
description:
  - Writes a JSON list of [task name, seconds] to the file named by the environment variable DSR_TASK_TIMES.
'''

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'task_times'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._times = []
        self._current = None

    def _close(self):
        if self._current is not None:
            name, started = self._current
            self._times.append([name, round(time.monotonic() - started, 3)])
            self._current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self._current = (task.get_name(), time.monotonic())

    def v2_playbook_on_stats(self, stats):
        self._close()
        path = os.environ.get('DSR_TASK_TIMES')
        if path:
            with open(path, 'w', encoding='utf-8') as handle:
                json.dump(self._times, handle)
