# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reading a process's figures from /proc, shared by the benchmark scripts."""

from __future__ import annotations

from pathlib import Path


def vmhwm_kb(pid):
    """Peak resident set size (VmHWM) of ``pid`` in KiB, 0 once it is gone."""
    try:
        for line in Path('/proc/%d/status' % pid).read_text().splitlines():
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
