# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Errors raised by the backup backends; ``str()`` is always safe to show an operator."""

from __future__ import annotations


class BackupError(Exception):
    """Base class of every backup, verification and restore error."""


class BackupInputError(BackupError):
    """The options cannot work (missing directory, unknown backup, bad name)."""


class BackupLockedError(BackupError):
    """Another run holds the lock of this database's backups."""


class BackupToolError(BackupError):
    """pg_dump, pg_restore or psql failed or is unusable."""


class BackupSpaceError(BackupError):
    """Not enough free disk space to run safely."""


class BackupIntegrityError(BackupError):
    """A stored file does not match its manifest (checksum, size, decompression, contents)."""
