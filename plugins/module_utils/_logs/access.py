# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Access-log report: one streaming pass over nginx access logs, on every core.

The runbook's ``awk '{print $1}' access.log | sort | uniq -c | sort -nr | head`` and its
authentication-failure grep, as figures a playbook can gate on: requests per client IP,
status classes and codes, failed logins per IP, and each IP's peak requests in one minute,
inside a time window.

How it stays fast in Python (measurements in docs/security.md):

* A chunk (4 MiB of whole lines) is read by one ``findall`` of the format's regex
  (formats.py): no Python statement runs per line. Counting is done by C code too:
  ``Counter.update`` over ``map(itemgetter(...), rows)``, ``itertools.groupby`` over runs of
  rows of the same minute (lines are in time order, give or take a second), ``compress``.
* Files are cut into byte ranges at line boundaries and the ranges parsed by forked worker
  processes; a gzip'd file is decompressed by the parent (python-isal when installed) and its
  chunks handed to the workers.

Memory is bounded by the number of distinct client IPs, plus the (IP, minute) pairs of the
minutes still open: a minute is folded into each IP's peak once the log has moved
``GRACE_SECONDS`` past it. Lines that come back to an already folded minute (a log more out
of order than that, or overlapping files) make the peaks a lower bound: ``peak_exact`` says so.
The first and last minutes of every range are kept whole and folded after all ranges are
merged, so a range or file boundary never splits a minute.

A chunk whose minutes all lie inside the window takes this fast path. A chunk that straddles
the window's start or end, holds an invalid time or status, or where the fast regex read two
lines as one, is read again with the strict regex and the seconds, row by row.
"""

from __future__ import annotations

import heapq
import os
import select
import signal
import sys
import time
import traceback
from collections import Counter
from itertools import compress, groupby
from operator import countOf, itemgetter, not_

from ansible_collections.dsr.ops.plugins.module_utils import _times
from ansible_collections.dsr.ops.plugins.module_utils._logs import readers
from ansible_collections.dsr.ops.plugins.module_utils._logs.errors import LogReadError, LogWorkerError

GRACE_SECONDS = 120
SAMPLE_LIMIT = 5
SAMPLE_CHARS = 200
# below this much input a single process is faster than starting workers
PARALLEL_MIN_BYTES = 24 << 20
# a gzip'd file is handed to the workers in segments of this many decompressed bytes
GZIP_SEGMENT_BYTES = 16 << 20
# plain files are cut into ranges of at least this size
RANGE_MIN_BYTES = 32 << 20
MAX_WORKERS = 8

INSIDE, OUTSIDE, EDGE, INVALID = 'inside', 'outside', 'edge', 'invalid'
_ONE_LT = (1).__lt__
_NO_MINUTE = (b'', b'')


class Window:
    """A time window [start, end) in epoch seconds; None leaves a side open."""

    def __init__(self, start=None, end=None):
        self.start = start
        self.end = end

    @property
    def bounded(self):
        """Whether the window excludes anything."""
        return self.start is not None or self.end is not None

    def contains(self, epoch):
        """Whether a second is inside."""
        return (self.start is None or epoch >= self.start) and (self.end is None or epoch < self.end)

    def minute(self, epoch):
        """INSIDE, OUTSIDE or EDGE for the minute starting at ``epoch`` (INVALID for None)."""
        if epoch is None:
            return INVALID
        if (self.start is None or epoch >= self.start) and (self.end is None or epoch + 60 <= self.end):
            return INSIDE
        if (self.end is not None and epoch >= self.end) or (self.start is not None and epoch + 60 <= self.start):
            return OUTSIDE
        return EDGE


class Scanner:
    """Counts the rows of chunks fed to it; ``result()`` gives plain, picklable data to ``merge``."""

    def __init__(self, fmt, window):
        self.fmt = fmt
        self.window = window
        index = fmt.index
        self._client = itemgetter(index['client'])
        self._status = itemgetter(index['status'])
        self._login = itemgetter(index['login'])
        self._client_status = itemgetter(index['client'], index['status'])
        self._minute_key = itemgetter(index['minute'], index['tz'])
        self._minute = itemgetter(index['minute'])
        self._tz = itemgetter(index['tz'])
        self._bad = itemgetter(index['bad'])
        # slow path rows (``seconds`` layout) -> fast layout
        layout = sorted(index, key=index.get)
        seconds = fmt.seconds_index
        self._to_fast = itemgetter(*(seconds[name] for name in layout))
        self.clients = Counter()
        self.statuses = Counter()
        self.logins = Counter()
        self.peaks = {}
        self.opened = {}
        self.edges = {}
        self.folded = set()
        self.seen = set()
        self.late_lines = 0
        self.sources = {}
        self.samples = []
        self._epochs = {}
        self._classes = {}
        self._segment_first = None
        self._newest = None
        self.min_epoch = None
        self.max_epoch = None

    # -- feeding ---------------------------------------------------------------------------------

    def source_stats(self, source):
        """The counters of one source (a file number): lines, malformed, outside the window."""
        stats = self.sources.get(source)
        if stats is None:
            stats = self.sources[source] = {'lines': 0, 'malformed': 0, 'outside_window': 0}
        return stats

    def feed(self, chunk, source):
        """Count a chunk of whole lines (bytes ending with a newline) of ``source``."""
        fmt = self.fmt
        stats = self.source_stats(source)
        lines = chunk.count(b'\n')
        stats['lines'] += lines
        if fmt.is_json:
            self._feed_rows(fmt.parse_json(chunk), stats, source)
            return
        rows = fmt.fast.findall(chunk)
        if len(rows) != lines:
            rows = fmt.strict.findall(chunk)
        statuses = Counter(map(self._status, rows))
        malformed = statuses.pop(b'', 0)
        per_minute = None
        if fmt.has_time:
            per_minute = {}
            client = self._client
            for minute, run in groupby(rows, self._minute):
                counter = per_minute.get(minute)
                if counter is None:
                    per_minute[minute] = Counter(map(client, run))
                else:
                    counter.update(map(client, run))
            per_minute.pop(b'', None)
            # one offset for the whole chunk (a change of offset, daylight saving time, is told apart row by row)
            zone = self._zone_of(rows)
            if countOf(map(self._tz, rows), zone) != len(rows) - malformed:
                self._slow(chunk, stats, source)
                return
            per_minute = {(minute, zone): counter for minute, counter in per_minute.items()}
            classes = self._classes
            for key in per_minute:
                if classes.get(key) is not INSIDE and self._classify(key) is not INSIDE:
                    self._slow(chunk, stats, source)
                    return
        self._commit(rows, statuses, malformed, per_minute, stats, source)

    def _zone_of(self, rows):
        """The offset of the first well-formed row."""
        for row in rows:
            if self._client(row):
                return self._tz(row)
        return b''

    def _classify(self, key):
        cls = self._classes.get(key)
        if cls is None:
            epoch = self.fmt.minute_epoch(key[0], key[1])
            self._epochs[key] = epoch
            cls = self._classes[key] = self.window.minute(epoch)
        return cls

    def _commit(self, rows, statuses, malformed, per_minute, stats, source):
        """Add counted rows (valid ones are all inside the window) to the totals."""
        if malformed:
            stats['malformed'] += malformed
            if len(self.samples) < SAMPLE_LIMIT:
                for row in compress(rows, map(not_, map(self._client, rows))):
                    self._sample(source, self._bad(row))
                    if len(self.samples) >= SAMPLE_LIMIT:
                        break
        for status, count in statuses.items():
            self.statuses[status] += count
        if self.fmt.login_mode:
            attempts = compress(rows, map(self._login, rows))
            if self.fmt.login_mode == 'regex':
                is_login = self.fmt.is_login
                attempts = [row for row in attempts if is_login(self._login(row))]
            self.logins.update(map(self._client_status, attempts))
        self.clients.update(map(self._client, rows))
        if per_minute:
            self._merge_minutes(per_minute)

    def _slow(self, chunk, stats, source):
        """Read a chunk again with the strict regex and the seconds, row by row."""
        self._feed_rows(self.fmt.seconds.findall(chunk), stats, source)

    def _feed_rows(self, rows, stats, source):
        """Rows in the ``seconds`` layout: drop malformed ones and the ones outside the window, count the others."""
        fmt = self.fmt
        index = fmt.seconds_index
        client_at, minute_at, second_at, tz_at, status_at, bad_at = (index[n] for n in ('client', 'minute', 'second', 'tz', 'status', 'bad'))
        window = self.window
        bounded = window.bounded
        has_time = fmt.has_time
        epochs = self._epochs
        kept = []
        malformed = 0
        outside = 0
        for row in rows:
            if not row[client_at] or not fmt.valid_status(row[status_at]):
                malformed += 1
                self._sample(source, row[bad_at])
                continue
            if has_time:
                key = (row[minute_at], row[tz_at])
                if key not in epochs:
                    self._classify(key)
                epoch = epochs[key]
                if epoch is None:
                    malformed += 1
                    self._sample(source, b'(no such time: ' + b' '.join(key) + b') ' + row[client_at])
                    continue
                if bounded and not window.contains(epoch + int(row[second_at])):
                    outside += 1
                    continue
            kept.append(self._to_fast(row))
        stats['outside_window'] += outside
        statuses = Counter(map(self._status, kept))
        per_minute = None
        if fmt.has_time:
            per_minute = {}
            for key, run in groupby(kept, self._minute_key):
                counter = per_minute.get(key)
                if counter is None:
                    per_minute[key] = Counter(map(self._client, run))
                else:
                    counter.update(map(self._client, run))
        stats['malformed'] += malformed
        self._commit(kept, statuses, 0, per_minute, stats, source)

    def _sample(self, source, text):
        if len(self.samples) < SAMPLE_LIMIT:
            self.samples.append((source, text[:SAMPLE_CHARS], len(text) > SAMPLE_CHARS))

    # -- minutes and peaks -----------------------------------------------------------------------

    def begin_segment(self):
        """A contiguous run of lines starts (a byte range, a gzip'd file's segment)."""
        self._segment_first = None
        self._newest = None

    def _merge_minutes(self, per_minute):
        """Add a chunk's counts per (minute, offset) to the open minutes, keyed by epoch (one real minute whatever its offset)."""
        epochs = self._epochs
        opened = self.opened
        folded = self.folded
        newest = self._newest
        first = None
        for key, counter in per_minute.items():
            epoch = epochs[key]
            if first is None or epoch < first:
                first = epoch
            if newest is None or epoch > newest:
                newest = epoch
            if epoch in folded:
                # the log came back to a minute already folded: that minute's peak can only be a lower bound
                self.late_lines += sum(counter.values())
            self.seen.add(epoch)
            existing = opened.get(epoch)
            if existing is None:
                opened[epoch] = counter
            else:
                existing.update(counter)
        if first is not None:
            if self._segment_first is None:
                self._segment_first = first
            self.min_epoch = first if self.min_epoch is None else min(self.min_epoch, first)
            self.max_epoch = newest if self.max_epoch is None else max(self.max_epoch, newest)
        self._newest = newest
        if newest is None:
            return
        # fold what the log has moved past, but keep the segment's first minutes whole for the merge
        horizon = newest - GRACE_SECONDS
        head = self._segment_first + GRACE_SECONDS
        for epoch in [e for e in opened if head <= e < horizon]:
            self.fold(opened.pop(epoch), self.peaks)
            folded.add(epoch)

    @staticmethod
    def fold(counter, peaks):
        """Fold one minute's counts per IP into the peaks (IPs seen at most once that minute change nothing)."""
        get = peaks.get
        for client, count in compress(counter.items(), map(_ONE_LT, counter.values())):
            if count > get(client, 1):
                peaks[client] = count

    def end_segment(self):
        """The run of lines ended: its open minutes become edges, folded once every segment is merged."""
        for key, counter in self.opened.items():
            existing = self.edges.get(key)
            if existing is None:
                self.edges[key] = counter
            else:
                existing.update(counter)
        self.opened = {}
        self._segment_first = None
        self._newest = None

    def result(self):
        """Plain data for ``merge`` (and the pipe between processes)."""
        self.end_segment()
        self.clients.pop(b'', None)
        return {
            'clients': self.clients, 'statuses': self.statuses, 'logins': self.logins, 'peaks': self.peaks,
            'edges': self.edges, 'folded': self.folded, 'seen': self.seen, 'late_lines': self.late_lines,
            'sources': self.sources, 'samples': self.samples,
            'min_epoch': self.min_epoch, 'max_epoch': self.max_epoch,
        }


def merge(results):
    """Combine ``Scanner.result()`` dicts into one, folding the minutes left open at range edges."""
    total = {
        'clients': Counter(), 'statuses': Counter(), 'logins': Counter(), 'peaks': {}, 'late_lines': 0,
        'sources': {}, 'samples': [], 'min_epoch': None, 'max_epoch': None, 'peak_exact': True,
    }
    edges = {}
    for result in results:
        for name in ('clients', 'statuses', 'logins'):
            if total[name]:
                total[name].update(result[name])
            else:
                total[name] = result[name]
        peaks = total['peaks']
        for client, count in result['peaks'].items():
            if count > peaks.get(client, 1):
                peaks[client] = count
        for key, counter in result['edges'].items():
            existing = edges.get(key)
            if existing is None:
                edges[key] = counter
            else:
                existing.update(counter)
        total['late_lines'] += result['late_lines']
        for source, stats in result['sources'].items():
            merged = total['sources'].setdefault(source, {'lines': 0, 'malformed': 0, 'outside_window': 0})
            for name, value in stats.items():
                merged[name] += value
        total['samples'].extend(result['samples'])
        for name, pick in (('min_epoch', min), ('max_epoch', max)):
            if result[name] is not None:
                total[name] = result[name] if total[name] is None else pick(total[name], result[name])
    for counter in edges.values():
        Scanner.fold(counter, total['peaks'])
    # a minute folded by one process and seen by another was split: its peak is a lower bound
    for position, result in enumerate(results):
        others = set()
        for other_position, other in enumerate(results):
            if other_position != position:
                others |= other['seen']
        if result['folded'] & others:
            total['late_lines'] += 1
    total['peak_exact'] = total['late_lines'] == 0
    total['samples'] = sorted(total['samples'], key=lambda s: s[0])[:SAMPLE_LIMIT]
    return total


# -- running: in this process or in forked workers ---------------------------------------------------

def available_cpus():
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class Task:
    """One file's work: a plain file's byte range, or a whole gzip'd file."""

    def __init__(self, source, path, compressed, start=0, end=None):
        self.source = source
        self.path = path
        self.compressed = compressed
        self.start = start
        self.end = end


def _scan_task(scanner, task, errors):
    """Feed one task to a scanner; return None or the error message."""
    scanner.begin_segment()
    try:
        if task.compressed:
            for chunk in readers.gzip_chunks(task.path):
                scanner.feed(chunk, task.source)
        else:
            for chunk in readers.plain_range(task.path, task.start, task.end):
                scanner.feed(chunk, task.source)
    except errors as exc:
        return readers.describe_error(task.path, exc)
    finally:
        scanner.end_segment()
    return None


def _split(data, size):
    """Cut a buffer of whole lines into chunks of about ``size`` bytes at newlines."""
    start = 0
    length = len(data)
    while start < length:
        end = data.find(b'\n', min(start + size, length) - 1)
        end = length if end < 0 else end + 1
        yield data[start:end]
        start = end


def _send(fd, payload):
    """Write a length-prefixed message to a pipe."""
    data = len(payload).to_bytes(8, 'little') + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _receive(fd):
    """Read a length-prefixed message from a pipe; None at end of file."""
    header = _read_exactly(fd, 8)
    if header is None:
        return None
    data = _read_exactly(fd, int.from_bytes(header, 'little'))
    if data is None:
        raise EOFError('message cut short')
    return data


def _read_exactly(fd, size):
    parts = []
    left = size
    while left:
        part = os.read(fd, min(left, 1 << 20))
        if not part:
            if left == size:
                return None
            raise EOFError('message cut short')
        parts.append(part)
        left -= len(part)
    return b''.join(parts)


def _worker(make_scanner, commands, answers):
    """A worker process's loop: tasks in, ``done`` out, the scanner's result at the end."""
    import pickle  # pylint: disable=import-outside-toplevel
    scanner = make_scanner()
    errors = readers.read_errors()
    while True:
        message = _receive(commands)
        if message is None:
            return
        kind, source, payload = pickle.loads(message)
        if kind == 'task':
            error = _scan_task(scanner, payload, errors)
            _send(answers, pickle.dumps(('done', source, error), protocol=pickle.HIGHEST_PROTOCOL))
        elif kind == 'data':
            scanner.begin_segment()
            for chunk in _split(payload, readers.CHUNK_BYTES):
                scanner.feed(chunk, source)
            scanner.end_segment()
            _send(answers, pickle.dumps(('done', source, None), protocol=pickle.HIGHEST_PROTOCOL))
        else:
            _send(answers, pickle.dumps(('result', None, scanner.result()), protocol=pickle.HIGHEST_PROTOCOL))
            return


class Workers:
    """Forked worker processes fed through pipes (no multiprocessing: a module runs from a zip)."""

    def __init__(self, count, make_scanner):
        import pickle  # pylint: disable=import-outside-toplevel
        self.pickle = pickle
        self.procs = []
        parent = os.getpid()
        for dummy in range(count):
            command_read, command_write = os.pipe()
            answer_read, answer_write = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child
                code = 0
                try:
                    os.close(command_write)
                    os.close(answer_read)
                    for other in self.procs:
                        os.close(other['commands'])
                        os.close(other['answers'])
                    signal.signal(signal.SIGINT, signal.SIG_DFL)
                    _worker(make_scanner, command_read, answer_write)
                except BaseException:  # pylint: disable=broad-except
                    # the parent reports the worker's death; its traceback goes to stderr for the record
                    if os.getppid() == parent:
                        traceback.print_exc(file=sys.stderr)
                    code = 1
                finally:
                    os._exit(code)  # pylint: disable=protected-access
            os.close(command_read)
            os.close(answer_write)
            self.procs.append({'pid': pid, 'commands': command_write, 'answers': answer_read, 'busy': False})
        self.errors = {}

    def _collect(self, block):
        """Read the answers that are there (waiting for one when ``block``); return the free workers."""
        busy = [p for p in self.procs if p['busy']]
        if busy:
            ready, dummy, dummy2 = select.select([p['answers'] for p in busy], [], [], None if block else 0)
            for proc in busy:
                if proc['answers'] in ready:
                    kind, source, error = self._answer(proc)
                    if kind != 'done':
                        raise LogWorkerError('a parser process answered %r' % kind)
                    proc['busy'] = False
                    if error and source not in self.errors:
                        self.errors[source] = error
        return [p for p in self.procs if not p['busy']]

    def _answer(self, proc):
        try:
            message = _receive(proc['answers'])
        except EOFError:
            message = None
        if message is None:
            raise LogWorkerError('a parser process (pid %d) died; its error is on the module\'s stderr' % proc['pid'])
        return self.pickle.loads(message)

    def _free(self):
        free = self._collect(block=False)
        while not free:
            free = self._collect(block=True)
        return free[0]

    def submit(self, kind, source, payload):
        """Hand a task (or a segment of decompressed data) to the next free worker."""
        proc = self._free()
        _send(proc['commands'], self.pickle.dumps((kind, source, payload), protocol=self.pickle.HIGHEST_PROTOCOL))
        proc['busy'] = True

    def finish(self):
        """Wait for every task, then return each worker's scanner result."""
        while any(p['busy'] for p in self.procs):
            self._collect(block=True)
        results = []
        for proc in self.procs:
            _send(proc['commands'], self.pickle.dumps(('finish', None, None)))
            kind, dummy, result = self._answer(proc)
            if kind != 'result':
                raise LogWorkerError('a parser process answered %r' % kind)
            results.append(result)
        self.close()
        return results

    def close(self):
        """Stop every worker (on error too) and reap it."""
        for proc in self.procs:
            for fd in ('commands', 'answers'):
                try:
                    os.close(proc[fd])
                except OSError:
                    pass
        for proc in self.procs:
            try:
                if proc['busy']:
                    os.kill(proc['pid'], signal.SIGKILL)
                os.waitpid(proc['pid'], 0)
            except OSError:
                pass
        self.procs = []


def scan(files, make_scanner, workers=None):
    """Scan ``files`` (a list of (source, path, compressed, size)); return (merged result, {source: error}, workers used).

    ``workers``: processes to use; None or 0 means the CPUs available (at most MAX_WORKERS).
    """
    if not workers:
        workers = min(available_cpus(), MAX_WORKERS)
    volume = sum(size * (6 if compressed else 1) for dummy, dummy2, compressed, size in files)
    if workers < 2 or volume < PARALLEL_MIN_BYTES:
        scanner = make_scanner()
        errors = {}
        read_errors = readers.read_errors()
        for source, path, compressed, size in files:
            error = _scan_task(scanner, Task(source, path, compressed, 0, size), read_errors)
            if error:
                errors[source] = error
        return merge([scanner.result()]), errors, 1
    pool = Workers(workers, make_scanner)
    try:
        errors = {}
        read_errors = readers.read_errors()
        plain = [f for f in files if not f[2]]
        pieces = max(1, min(workers * 4, -(-sum(f[3] for f in plain) // RANGE_MIN_BYTES)))
        tasks = []
        total_plain = sum(f[3] for f in plain) or 1
        for source, path, compressed, size in plain:
            share = max(1, round(pieces * size / total_plain))
            for start, end in readers.split_ranges(size, share):
                tasks.append(Task(source, path, False, start, end))
        # the largest ranges first: the last task to end is a short one
        tasks.sort(key=lambda t: t.start - (t.end or 0))
        for task in tasks:
            pool.submit('task', task.source, task)
        for source, path, compressed, size in files:
            if not compressed:
                continue
            try:
                for segment in readers.gzip_chunks(path, GZIP_SEGMENT_BYTES):
                    pool.submit('data', source, segment)
            except read_errors as exc:
                errors[source] = readers.describe_error(path, exc)
        results = pool.finish()
    finally:
        pool.close()
    errors.update({k: v for k, v in pool.errors.items() if k not in errors})
    return merge(results), errors, workers


# -- the report ---------------------------------------------------------------------------------------

def status_class(code):
    """``2xx`` for ``204``."""
    return code[:1] + 'xx'


def top_items(counter, count):
    """The ``count`` largest (key, value) pairs, largest first, ties by key."""
    return heapq.nsmallest(count, counter.items(), key=lambda item: (-item[1], item[0]))


def iso(epoch):
    """An epoch as ISO 8601 UTC text, or None."""
    if epoch is None:
        return None
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch))


def check_readable(files):
    """Split files into readable ones and {index: error}."""
    readable = []
    errors = {}
    for index, (path, pattern) in enumerate(files):
        try:
            readers.check_readable(path)
            compressed = readers.is_gzip(path)
            size = os.path.getsize(path)
        except LogReadError as exc:
            errors[index] = str(exc)
            continue
        except OSError as exc:
            errors[index] = readers.describe_error(path, exc)
            continue
        readable.append((index, path, compressed, size))
    return readable, errors


# -- options -> report ---------------------------------------------------------------------------------

DEFAULTS = {
    'failed_logins_warning': 20.0,
    'failed_logins_critical': 100.0,
    'requests_per_minute_warning': 300.0,
    'requests_per_minute_critical': 1200.0,
    'malformed_percent_warning': 5.0,
    'malformed_percent_critical': None,
}
FLAGGED_LIMIT = 100
STATUS_CLASSES = ('1xx', '2xx', '3xx', '4xx', '5xx')


def _text(value):
    return value.decode('utf-8', 'replace')


def parse_time(value, option):
    """Epoch seconds for an ISO 8601 time (UTC without an offset, see ``_times``) or a number of seconds since the epoch."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        pass
    try:
        return _times.parse_time(value, option).timestamp()
    except ValueError as exc:
        raise ValueError('%s, or seconds since the epoch' % exc) from None


def window_of(params):
    """The Window of converted params: ``since`` (seconds before ``now``) or ``from``/``to`` (epochs)."""
    if params.get('since') is not None:
        return Window(params['now'] - params['since'], None)
    return Window(params.get('from'), params.get('to'))


def _threshold_msg(warning, critical):
    parts = []
    if warning is not None:
        parts.append('warning > %g' % warning)
    if critical is not None:
        parts.append('critical > %g' % critical)
    return ', '.join(parts) or 'no thresholds'


def _per_ip_check(name, label, values, warning, critical, extra=''):
    """A check over a figure per IP: the worst IP decides, every IP over a threshold is counted."""
    from ansible_collections.dsr.ops.plugins.module_utils._status import Check, evaluate  # pylint: disable=import-outside-toplevel
    worst = top_items(values, 1)
    value = worst[0][1] if worst else 0
    status = evaluate(value, warning, critical)
    over_warning = sum(1 for v in values.values() if warning is not None and v > warning)
    over_critical = sum(1 for v in values.values() if critical is not None and v > critical)
    if worst:
        msg = 'worst %s: %d %s (%s); %d IPs over the warning threshold, %d over the critical one%s' % (
            _text(worst[0][0]), value, label, _threshold_msg(warning, critical), over_warning, over_critical, extra)
    else:
        msg = 'no %s (%s)%s' % (label, _threshold_msg(warning, critical), extra)
    return Check(name, status, msg, value=value, worst_ip=_text(worst[0][0]) if worst else None, warning=warning, critical=critical,
                 ips_over_warning=over_warning, ips_over_critical=over_critical)


def build_report(params, fmt, scanner_factory=None):
    """Run the whole report for module params (converted: since/from/to/now are epochs) and return the result dict."""
    from ansible_collections.dsr.ops.plugins.module_utils._status import Check, evaluate, summarize, worst  # pylint: disable=import-outside-toplevel
    from ansible_collections.dsr.ops.plugins.module_utils._logs import patterns  # pylint: disable=import-outside-toplevel
    started = time.monotonic()
    window = window_of(params)
    matched, unmatched = readers.expand(params['paths'])
    readable, errors = check_readable(matched)
    factory = scanner_factory or (lambda: Scanner(fmt, window))
    merged, scan_errors, workers = scan(readable, factory, params.get('workers'))
    errors.update(scan_errors)
    sizes = {source: (compressed, size) for source, dummy, compressed, size in readable}
    files = []
    for index, (path, pattern) in enumerate(matched):
        stats = merged['sources'].get(index, {'lines': 0, 'malformed': 0, 'outside_window': 0})
        compressed, size = sizes.get(index, (None, None))
        files.append(dict(path=path, glob=pattern, compressed=compressed, bytes=size, error=errors.get(index), **stats))
    total = sum(f['lines'] for f in files)
    malformed = sum(f['malformed'] for f in files)
    outside = sum(f['outside_window'] for f in files)
    counted = total - malformed - outside

    clients = merged['clients']
    statuses = {_text(code): count for code, count in sorted(merged['statuses'].items())}
    classes = dict.fromkeys(STATUS_CLASSES, 0)
    for code, count in statuses.items():
        classes[status_class(code)] = classes.get(status_class(code), 0) + count
    login_statuses = {str(s).encode() for s in params['login_statuses']}
    failed = Counter()
    attempts = 0
    for (client, status), count in merged['logins'].items():
        attempts += count
        if status in login_statuses:
            failed[client] += count
    peaks = merged['peaks']

    def peak(client):
        return peaks.get(client, 1 if client in clients else 0)

    top = params['top']

    def ip_entry(client):
        return {'ip': _text(client), 'requests': clients.get(client, 0), 'failed_logins': failed.get(client, 0),
                'peak_per_minute': peak(client) if fmt.has_time else None}

    top_peaks = top_items(peaks, top) if fmt.has_time else []
    if fmt.has_time and len(top_peaks) < top:
        others = heapq.nsmallest(top - len(top_peaks), (c for c in clients if c not in peaks))
        top_peaks.extend((c, 1) for c in others)

    checks = []
    problems = ['%s matched no file' % g for g in unmatched] + [errors[i] for i in sorted(errors)]
    if problems:
        checks.append(Check.unknown('files', '; '.join(problems), files=len(matched), unmatched=unmatched,
                                    errors=[errors[i] for i in sorted(errors)]))
    else:
        checks.append(Check('files', 'ok', '%d files read' % len(matched), files=len(matched), unmatched=[], errors=[]))
    percent = round(100.0 * malformed / total, 3) if total else 0.0
    if total and malformed == total:
        checks.append(Check.unknown('malformed', 'none of the %d lines is in the log_format %s: check log_format' % (total, fmt.name),
                                    value=percent, lines=malformed))
    else:
        status = evaluate(percent, params['malformed_percent_warning'], params['malformed_percent_critical'])
        checks.append(Check('malformed', status, '%d of %d lines malformed (%.3f %%; %s)' % (
            malformed, total, percent, _threshold_msg(params['malformed_percent_warning'], params['malformed_percent_critical'])),
            value=percent, lines=malformed))
    if counted == 0 and not problems and total > malformed:
        checks.append(Check('traffic', 'warning', 'no request inside the window (%d lines outside it)' % outside, requests=0))
    elif counted == 0 and not problems:
        checks.append(Check('traffic', 'warning', 'the access logs hold no request', requests=0))
    else:
        checks.append(Check('traffic', 'ok', '%d requests from %d IPs' % (counted, len(clients)), requests=counted))
    if fmt.login_mode:
        checks.append(_per_ip_check('failed_logins', 'failed logins', failed, params['failed_logins_warning'], params['failed_logins_critical']))
    else:
        checks.append(Check.skipped('failed_logins', 'no login path configured (login_paths is empty)'))
    if fmt.has_time:
        extra = '' if merged['peak_exact'] else '; the log is out of order by more than %d s, so peaks are lower bounds' % GRACE_SECONDS
        rates = Counter(peaks)
        if not rates and clients:
            rates[min(clients)] = 1  # every IP was seen at most once a minute
        checks.append(_per_ip_check('request_rate', 'requests in one minute', rates,
                                    params['requests_per_minute_warning'], params['requests_per_minute_critical'], extra))
    else:
        checks.append(Check.skipped('request_rate', 'log_format has no $time_local or $time_iso8601'))

    pattern_results = []
    for spec in params.get('patterns') or []:
        line_pattern = patterns.LinePattern(spec['pattern'], spec.get('regex', False), spec.get('ignore_case', False))
        count, pattern_files, pattern_unmatched = patterns.count_files(line_pattern, spec['paths'])
        trouble = ['%s matched no file' % g for g in pattern_unmatched] + [f['error'] for f in pattern_files if f['error']]
        name = 'pattern_%s' % spec['name']
        if trouble:
            check = Check.unknown(name, '%d matching lines, but %s' % (count, '; '.join(trouble)), value=count)
        else:
            check = Check(name, evaluate(count, spec.get('warning'), spec.get('critical')), '%d lines match %r in %d files (%s)' % (
                count, spec['pattern'], len(pattern_files), _threshold_msg(spec.get('warning'), spec.get('critical'))), value=count)
        checks.append(check)
        pattern_results.append({'name': spec['name'], 'pattern': spec['pattern'], 'regex': bool(spec.get('regex')), 'count': count,
                                'status': check.status, 'files': pattern_files, 'unmatched': pattern_unmatched})

    flagged = []
    thresholds = ((failed, params['failed_logins_warning'], params['failed_logins_critical'], 'failed logins'),
                  (peaks, params['requests_per_minute_warning'], params['requests_per_minute_critical'], 'requests in one minute'))
    reasons = {}
    for values, warn, crit, label in thresholds:
        for client, value in values.items():
            status = evaluate(value, warn, crit)
            if status != 'ok':
                entry = reasons.setdefault(client, [])
                entry.append((status, '%d %s (%s)' % (value, label, _threshold_msg(warn, crit))))
    for client, found in reasons.items():
        entry = ip_entry(client)
        entry['status'] = worst(s for s, dummy in found)
        entry['reasons'] = [text for dummy, text in found]
        flagged.append(entry)
    flagged.sort(key=lambda e: (e['status'] != 'critical', -e['failed_logins'], -(e['peak_per_minute'] or 0), e['ip']))

    overall, summary = summarize(checks)
    result = {
        'status': overall,
        'summary': summary,
        'checks': {c.name: c.as_dict() for c in checks},
        'files': files,
        'unmatched_globs': unmatched,
        'window': {'from': iso(window.start), 'to': iso(window.end), 'since_seconds': params.get('since')},
        'time_range': {'first': iso(merged['min_epoch']), 'last': iso(None if merged['max_epoch'] is None else merged['max_epoch'] + 59)},
        'lines': {'total': total, 'malformed': malformed, 'outside_window': outside, 'counted': counted},
        'malformed_samples': [{'path': matched[s][0], 'text': _text(t), 'truncated': cut} for s, t, cut in merged['samples']],
        'distinct_ips': len(clients),
        'top_ips': [ip_entry(c) for c, dummy in top_items(clients, top)],
        'status_classes': classes,
        'status_codes': statuses,
        'unauthorized': statuses.get('401', 0),
        'forbidden': statuses.get('403', 0),
        'rate_limited': statuses.get('429', 0),
        'server_errors': classes['5xx'],
        'failed_logins': {
            'total': sum(failed.values()), 'attempts': attempts, 'ips': len(failed),
            'statuses': sorted(params['login_statuses']),
            'top': [{'ip': _text(c), 'failed_logins': n, 'requests': clients.get(c, 0)} for c, n in top_items(failed, top)],
        },
        'peak_per_minute': {
            'exact': merged['peak_exact'] if fmt.has_time else None,
            'late_lines': merged['late_lines'],
            'top': [{'ip': _text(c), 'peak_per_minute': n, 'requests': clients.get(c, 0)} for c, n in top_peaks],
        },
        'flagged_ips': flagged[:FLAGGED_LIMIT],
        'flagged_total': len(flagged),
        'patterns': pattern_results,
        'engine': {'workers': workers, 'gzip': readers.gzip_backend(), 'log_format': fmt.source, 'format_name': fmt.name,
                   'seconds': round(time.monotonic() - started, 3)},
    }
    return result
