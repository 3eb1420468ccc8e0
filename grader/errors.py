"""The one exception tree of grader.

Library code raises these; only the CLI catches them and turns them into one
line on stderr and exit code 2.  Messages are written for the person who has
to act on them: they name the bad value and say what was expected.
"""


class GraderError(Exception):
    """Root of every error grader raises on purpose."""

    exit_code = 2


class UsageError(GraderError):
    """A bad option, path or configuration value."""


class UnknownProblemError(UsageError):
    """A problem name that is not in the bank."""


class ParamError(UsageError):
    """A problem parameter that is missing, unknown or out of range."""


class InputFileError(UsageError):
    """A file that is missing, unreadable or malformed."""


class InvalidResponse(ValueError):
    """A response that cannot be parsed as an answer (as opposed to a wrong one).

    This is not a GraderError: grading catches it and scores the response zero
    with the message as feedback, it never reaches the CLI.
    """
