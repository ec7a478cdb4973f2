# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Errors raised by the report backends; ``str()`` is always safe to show an operator (no secret in it)."""

from __future__ import annotations


class ReportError(Exception):
    """Base class of every report error."""


class ReportDataError(ReportError):
    """The report data (option ``data`` or the file ``data_file``) is not what the contract describes; names the field."""


class DeliveryError(ReportError):
    """The report could not be delivered by SMTP or to the webhook (the files were written before)."""
