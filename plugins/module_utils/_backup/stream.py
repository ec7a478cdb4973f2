# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Decompress a stored backup into a seekable private copy, proving its SHA-256 and sizes on the way.

Used by pg_restore and by pg_backup_verify's restore test. Nothing downstream
ever sees bad data: on any mismatch the copy is removed and BackupIntegrityError
raised, before any database is touched.
"""

from __future__ import annotations

import os
import re
import time

from ansible_collections.dsr.ops.plugins.module_utils._backup import codec, files
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupIntegrityError
from ansible_collections.dsr.ops.plugins.module_utils._backup.writer import BackgroundWriter


def decompress_verified(path, manifest, temp_dir, also=None):
    """Decompress ``path`` into a private temporary file, checking its SHA-256 and size on the way.

    Returns ``(files.TempFile, seconds)``: the caller removes the file when done,
    and holds its lock until then, so no other run takes it for a leftover. On
    any mismatch the temporary file is removed and BackupIntegrityError raised:
    nothing downstream ever sees bad data. The file is written by a
    BackgroundWriter while this thread decompresses. ``also``, when given, is
    called with every decompressed block too (the verification feeds
    ``pg_restore --list`` from the same single pass).
    """
    started = time.monotonic()
    temp = files.TempFile(temp_dir, os.path.basename(path) + '.raw')
    try:
        with files.naming(temp.path), temp.writer() as out:
            writer = BackgroundWriter(out.write)
            sink = writer.write
            if also is not None:
                def sink(block):
                    also(block)
                    writer.write(block)
            try:
                raw, stored, dummy = codec.decompress_to(path, manifest.compression, sink, expected_sha256=manifest.sha256)
            except BaseException:
                writer.abandon()
                raise
            writer.close()
        if stored != manifest.stored_size_bytes:
            raise BackupIntegrityError('%s is %d bytes but its manifest says %d' % (path, stored, manifest.stored_size_bytes))
        if raw != manifest.raw_size_bytes:
            raise BackupIntegrityError('%s decompresses to %d bytes but its manifest says %d' % (path, raw, manifest.raw_size_bytes))
    except BaseException:
        temp.remove()
        raise
    return temp, time.monotonic() - started


def remove_stale_copies(temp_dir, database):
    """Remove the decompressed copies that killed restores (or restore tests) of ``database`` left in ``temp_dir``."""
    pattern = re.compile(r'^%s_\d{8}T\d{6}Z\.dump(\.zst|\.gz)?\.raw$' % re.escape(database))
    return files.remove_stale_temp_files(temp_dir, pattern.match)
