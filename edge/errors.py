"""Errors the user can act on.

Every EdgeError carries a one-line message that says what went wrong and what to do next; the CLI maps
each subclass to its own exit code and prints the traceback only with --verbose.
"""


class EdgeError(Exception):
    """Base class: a problem the user can fix (bad config, missing model, unplugged device...)."""

    exit_code = 1


class ConfigError(EdgeError):
    """The configuration file or an environment override is invalid."""

    exit_code = 2


class ModelError(EdgeError):
    """A model file is missing, corrupt, has the wrong checksum or the wrong inputs."""

    exit_code = 3


class SourceError(EdgeError):
    """A camera, microphone or media file cannot be opened or read."""

    exit_code = 4


class SinkError(EdgeError):
    """An output (event store, file, broker, HTTP port) cannot be written or opened."""

    exit_code = 5


class InputError(EdgeError):
    """One input file of a batch command (edge ocr, edge listen) could not be processed."""

    exit_code = 6
