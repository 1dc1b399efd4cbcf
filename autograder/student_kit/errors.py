"""Why a student kit cannot be built."""


class KitError(Exception):
    """The kit cannot be built (a library the builder does not know how to strip, an
    answer found in it); the message says why."""


class DestinationError(KitError):
    """The destination folder cannot be used (not empty, inside the repository, ...)."""
