# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reading a process's figures from /proc, shared by the benchmark scripts."""

from __future__ import annotations

import os
import threading
import time
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


def _stat_fields(pid):
    """Fields of /proc/<pid>/stat after the command name (index 0 is the state)."""
    return Path('/proc/%d/stat' % pid).read_text().rsplit(')', 1)[1].split()


def _server_cpu_once(postmaster_pid):
    ticks = os.sysconf('SC_CLK_TCK')
    fields = _stat_fields(postmaster_pid)
    total = sum(int(value) for value in fields[11:15])
    for child in children(postmaster_pid):
        try:
            fields = _stat_fields(child)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def server_cpu_seconds(postmaster_pid, settle=0.2, attempts=25):
    """CPU seconds used so far by a PostgreSQL server: the postmaster, the backends it has
    reaped (its cutime/cstime), and its live children (backends, parallel workers, WAL writer...).

    A backend that exits between reading the postmaster and listing its children is in
    neither (right after a restore, that is a whole job's CPU), so the sum is read until two
    readings ``settle`` seconds apart agree.
    """
    previous = None
    for dummy in range(attempts):
        current = _server_cpu_once(postmaster_pid)
        if current == previous:
            break
        previous = current
        time.sleep(settle)
    return current


def children(pid):
    """Direct children of ``pid``, from /proc."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry))[1])
        except OSError:
            continue
        if parent == pid:
            found.append(int(entry))
    return found


def descendants(pid):
    """The children of ``pid``, theirs and so on (each once), from /proc."""
    frontier, seen = children(pid), set()
    while frontier:
        child = frontier.pop()
        if child not in seen:
            seen.add(child)
            yield child
            frontier.extend(children(child))


class Sampler:
    """Calls ``sample()`` every ``interval`` seconds in a thread, from ``with`` to its end (and once more at the end)."""

    def __init__(self, pid, interval):
        self.pid = pid
        self.interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self):
        """One reading (a subclass keeps the peaks)."""
        raise NotImplementedError

    def _loop(self):
        while not self._done.is_set():
            self.sample()
            self._done.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()


class PeakSampler(Sampler):
    """Samples the peak RSS of a process (and, optionally, of all its descendants) in a thread.

    ``with PeakSampler(pid) as peaks:`` ... then ``peaks.self_kb`` and ``peaks.children_kb``.
    """

    def __init__(self, pid, interval=0.02, descendants=False):
        super().__init__(pid, interval)
        self.descendants = descendants
        self.self_kb = 0
        self.children_kb = 0

    def sample(self):
        self.self_kb = max(self.self_kb, vmhwm_kb(self.pid))
        if self.descendants:
            for child in descendants(self.pid):
                self.children_kb = max(self.children_kb, vmhwm_kb(child))


def memory_kb(pid):
    """(PSS, RSS) of ``pid`` in KiB, zeros once it is gone.

    PSS (proportional set size) shares each page among the processes mapping it, so the sum
    over a tree of forks counts the controller's pages once; the RSS sum counts them in
    every fork. PSS falls back to RSS where smaps_rollup is not readable.
    """
    rss = pss = 0
    try:
        for line in Path('/proc/%d/status' % pid).read_text().splitlines():
            if line.startswith('VmRSS:'):
                rss = int(line.split()[1])
        pss = rss
        for line in Path('/proc/%d/smaps_rollup' % pid).read_text().splitlines():
            if line.startswith('Pss:'):
                pss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


class TreeSampler(Sampler):
    """Samples the summed PSS of a process and all its descendants, and the largest RSS of them."""

    def __init__(self, pid, interval=0.05):
        super().__init__(pid, interval)
        self.total_kb = 0
        self.largest_kb = 0

    def sample(self):
        total = 0
        for pid in [self.pid, *descendants(self.pid)]:
            pss, rss = memory_kb(pid)
            total += pss
            self.largest_kb = max(self.largest_kb, rss)
        self.total_kb = max(self.total_kb, total)
