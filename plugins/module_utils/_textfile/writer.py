# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Publish a textfile-collector file atomically, only when its content changes.

node_exporter reads every ``*.prom`` file of its directory on each scrape, so it
must never see half a file: the text is written to a temporary file in the same
directory (held by an ``flock``, named so that it does not end in ``.prom``, since
node_exporter's glob would match a hidden ``.x.prom`` too), fsynced, set to mode
0644, renamed over the old file, and the directory is fsynced. A failure removes
the temporary file; one left by a killed run is removed by the next run.
"""

from __future__ import annotations

import os
import stat

from ansible_collections.dsr.ops.plugins.module_utils._backup import files
from ansible_collections.dsr.ops.plugins.module_utils._textfile.errors import TextfileWriteError

MODE = 0o644
TEMP_SUFFIX = '.tmp'
# a textfile-collector file of a few thousand checks is well under a megabyte
MAX_EXISTING_BYTES = 64 * 1024 * 1024


def path_problem(path):
    """Why ``path`` cannot be the metrics file, or None."""
    if not path:
        return 'path is required: the .prom file in node_exporter\'s --collector.textfile.directory'
    if not path.endswith('.prom') or os.path.basename(path) == '.prom':
        return 'path must end in .prom (node_exporter reads only *.prom files), got %s' % path
    if os.path.basename(path).startswith(files.TEMP_PREFIX):
        return 'path must not start with %s (the name of temporary files)' % files.TEMP_PREFIX
    return None


def _read_existing(path):
    """(bytes, mode) of the current file, (None, None) when there is none."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None, None
    if not stat.S_ISREG(info.st_mode):
        raise TextfileWriteError('%s exists and is not a regular file; remove it or choose another path' % path)
    with open(path, 'rb') as handle:
        data = handle.read(MAX_EXISTING_BYTES + 1)
    return data, stat.S_IMODE(info.st_mode)


def publish_text(path, text, check_mode=False):
    """Make ``path`` hold ``text`` (mode 0644); return (changed, old text or None)."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise TextfileWriteError('the directory of %s does not exist: create it (node_exporter\'s --collector.textfile.directory) first'
                                 % path)
    data = text.encode('utf-8')
    try:
        old, mode = _read_existing(path)
    except OSError as exc:
        raise TextfileWriteError('cannot read %s: %s' % (path, exc.strerror or exc)) from None
    old_text = old.decode('utf-8', 'replace') if old is not None else None
    if old == data and mode == MODE:
        return False, old_text
    if check_mode:
        return True, old_text
    try:
        if old == data:
            os.chmod(path, MODE)
            return True, old_text
        temp_name = os.path.basename(path) + TEMP_SUFFIX
        files.remove_stale_temp_files(directory, lambda final: final == temp_name)
        with files.TempFile(directory, temp_name) as temp:
            with files.naming(temp.path), temp.writer() as handle:
                handle.write(data)
            os.chmod(temp.path, MODE)
            temp.publish(path)
    except OSError as exc:
        raise TextfileWriteError('cannot write %s: %s (the old file is left as it was)' % (path, exc.strerror or exc)) from None
    return True, old_text
