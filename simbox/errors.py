"""Exception types of simbox.

Every error a user can cause is a :class:`SimboxError`; the command line turns it
into one line on stderr and exit status 1.  Messages say what went wrong, where
(file:line:field or file:byte offset) and what to do.
"""


def shorten(value, keep: int = 40) -> str:
    """``value`` as one short line: its first ``keep`` characters and its length when longer.

    ``shorten("x" * 3145728)`` is forty ``x`` and ``... (3145728 bytes)``.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value[:keep + 1]) if len(value) > keep else bytes(value)
        text, size, unit = raw.decode("utf-8", "backslashreplace"), len(value), "bytes"
    else:
        text, size = str(value), len(str(value))
        unit = "bytes" if text.isascii() else "characters"
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    if size <= keep and len(text) <= 2 * keep:
        return text
    return f"{text[:keep]}... ({size} {unit})"


class SimboxError(Exception):
    """Base class of every error simbox raises on purpose."""


class InputError(SimboxError, ValueError):
    """An input file or option is unusable as a whole (missing, empty, wrong header...)."""


class ParseError(InputError):
    """A record could not be parsed and the bad-record policy is ``error``.

    ``path``, ``line`` (1-based, or None), ``offset`` (byte offset, or None),
    ``field`` (or None) and ``reason`` say where and what.
    """

    def __init__(self, reason, path=None, line=None, field=None, offset=None, detail=None):
        self.reason = reason
        self.path = path
        self.line = line
        self.field = field
        self.offset = offset
        self.detail = detail
        if field:
            field = shorten(field)
        if detail:
            detail = " ".join(str(detail).split("\n"))
            if len(detail) > 300:
                detail = shorten(detail, 300)
        where = str(path) if path is not None else "<input>"
        if line is not None:
            where += f":{line}"
        if offset is not None and line is None:       # a line number says where already
            where += f" (byte {offset})"
        if field:
            where += f": field {field!r}"
        msg = f"{where}: {reason}"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class TooManyRejectsError(InputError):
    """A file or a run rejected more than the allowed share of its records."""


class EmptyInputError(InputError):
    """An input holds no records at all."""


class ConfigError(SimboxError, ValueError):
    """An option, profile or configuration file is invalid."""


class ModelError(SimboxError, ValueError):
    """A model folder is missing, corrupted, or incompatible with this simbox."""


class OutputError(SimboxError, OSError):
    """An output cannot be written (no space, read-only disk, another run writing it)."""
