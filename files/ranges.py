"""Single byte ranges (RFC 9110 §14): what ``Range: bytes=...`` asks of a file of a size."""

import re

# One range only: "a-b", "a-" or "-n". Several ranges (multipart/byteranges) are
# answered with the whole file, which RFC 9110 allows; media players ask for one.
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Unsatisfiable(Exception):
    """The range lies beyond the file: 416."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte positions, inclusive, or None to send the whole file.

    Raises Unsatisfiable for a well-formed range no byte of the file is in.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None  # a malformed or multi-range header is ignored
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - suffix), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: ignored, per the RFC
    if start >= size:
        raise Unsatisfiable
    return start, min(int(last) if last else size - 1, size - 1)
