"""Errors that reach the user as one line (see utils.cli.run_main)."""


class UserError(Exception):
    """Bad input from the user: a file, a folder or a setting. Printed as one line, exit 1."""

    exit_code = 1


class ConfigError(UserError):
    """A config key is unknown, of the wrong type or out of range. Exit 2."""

    exit_code = 2


class DataError(UserError):
    """A data file or folder is missing, malformed or inconsistent."""
