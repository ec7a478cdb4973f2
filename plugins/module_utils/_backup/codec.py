# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Compression of stored backups: zstd (multi-threaded), gzip or none, streamed in fixed chunks.

Memory stays flat whatever the size of the database: data moves in 1 MiB
chunks, and the SHA-256 of the stored bytes is computed on the way out.
"""

from __future__ import annotations

import gzip
import hashlib
import os

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupIntegrityError

if _deps.HAS_ZSTANDARD:
    import zstandard

CHUNK = 1024 * 1024
# what a decompressor raises on damaged input
_DECOMPRESS_ERRORS = (OSError, EOFError, ValueError) + ((zstandard.ZstdError,) if _deps.HAS_ZSTANDARD else ())
COMPRESSIONS = ('zstd', 'gzip', 'none')
EXTENSIONS = {'zstd': '.zst', 'gzip': '.gz', 'none': ''}
# zstd 1, not 3: on registry-shaped data level 1 was both faster and smaller (docs/backup-format-spike.md)
DEFAULT_LEVELS = {'zstd': 1, 'gzip': 6, 'none': 0}
LEVEL_RANGES = {'zstd': (1, 19), 'gzip': (1, 9), 'none': (0, 0)}


class HashingWriter:
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, target):
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data):
        """Hash, count and forward ``data``."""
        self.digest.update(data)
        self.size += len(data)
        self.target.write(data)
        return len(data)

    def flush(self):
        """Forward a flush."""
        self.target.flush()

    @property
    def closed(self):
        """Compressors ask."""
        return False

    def hexdigest(self):
        """SHA-256 of everything written."""
        return self.digest.hexdigest()


class HashingReader:
    """A read-only file object that hashes and counts what is read through it."""

    def __init__(self, source):
        self.source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size=-1):
        """Read, hash and count."""
        data = self.source.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def readinto(self, buffer):
        """Read into ``buffer`` (used by some decompressors)."""
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def hexdigest(self):
        """SHA-256 of everything read."""
        return self.digest.hexdigest()


def compress_stream(source, target, compression, level, threads=0):
    """Copy ``source`` (readable) into ``target`` (writable) compressed.

    Returns ``(raw bytes read, stored bytes written, sha256 of stored bytes)``.
    """
    out = HashingWriter(target)
    raw = 0
    if compression == 'zstd':
        compressor = zstandard.ZstdCompressor(level=level, threads=threads, write_checksum=True)
        with compressor.stream_writer(out, closefd=False) as writer:
            raw = _pump(source, writer)
    elif compression == 'gzip':
        with gzip.GzipFile(fileobj=out, mode='wb', compresslevel=level, mtime=0) as writer:
            raw = _pump(source, writer)
    else:
        raw = _pump(source, out)
    out.flush()
    return raw, out.size, out.hexdigest()


def _pump(source, sink):
    total = 0
    while True:
        block = source.read(CHUNK)
        if not block:
            return total
        sink.write(block)
        total += len(block)


def open_decompressed(stored, compression):
    """A readable stream of the raw bytes of an opened stored file."""
    if compression == 'zstd':
        return zstandard.ZstdDecompressor().stream_reader(stored, read_across_frames=True, closefd=False)
    if compression == 'gzip':
        return gzip.GzipFile(fileobj=stored, mode='rb')
    return stored


def decompress_to(stored_path, compression, sink, expected_sha256=None):
    """Stream the raw bytes of ``stored_path`` into ``sink`` (a callable taking bytes).

    Hashes the stored bytes on the way; raises BackupIntegrityError when the
    decompressor rejects the data or the hash differs from ``expected_sha256``.
    Returns ``(raw bytes, stored bytes, sha256 of stored bytes)``.
    """
    with open(stored_path, 'rb') as handle:
        hashed = HashingReader(handle)
        reader = open_decompressed(hashed, compression)
        raw = 0
        while True:
            try:
                block = reader.read(CHUNK)
            except _DECOMPRESS_ERRORS as exc:
                raise BackupIntegrityError('%s does not decompress as %s: %s' % (stored_path, compression, exc)) from None
            if not block:
                break
            raw += len(block)
            sink(block)
        # drain what the decompressor did not need (trailing bytes are still part of the file)
        while hashed.read(CHUNK):
            pass
    digest = hashed.hexdigest()
    if expected_sha256 and digest != expected_sha256:
        raise BackupIntegrityError('%s has SHA-256 %s but its manifest says %s: the file changed or is corrupt' % (stored_path, digest, expected_sha256))
    return raw, hashed.size, digest


def stored_name(basename, compression):
    """File name of a custom-format dump compressed with ``compression``."""
    return basename + '.dump' + EXTENSIONS[compression]


def validate_level(compression, level):
    """Return the effective level or raise ValueError naming the valid range."""
    if level is None:
        return DEFAULT_LEVELS[compression]
    low, high = LEVEL_RANGES[compression]
    if not low <= level <= high:
        raise ValueError('compression_level for %s must be between %d and %d, got %d' % (compression, low, high, level))
    return level


def default_threads():
    """zstd worker threads: every core but leave none idle on small machines."""
    return max(1, os.cpu_count() or 1)
