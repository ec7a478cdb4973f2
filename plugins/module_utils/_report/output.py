# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The report's files: compared with what is on disk, written atomically, never rewritten when the same.

A file is written under a hidden temporary name in its own directory, given its
mode, fsynced, renamed over the final name and the directory fsynced, so a
reader (a web server, a mail job) sees the old file or the complete new one.
"""

from __future__ import annotations

import hashlib
import os
import stat

from ansible_collections.dsr.ops.plugins.module_utils._backup import files

FILE_MODE = 0o640
DIR_MODE = 0o750


def ensure_dir(path, check_mode=False):
    """Create ``path`` (and missing parents) with mode 0750 unless it exists; True when it was (or would be) created."""
    if os.path.isdir(path):
        return False
    if os.path.lexists(path):
        raise OSError(20, 'Not a directory', path)
    if not check_mode:
        try:
            os.makedirs(path, mode=DIR_MODE)
        except FileExistsError:
            if os.path.isdir(path):
                return False
            raise
        os.chmod(path, DIR_MODE)
    return True


def plan(path, content):
    """What writing ``content`` (bytes) to ``path`` would do: ``write`` (new or different), ``chmod`` (same bytes, other
    mode) or ``none`` (the same file is there)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return 'write'
    if stat.S_ISDIR(info.st_mode):
        raise OSError(21, 'Is a directory', path)
    if not stat.S_ISREG(info.st_mode) or info.st_size != len(content):
        return 'write'
    with open(path, 'rb') as handle:
        same = handle.read(len(content) + 1) == content
    if not same:
        return 'write'
    return 'none' if stat.S_IMODE(info.st_mode) == FILE_MODE else 'chmod'


def write_atomic(path, content, mode=FILE_MODE):
    """Write ``content`` (bytes) to ``path`` atomically with ``mode`` (0640 unless told); see ``_backup.files.write_atomic``."""
    files.write_atomic(path, content, mode)


def apply(path, content, check_mode=False):
    """Bring ``path`` to ``content`` with mode 0640; returns True when something changed (or would change)."""
    action = plan(path, content)
    if not check_mode:
        if action == 'write':
            write_atomic(path, content)
        elif action == 'chmod':
            os.chmod(path, FILE_MODE)
    return action != 'none'


def sha256(content):
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(content).hexdigest()
