# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Finding and running the PostgreSQL client programs (pg_dump, pg_restore, pg_dumpall, psql).

Programs are always run with argument lists, never through a shell, with the
connection (password included) in the child's environment, never on its
command line. On Linux each child is told to die with the module
(PR_SET_PDEATHSIG), so a killed run leaves no orphaned pg_dump writing on.
"""

from __future__ import annotations

import ctypes
import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading

from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupToolError

_VERSION_RE = re.compile(r'\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?')
_PR_SET_PDEATHSIG = 1
STDERR_LIMIT = 64 * 1024


def _die_with_parent():
    """preexec_fn: SIGKILL this child when the module process dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _preexec():
    return _die_with_parent if sys.platform.startswith('linux') else None


def find_program(name, bin_dir=None):
    """Path of a PostgreSQL client program: in ``bin_dir``, else the newest Debian install, else PATH."""
    if bin_dir:
        path = os.path.join(bin_dir, name)
        if not os.access(path, os.X_OK):
            raise BackupToolError('%s not found or not executable in pg_bin_dir %s' % (name, bin_dir))
        return path
    installed = glob.glob('/usr/lib/postgresql/*/bin/%s' % name)
    versioned = sorted((int(p.split('/')[4]), p) for p in installed if p.split('/')[4].isdigit())
    if versioned:
        return versioned[-1][1]
    found = shutil.which(name)
    if found:
        return found
    raise BackupToolError('%s not found: install the PostgreSQL client (postgresql-client-15 or newer) or set pg_bin_dir' % name)


def major_version(text):
    """The major version in ``pg_dump (PostgreSQL) 15.18 ...``, or None."""
    match = _VERSION_RE.search(text or '')
    return int(match.group(1)) if match else None


def program_version(path):
    """Return ``(major, minor, text)`` from ``path --version``."""
    try:
        proc = subprocess.run([path, '--version'], capture_output=True, text=True, timeout=30, check=False)
    except OSError as exc:
        raise BackupToolError('cannot run %s: %s' % (path, exc)) from None
    match = _VERSION_RE.search(proc.stdout)
    if proc.returncode != 0 or not match:
        raise BackupToolError('cannot tell the version of %s (exit %d): %s' % (path, proc.returncode, (proc.stdout + proc.stderr).strip()[:300]))
    return int(match.group(1)), int(match.group(2) or 0), proc.stdout.strip()


def require_not_older(path, tool_major, server_version_num):
    """Refuse a client program older than the server it would talk to."""
    server_major = server_version_num // 10000
    if tool_major < server_major:
        raise BackupToolError('%s is version %d, older than the server (%d): it cannot dump a newer server reliably; '
                              'install postgresql-client-%d or set pg_bin_dir to its bin directory' % (path, tool_major, server_major, server_major))


def display_command(argv):
    """A shell-quoted rendering of an argument list, for results and logs (it never holds secrets)."""
    return shlex.join(argv)


class Tool:
    """A running client program whose stderr is collected in the background."""

    def __init__(self, argv, env, stdout=None, stdin=None, collect_stdout=False):
        self.argv = argv
        if collect_stdout:
            stdout = subprocess.PIPE
        try:
            self.proc = subprocess.Popen(argv, env=env, stdout=stdout, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, preexec_fn=_preexec(), close_fds=True)  # pylint: disable=subprocess-popen-preexec-fn
        except OSError as exc:
            raise BackupToolError('cannot start %s: %s' % (argv[0], exc)) from None
        self._stderr = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        # stdout read in a thread of its own, so that a child writing much (pg_restore --list) never blocks on a full pipe
        self._stdout = bytearray()
        self._out_reader = None
        if collect_stdout:
            self._out_reader = threading.Thread(target=self._drain_stdout, daemon=True)
            self._out_reader.start()

    def _drain(self):
        for line in self.proc.stderr:
            if len(self._stderr) < STDERR_LIMIT:
                self._stderr.extend(line)

    def _drain_stdout(self):
        while True:
            block = self.proc.stdout.read(65536)
            if not block:
                return
            self._stdout.extend(block)

    def _close_stdin(self):
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass  # the child stopped reading; what it read is what counts

    def finish(self):
        """Close the child's stdin, wait for it; return ``(exit status, stdout bytes, stderr text)`` without raising."""
        self._close_stdin()
        returncode = self.proc.wait()
        self._reader.join()
        if self._out_reader is not None:
            self._out_reader.join()
        return returncode, bytes(self._stdout), self._stderr.decode('utf-8', 'replace')

    @property
    def stdout(self):
        """The child's stdout pipe, when it was started with ``stdout=subprocess.PIPE``."""
        return self.proc.stdout

    def wait(self, what):
        """Wait for the program; raise BackupToolError with its stderr unless it exited 0.

        Returns the stderr text (warnings) of a successful run.
        """
        returncode = self.proc.wait()
        self._reader.join()
        stderr = self._stderr.decode('utf-8', 'replace').strip()
        if returncode != 0:
            reason = 'killed by signal %d' % -returncode if returncode < 0 else 'exit status %d' % returncode
            raise BackupToolError('%s failed (%s): %s' % (what, reason, stderr or 'no error output'))
        return stderr

    def kill(self):
        """Stop the program now (used when the other end of a pipeline failed)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self._close_stdin()
        self.proc.wait()
        self._reader.join()
        if self._out_reader is not None:
            self._out_reader.join()
