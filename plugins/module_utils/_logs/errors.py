# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Errors raised by the log backends; ``str()`` is always safe to show an operator."""

from __future__ import annotations


class LogError(Exception):
    """Base class of every log reading and parsing error."""


class LogFormatError(LogError):
    """A log format (nginx ``log_format`` string, JSON field map) that cannot be turned into a parser."""


class LogReadError(LogError):
    """A file that cannot be opened, read or decompressed (reported as a finding, never a traceback)."""


class LogWorkerError(LogError):
    """A parser process died or answered nonsense."""
