# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Counting the lines of application logs that match a pattern: the runbook's ``grep "authentication failed" | wc -l``.

A line counts once however many times it matches, as ``grep -c`` counts. Plain and gzip'd
files (``zgrep``) are read in chunks of whole lines; a fixed string is searched with
``bytes.find``, a regex with ``re.search`` over the chunk, and only the matching lines cost
a Python step.
"""

from __future__ import annotations

import re

from ansible_collections.dsr.ops.plugins.module_utils._logs import readers
from ansible_collections.dsr.ops.plugins.module_utils._logs.errors import LogFormatError, LogReadError


class LinePattern:
    """A fixed string or a regex, matched inside single lines."""

    def __init__(self, pattern, regex=False, ignore_case=False):
        self.text = pattern
        self.regex = regex
        raw = pattern.encode('utf-8')
        if regex or ignore_case:
            try:
                self.compiled = re.compile(raw if regex else re.escape(raw), re.MULTILINE | (re.IGNORECASE if ignore_case else 0))
            except re.error as exc:
                raise LogFormatError('%s' % exc) from None
            self.fixed = None
        else:
            self.compiled = None
            self.fixed = raw

    def count(self, chunk):
        """Lines of a chunk (whole lines, ending with a newline) that contain a match."""
        count = 0
        position = 0
        if self.fixed is not None:
            find = chunk.find
            needle = self.fixed
            while True:
                found = find(needle, position)
                if found < 0:
                    return count
                count += 1
                position = chunk.find(b'\n', found) + 1
                if position == 0:
                    return count
        search = self.compiled.search
        length = len(chunk)
        while position < length:
            match = search(chunk, position)
            if match is None:
                break
            start = chunk.rfind(b'\n', 0, match.start()) + 1
            end = chunk.find(b'\n', match.start())
            end = length if end < 0 else end
            # grep matches inside one line: a match running past the line's end (\s matching the newline) is tried on the line alone
            if match.end() <= end or search(chunk, start, end) is not None:
                count += 1
            position = end + 1
        return count


def count_files(pattern, globs):
    """Count matching lines in the files of ``globs``; return (total, files, unmatched globs).

    ``files`` is a list of dicts: path, lines, count, compressed, error.
    """
    matched, unmatched = readers.expand(globs)
    errors = readers.read_errors()
    total = 0
    files = []
    for path, dummy in matched:
        entry = {'path': path, 'count': 0, 'lines': 0, 'compressed': False, 'error': None}
        files.append(entry)
        try:
            readers.check_readable(path)
            entry['compressed'] = readers.is_gzip(path)
            for chunk in readers.file_chunks(path):
                entry['lines'] += chunk.count(b'\n')
                entry['count'] += pattern.count(chunk)
        except LogReadError as exc:
            entry['error'] = str(exc)
        except errors as exc:
            entry['error'] = readers.describe_error(path, exc)
        total += entry['count']
    return total, files, unmatched
