# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Errors of the S3 backend; ``str()`` is always safe to show an operator (no secrets)."""

from __future__ import annotations


class S3Error(Exception):
    """Base class of every S3 backend error."""


class S3InputError(S3Error):
    """The options cannot work (no such file, no manifest, bad key)."""


class S3RequestError(S3Error):
    """The store refused or could not be reached, after the retries."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class S3IntegrityError(S3Error):
    """What was stored or fetched does not match the backup's manifest."""
