"""File names as people gave them, made safe to store, show and send back in a header."""

import unicodedata

MAX_NAME_LENGTH = 255
DEFAULT_NAME = "file"


def clean_name(raw: str | None) -> str:
    """The base name without control characters, at most 255 characters (the extension
    kept); ``file`` when nothing is left.

    Browsers send only the base name, but a script may send ``../../etc/passwd`` or
    ``C:\\\\x\\\\y.txt``: both separators count. Control and format characters
    (NUL, newlines, bidi overrides that disguise an extension) are dropped; the
    storage path never uses the name as a path (files.models.upload_path).
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C")
    name = " ".join(name.split())  # runs of whitespace, leading and trailing
    name = name.strip(".") if set(name) <= {"."} else name  # "." and ".." are no names
    if not name:
        return DEFAULT_NAME
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: MAX_NAME_LENGTH - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_NAME_LENGTH]
    return name
