"""The one exception type for "the user did something wrong"."""


class UsageError(Exception):
    """A user error: the CLI prints its message as one line and exits with ``exit_code``."""

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
