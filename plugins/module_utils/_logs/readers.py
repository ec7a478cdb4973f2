# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reading log files as chunks of whole lines: plain files (whole or a byte range) and gzip'd ones.

A file is gzip'd when it starts with the gzip magic bytes, whatever its name. gzip'd files are
decompressed with python-isal's igzip when it is installed (about three times zlib's speed),
else with the standard library's gzip module. Every chunk ends with a newline: a last line
without one gets it, as awk counts that line too.
"""

from __future__ import annotations

import glob
import gzip
import importlib
import os
import zlib

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._logs.errors import LogReadError

GZIP_MAGIC = b'\x1f\x8b'
CHUNK_BYTES = 4 << 20


def igzip():
    """python-isal's igzip module, or None when it is not installed (``_deps`` tries the import once)."""
    if _deps.HAS_ISAL:
        return importlib.import_module('isal.igzip')
    return None


def gzip_backend():
    """The name of the gzip decompressor in use: ``isal`` or ``zlib``."""
    return 'isal' if igzip() is not None else 'zlib'


def is_gzip(path):
    """Whether a file starts with the gzip magic bytes (raises OSError when it cannot be read)."""
    with open(path, 'rb') as handle:
        return handle.read(2) == GZIP_MAGIC


def expand(patterns):
    """Resolve globs: return (files, unmatched) with files as (path, pattern) pairs, each real file once, in glob order."""
    files = []
    unmatched = []
    seen = set()
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else ([pattern] if os.path.lexists(pattern) else [])
        if not matches:
            unmatched.append(pattern)
            continue
        for path in matches:
            key = os.path.realpath(path)
            if key in seen:
                continue
            seen.add(key)
            files.append((path, pattern))
    return files, unmatched


def describe_error(path, exc):
    """A message for a file that could not be read or decompressed."""
    if isinstance(exc, OSError) and exc.strerror:
        return '%s: %s' % (path, exc.strerror)
    if isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile)) or type(exc).__name__ in ('IsalError', 'BadGzipFile'):
        return '%s: corrupt or truncated gzip data (%s)' % (path, exc or type(exc).__name__)
    return '%s: %s' % (path, exc)


def read_errors():
    """The exceptions reading a plain or gzip'd file may raise."""
    errors = (OSError, EOFError, zlib.error)
    if igzip() is not None:
        errors += (importlib.import_module('isal.isal_zlib').error,)
    return errors


def open_gzip(path):
    """A binary stream of a gzip'd file's decompressed bytes."""
    module = igzip()
    if module is not None:
        return module.open(path, 'rb')
    return gzip.open(path, 'rb')


def chunks(stream, size=CHUNK_BYTES, limit=None):
    """Yield chunks of whole lines (each ending with a newline) read from a binary stream.

    ``limit``: stop after the line that contains the ``limit``-th byte read (for byte ranges).
    """
    rest = b''
    consumed = 0
    while True:
        want = size if limit is None else min(size, limit - consumed)
        block = stream.read(want) if want > 0 else b''
        if not block:
            break
        consumed += len(block)
        cut = block.rfind(b'\n') + 1
        if cut == 0:
            rest += block
            continue
        yield rest + block[:cut] if rest else block[:cut]
        rest = block[cut:]
    if limit is not None and rest:
        # the range ends inside a line: the line is this range's, read it to its end
        while True:
            block = stream.read(65536)
            if not block:
                break
            newline = block.find(b'\n')
            if newline >= 0:
                rest += block[:newline + 1]
                break
            rest += block
    if rest:
        yield rest if rest.endswith(b'\n') else rest + b'\n'


def plain_range(path, start, end, size=CHUNK_BYTES):
    """Yield the chunks of the lines of a plain file that start in [start, end).

    A line belongs to the range its first byte is in, so adjacent ranges read every line once.
    """
    with open(path, 'rb') as handle:
        if start > 0:
            handle.seek(start - 1)
            skipped = 0
            while True:
                block = handle.read(65536)
                if not block:
                    return
                newline = block.find(b'\n')
                if newline >= 0:
                    skipped += newline + 1
                    break
                skipped += len(block)
            begin = start - 1 + skipped
            if begin >= end:
                return
            handle.seek(begin)
        else:
            begin = 0
        yield from chunks(handle, size, limit=end - begin)


def split_ranges(size, pieces):
    """Byte ranges [start, end) cutting a file of ``size`` bytes into ``pieces`` parts."""
    pieces = max(1, min(pieces, size // (1 << 20) or 1))
    step = -(-size // pieces)
    return [(start, min(start + step, size)) for start in range(0, size, step)] or [(0, 0)]


def gzip_chunks(path, size=CHUNK_BYTES):
    """Yield the chunks of a gzip'd file's lines."""
    with open_gzip(path) as stream:
        yield from chunks(stream, size)


def file_chunks(path, size=CHUNK_BYTES):
    """Yield the chunks of a whole file, plain or gzip'd."""
    if is_gzip(path):
        return gzip_chunks(path, size)
    return plain_range(path, 0, os.path.getsize(path), size)


def check_readable(path):
    """Raise LogReadError when ``path`` is a directory or cannot be read."""
    if os.path.isdir(path):
        raise LogReadError('%s: is a directory; give a file or a glob such as %s/*.log' % (path, path.rstrip('/')))
    if not os.access(path, os.R_OK):
        raise LogReadError('%s: permission denied' % path)
