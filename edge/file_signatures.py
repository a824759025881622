"""How the files an output must never be written over begin: models, databases, images, videos. Only known formats:
a log torn by a power cut may hold NUL bytes, and a store damaged past its header is still a store (the sink moves it
aside), so a file counts as one of these only by its signature."""

from __future__ import annotations

from pathlib import Path

from edge.detectors import TFLITE_IDENTIFIER, TFLITE_IDENTIFIER_AT

SQLITE_HEADER = b"SQLite format 3\x00"
SQLITE_FORMAT = "an SQLite database"
TFLITE_FORMAT = "a TFLite model"
# (offset, bytes, what the file is)
SIGNATURES = (
    (0, SQLITE_HEADER, SQLITE_FORMAT),
    (TFLITE_IDENTIFIER_AT.start, TFLITE_IDENTIFIER, TFLITE_FORMAT),
    (0, b"PK\x03\x04", "a zip file (a .keras model?)"),
    (0, b"\x89HDF", "an HDF5 (.h5) model"),
    (4, b"ftyp", "an MP4/MOV video"),
    (0, b"RIFF", "a RIFF file (an AVI video, WebP image or WAV sound)"),
    (0, b"\x1aE\xdf\xa3", "a Matroska (.mkv) video"),
    (0, b"\x89PNG", "a PNG image"),
    (0, b"\xff\xd8\xff", "a JPEG image"),
)
SIGNATURE_BYTES = max(offset + len(magic) for offset, magic, _ in SIGNATURES)


def known_format(path: Path) -> str | None:
    """What the file at `path` is by its first bytes ("a TFLite model"), or None: no such file, not a regular file
    (a device, pipe or folder: their users report those), unreadable (opening it reports that), or no known
    signature."""
    try:
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            head = handle.read(SIGNATURE_BYTES)
    except OSError:
        return None
    return next((name for offset, magic, name in SIGNATURES if head[offset:offset + len(magic)] == magic), None)
