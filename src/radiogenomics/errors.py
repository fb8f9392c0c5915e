"""Errors a user can cause.

A :class:`UserError` carries a message that says what was wrong, where (file, field, row,
patient) and what would be right. The command line prints it without a traceback and exits with
code 2; library callers can catch it as a ``ValueError``.
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input or configuration supplied by the user."""


class ConfigError(UserError):
    """An analysis configuration that cannot be used as written."""


class InputFileError(UserError):
    """An input file that is missing, unreadable or not in the expected format."""
