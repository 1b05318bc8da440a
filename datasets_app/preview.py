"""The paged preview: any range of a dataset's lines, read without scanning the file.

Validation saves a LineIndex next to the file (where every K-th line starts),
so showing lines 200,000,001-200,000,020 costs one seek and at most K-1 skipped
lines, the same as the first page. Lines are numbered as the validator numbers
them: physical lines, blank ones included, a UTF-8 BOM not part of a line.
"""

import codecs
import json
from dataclasses import dataclass, field

from datasets_app.validation import LineIndex

PAGE_LINES = 20
SHOWN_BYTES = 64 * 1024  # of one line; the rest is cut off on the page
_WHOLE_FILE = 1 << 62  # the `every` of an index that only knows where line 1 is


@dataclass
class PreviewLine:
    number: int
    text: str
    cut: bool = False  # the line is longer than SHOWN_BYTES
    messages: list = field(default_factory=list)
    preferred: list = field(default_factory=list)
    non_preferred: list = field(default_factory=list)
    parsed: bool = False  # the line is a JSON object shown as an example


def line_index_of(dataset):
    try:
        return LineIndex.load(dataset.line_index_path)
    except (OSError, IndexError):
        # No index (validation has not run): read from the start of the file.
        index = LineIndex(every=_WHOLE_FILE)
        index.add(1, 0)
        return index


def read_lines(dataset, first, count, index=None):
    """Lines `first` .. `first + count - 1` (1-based) as PreviewLines."""
    index = index or line_index_of(dataset)
    number, offset = index.start_of(first)
    shown = []
    with open(dataset.file_path, "rb") as source:
        source.seek(offset)
        while number < first:
            if not _skip_line(source):
                return shown
            number += 1
        while len(shown) < count:
            raw = source.readline(SHOWN_BYTES)
            if not raw:
                break
            cut = not raw.endswith(b"\n") and len(raw) == SHOWN_BYTES
            if cut:
                _skip_line(source)
            shown.append(_preview_line(number, raw, cut))
            number += 1
    return shown


def page_of(line_number):
    return (max(line_number, 1) - 1) // PAGE_LINES + 1


def _skip_line(source):
    """Read past one line without keeping it; False at the end of the file."""
    while True:
        piece = source.readline(SHOWN_BYTES)
        if not piece:
            return False
        if piece.endswith(b"\n"):
            return True


def _preview_line(number, raw, cut):
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    line = PreviewLine(number=number, text=text, cut=cut)
    if cut:
        return line

    try:
        example = json.loads(text)
    except ValueError:
        return line
    if isinstance(example, dict):
        prompt = example.get("input") if isinstance(example.get("input"), dict) else {}
        line.messages = _messages(prompt.get("messages"))
        line.preferred = _messages(example.get("preferred_output"))
        line.non_preferred = _messages(example.get("non_preferred_output"))
        line.parsed = True
    return line


def _messages(value):
    if not isinstance(value, list):
        return []
    return [
        {"role": str(m.get("role", "?")), "content": str(m.get("content", ""))}
        for m in value
        if isinstance(m, dict)
    ]
