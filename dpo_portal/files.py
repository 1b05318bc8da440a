"""File names that users send (multipart, tus metadata): kept only as labels, and
made safe to show and store; paths on disk never come from them."""

import os
import unicodedata

MAX_NAME = 255


def safe_file_name(name):
    """The last path part, without control characters, at most 255 characters."""
    text = str(name).replace("\\", "/")
    text = os.path.basename(text)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = text.strip().lstrip(".")
    return text[:MAX_NAME] or "upload.jsonl"
