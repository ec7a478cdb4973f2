# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Errors of the textfile backend; ``str()`` is always safe to show an operator."""

from __future__ import annotations


class TextfileError(Exception):
    """Base class of every textfile error."""


class RecordError(TextfileError):
    """Check records that cannot be exported; the message names each record index and field, and the fix."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__('; '.join(self.problems))


class TextfileWriteError(TextfileError):
    """The metrics file could not be read or written (the old file, if any, is left as it was)."""
