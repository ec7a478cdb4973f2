# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Durable file handling for backups: temporary names, fsync, atomic rename, checksums.

A backup file only ever appears under its final name complete and synced: it is
written under a hidden temporary name in the same directory, fsynced, renamed,
and the directory is fsynced so the rename itself survives a crash.

A temporary file is live while the run that made it holds an ``flock`` on it
(:class:`TempFile`); the kernel drops the lock when the process dies, however
it dies. :func:`remove_stale_temp_files` removes only files whose lock is free
and whose owning process (the pid in the name) is gone: never another run's
work in progress, whatever its name says.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import secrets
import stat

CHUNK = 1024 * 1024
# a manifest or verification record is a few kilobytes; refuse to read a huge file into memory
MAX_JSON_BYTES = 16 * 1024 * 1024
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


def temp_pid(name):
    """The pid recorded in one of our temporary names, or None."""
    if not is_temp_name(name):
        return None
    head = name[len(TEMP_PREFIX):].split('-', 1)[0]
    return int(head) if head.isdigit() else None


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TempFile:
    """A private temporary file beside its final name, held by this process's ``flock`` until it is published or removed.

    ``path`` is the file; :meth:`writer` gives a buffered binary writer on it. Use
    as a context manager: leaving the block removes the file unless it was published.
    ``mode`` other than the default 0600 is set exactly, whatever the umask.
    """

    def __init__(self, directory, final_name, mode=0o600):
        self.path = temp_path(directory, final_name)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if mode != 0o600:
                os.fchmod(self._fd, mode)
        except OSError:
            os.close(self._fd)
            os.unlink(self.path)
            raise

    def writer(self):
        """A buffered binary file object on the temporary file (its own descriptor; the lock stays with ours)."""
        return os.fdopen(os.dup(self._fd), 'wb')

    def publish(self, final, overwrite=True):
        """fsync, move into place atomically (see :func:`publish`), and let go of the file."""
        publish(self.path, final, overwrite=overwrite)
        self.path = None
        self.close()

    def remove(self):
        """Remove the file (if still ours) and release the lock; never raises for a file already gone."""
        if self.path and os.path.lexists(self.path):
            os.unlink(self.path)
        self.path = None
        self.close()

    def close(self):
        """Release the lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def remove_stale_temp_files(directory, belongs):
    """Remove the temporary files of dead runs in ``directory`` whose final name satisfies ``belongs``; return their paths.

    Stale means: one of our temporary names, a regular file, no live process
    holds its lock, and the process named in it is gone. A file a live run is
    writing, or one an older run without locks may still be writing, is left.
    """
    removed = []
    if not os.path.isdir(directory):
        return removed
    for name in sorted(os.listdir(directory)):
        final = temp_final_name(name)
        if final is None or not belongs(final):
            continue
        path = os.path.join(directory, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    continue
                raise
            pid = temp_pid(name)
            if pid is not None and pid != os.getpid() and _process_alive(pid):
                continue
            os.unlink(path)
            removed.append(path)
        finally:
            os.close(fd)
    return removed


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


def write_atomic(path, content, mode=0o600):
    """Write ``content`` (bytes) to ``path`` atomically with ``mode``: a :class:`TempFile` beside it, published over it.

    The temporary file never outlives a failure; an OSError of the write names it.
    """
    with TempFile(os.path.dirname(os.path.abspath(path)), os.path.basename(path), mode) as temp:
        with naming(temp.path), temp.writer() as handle:
            handle.write(content)
        temp.publish(path)


def write_json_atomic(path, data):
    """Write JSON to ``path`` atomically, mode 0600."""
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True).encode('utf-8') + b'\n')


def read_json(path):
    """Load a small JSON file (manifest, record), refusing one larger than MAX_JSON_BYTES; OSError or ValueError otherwise."""
    with open(path, 'rb') as handle:
        text = handle.read(MAX_JSON_BYTES + 1)
    if len(text) > MAX_JSON_BYTES:
        raise ValueError('larger than %d bytes' % MAX_JSON_BYTES)
    return json.loads(text.decode('utf-8'))


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
        try:
            os.makedirs(path, mode=0o700)
        except FileExistsError:
            # another run (refused later by the lock) created it a moment ago
            if os.path.isdir(path):
                return False
            raise
        os.chmod(path, 0o700)
    return True


def _existing(path):
    path = os.path.abspath(path)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def filesystem_id(path):
    """The device of the filesystem that holds (or will hold) ``path``."""
    return os.stat(_existing(path)).st_dev


@contextlib.contextmanager
def naming(path):
    """Let an OSError raised inside name ``path``: a failed write (ENOSPC among them) carries no file name of its own."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, path) from None
        raise


def free_bytes(path):
    """Free bytes available to us on the filesystem that holds (or will hold) ``path``."""
    figures = os.statvfs(_existing(path))
    return figures.f_bavail * figures.f_frsize
