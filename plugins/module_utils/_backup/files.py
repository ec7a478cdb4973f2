# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Durable file handling for backups: temporary names, fsync, atomic rename, checksums.

A backup file only ever appears under its final name complete and synced: it is
written under a hidden temporary name in the same directory, fsynced, renamed,
and the directory is fsynced so the rename itself survives a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets

CHUNK = 1024 * 1024
TEMP_PREFIX = '.dsr-tmp-'


def fsync_dir(path):
    """Make a rename or unlink in directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path(directory, final_name):
    """A hidden temporary name beside ``final_name``, tagged with our pid for stale cleanup."""
    return os.path.join(directory, '%s%d-%s-%s' % (TEMP_PREFIX, os.getpid(), secrets.token_hex(4), final_name))


def is_temp_name(name):
    """Whether a directory entry is one of our temporary files."""
    return name.startswith(TEMP_PREFIX)


def temp_final_name(name):
    """The final name a temporary file was meant to get, or None if ``name`` is not ours."""
    if not is_temp_name(name):
        return None
    parts = name[len(TEMP_PREFIX):].split('-', 2)
    return parts[2] if len(parts) == 3 else None


def open_private(path):
    """Create ``path`` exclusively, mode 0600, for binary writing."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, 'wb')


def publish(temp, final, overwrite=True):
    """fsync ``temp``, move it to ``final`` atomically and fsync the directory.

    Readers see the old file or the complete new one, never a partial one. With
    ``overwrite=False`` an existing ``final`` is never replaced (``os.link``
    fails instead), so a backup cannot clobber another one of the same name.
    """
    fd = os.open(temp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if overwrite:
        os.replace(temp, final)
    else:
        os.link(temp, final)
        os.unlink(temp)
    fsync_dir(os.path.dirname(os.path.abspath(final)))


def write_json_atomic(path, data):
    """Write JSON to ``path`` atomically, mode 0600."""
    directory = os.path.dirname(os.path.abspath(path))
    temp = temp_path(directory, os.path.basename(path))
    try:
        with open_private(temp) as handle:
            handle.write(json.dumps(data, indent=2, sort_keys=True).encode('utf-8') + b'\n')
            handle.flush()
        publish(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def read_json(path):
    """Load a JSON file."""
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


def sha256_file(path, chunk=CHUNK):
    """Return (hex SHA-256, size in bytes) of a file, reading it in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, 'rb') as handle:
        while True:
            block = handle.read(chunk)
            if not block:
                break
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def ensure_private_dir(path, check_mode=False):
    """Create ``path`` (and parents) with mode 0700; return True if it was created."""
    if os.path.isdir(path):
        return False
    if not check_mode:
        os.makedirs(path, mode=0o700)
        os.chmod(path, 0o700)
    return True


def free_bytes(path):
    """Free bytes available to us on the filesystem that holds (or will hold) ``path``."""
    path = os.path.abspath(path)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize
