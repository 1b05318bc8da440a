"""The DPO dataset validator: one JSON object per line, checked as a stream.

`validate_file()` reads a file in blocks of whole lines, in bounded memory, and
returns a `ValidationReport`: each error and warning with its physical line number
(the N-th `\\n`-terminated line, blank lines included, a UTF-8 BOM not a line), its
field path (`preferred_output[0].role`), what was found and what is accepted; totals
per kind; and statistics of the valid examples. A block whose lines are all plain
valid examples is accepted by the fast path (fast_check.py); any other line gets the
detailed checks below, so both give the same report. No Django: the worker, the
management command and the tests call it directly.
"""

import codecs
import gc
import hashlib
import json
import os
import sys
from array import array
from bisect import bisect_right
from collections import Counter, _count_elements
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from datasets_app import histograms
from datasets_app.duplicates import repeated_lines
from datasets_app.fast_check import (
    PARSED,
    block_facts,
    decode_block,
    decode_line,
    to_dict,
)

ROLES = ("system", "user", "assistant")
OUTPUT_ROLES = ("assistant",)
OUTPUT_FIELDS = ("preferred_output", "non_preferred_output")
TOP_LEVEL_KEYS = frozenset(("input", *OUTPUT_FIELDS))
INPUT_KEYS = frozenset(("messages", "tools"))
MESSAGE_KEYS = frozenset(("role", "content"))

# Role names other chat formats use (ShareGPT, Gemini, prompt tools), lowercased, with
# the role they most likely mean here.
ROLE_ALIASES = {
    "human": "user",
    "humans": "user",
    "usr": "user",
    "person": "user",
    "prompter": "user",
    "question": "user",
    "gpt": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "ai": "assistant",
    "chatbot": "assistant",
    "chatgpt": "assistant",
    "answer": "assistant",
    "response": "assistant",
    "system_prompt": "system",
    "systemprompt": "system",
    "sys": "system",
    "developer": "system",
    "instruction": "system",
}
TOOL_ROLES = ("tool", "function", "ipython", "tool_result")

KEPT_IN_FULL = 100  # errors, and separately warnings, kept with their text
PROGRESS_EVERY = 1 << 20  # bytes between progress calls
MAX_LINE_BYTES = 8 << 20  # longer lines are reported, not parsed, to bound memory
BLOCK_BYTES = 1 << 16  # read at a time; under malloc's mmap threshold (128 KiB)
HASH_PIECE_BYTES = 4 << 20  # read at a time for the file's SHA-256
PARALLEL_MIN_BYTES = 32 << 20  # smaller files are not worth the processes
QUOTE_LIMIT = 60  # characters of a found value shown in a message

BOM = codecs.BOM_UTF8
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass
class ValidationReport:
    """What validate_file found. `errors` and `warnings` hold the first KEPT_IN_FULL
    of each as {line, path, code, message} (`line` None for the whole file), the
    `*_by_code` totals count them all; `stats` describe the valid examples."""

    example_count: int = 0
    error_count: int = 0
    invalid_lines: int = 0
    errors: list = field(default_factory=list)
    errors_by_code: dict = field(default_factory=dict)
    warning_count: int = 0
    warnings: list = field(default_factory=list)
    warnings_by_code: dict = field(default_factory=dict)
    blank_lines: int = 0
    line_count: int = 0
    bytes: int = 0
    sha256: str = ""
    stats: dict = field(default_factory=dict)

    @property
    def valid(self):
        return self.error_count == 0

    def to_dict(self):
        return {"valid": self.valid, **asdict(self)}


def validate_file(
    path,
    declared_count=None,
    progress=None,
    min_examples=3,
    max_examples=3_000_000,
    on_example=None,
    line_index=None,
    sha256=None,
    workers=1,
):
    """Validate the JSONL file at `path` and return its ValidationReport.

    `progress(bytes_done, bytes_total)` is called about every MiB and once at the end;
    `on_example(line_number, example)` for each valid example; `line_index`, a
    LineIndex, gets the byte offset of every K-th line for the paged preview;
    `sha256`, the file's digest when the caller already has it (an upload computes
    it), spares hashing the file again. `example_count` counts the non-blank lines,
    valid or not, since that is what a client declares. With `workers` > 1 a
    large file is validated in that many processes, each on a part of it
    (validation_parallel.py). Raises OSError when the file cannot be read.
    """
    size = os.path.getsize(path)
    if workers > 1 and on_example is None and size >= PARALLEL_MIN_BYTES:
        from datasets_app.validation_parallel import validate_in_parallel

        done = validate_in_parallel(
            path, workers, progress, min_examples, max_examples, line_index, sha256
        )
        if done is not None:
            validation, digest = done
            validation.finish(declared_count)
            return validation.report(size, digest)

    validation = _Validation(min_examples, max_examples, on_example, line_index)
    with open(path, "rb") as file, ThreadPoolExecutor(max_workers=1) as hasher:
        hashing = None if sha256 else hasher.submit(_sha256_of, path)
        counter = _ByteCounter(os.fstat(file.fileno()).st_size, progress)
        scan(validation, file, counter)
        counter.finish()
        digest = hashing.result() if hashing else sha256

    validation.finish(declared_count)
    return validation.report(counter.done, digest)


def scan(validation, file, counter, offset=0):
    """Feed the file's lines, from its position (byte `offset`) on, to `validation`."""
    # The objects made here hold no reference cycles, and the collector's passes
    # over millions of fresh lists cost about a tenth of the time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for start, piece in _pieces(file, counter, offset):
            if isinstance(piece, _LongLine):
                validation.read_line(piece.head, piece.length, start)
            else:
                validation.read_block(piece, start)
    finally:
        if collecting:
            gc.enable()


class LineIndex:
    """Where lines start: the byte offset of every `every`-th physical line.

    Entries are (line number, offset) pairs, lines 1, K+1, 2K+1, ... of a file
    validated in one process; a file validated in parts (validation_parallel.py)
    counts each part's K-th lines from the part's own start, so entries are at
    most K lines apart either way. Any line is found by one seek and at most K-1
    reads. Saved as little-endian unsigned 64-bit numbers: a marker, K, the count,
    the line numbers, the offsets; 3 million lines at K = 100 take 480 kB. A file
    in the first format (K, then the offsets of lines 1, K+1, ...) still loads.
    """

    MARKER = 0x4450_4F4C_494E_4531  # "DPOLINE1"; no K of the first format

    def __init__(self, every=100):
        self.every = every
        self.lines = array("Q")
        self.offsets = array("Q")

    def add(self, line_number, offset):
        if (line_number - 1) % self.every == 0:
            self.lines.append(line_number)
            self.offsets.append(offset)

    def save(self, path):
        numbers = array("Q", [self.MARKER, self.every, len(self.lines)])
        numbers += self.lines
        numbers += self.offsets
        if sys.byteorder != "little":
            numbers.byteswap()
        temporary = f"{path}.tmp"
        with open(temporary, "wb") as out:
            numbers.tofile(out)
        os.replace(temporary, path)

    @classmethod
    def load(cls, path):
        numbers = array("Q")
        with open(path, "rb") as source:
            numbers.frombytes(source.read())
        if sys.byteorder != "little":
            numbers.byteswap()
        if numbers[0] != cls.MARKER:
            index = cls(every=numbers[0])
            index.offsets = numbers[1:]
            index.lines = array(
                "Q", range(1, len(index.offsets) * index.every + 1, index.every)
            )
            return index
        index = cls(every=numbers[1])
        count = numbers[2]
        index.lines = numbers[3 : 3 + count]
        index.offsets = numbers[3 + count : 3 + 2 * count]
        return index

    def start_of(self, line_number):
        """The (line number, offset) of the indexed line at or before `line_number`."""
        slot = bisect_right(self.lines, line_number) - 1
        if slot < 0:
            return 1, 0
        return self.lines[slot], self.offsets[slot]


def check_example(example):
    """Check one parsed example against the DPO format.

    Returns `(errors, warnings)`, two lists of `(path, code, message)`.
    """
    findings = _Findings()
    if not isinstance(example, dict):
        findings.error(
            "",
            "not_an_object",
            f"The line is {_found(example)}, but each line must be one JSON object: "
            "a DPO example with 'input', 'preferred_output' and "
            "'non_preferred_output'.",
        )
        return findings.errors, findings.warnings

    if "input" not in example and _is_other_dataset_format(example, findings):
        return findings.errors, findings.warnings

    _warn_unknown_keys(example, TOP_LEVEL_KEYS, "", findings)
    _check_input(example, findings)
    preferred = _check_output(example, "preferred_output", findings)
    non_preferred = _check_output(example, "non_preferred_output", findings)

    if not findings.errors and _same_answer(preferred, non_preferred):
        findings.warn(*_identical_outputs_warning())
    return findings.errors, findings.warnings


def _identical_outputs_warning():
    return (
        "non_preferred_output[0].content",
        "identical_outputs",
        "preferred_output and non_preferred_output have the same content, so the "
        "pair gives no learning signal.",
    )


# Reading the file.


class _ByteCounter:
    """Counts the bytes as they are read and reports progress about every MiB."""

    def __init__(self, size, progress):
        self.size = size
        self.progress = progress
        self.done = 0
        self.reported = 0

    def add(self, chunk):
        self.done += len(chunk)
        if self.progress is not None and self.done - self.reported >= PROGRESS_EVERY:
            self.progress(self.done, max(self.size, self.done))
            self.reported = self.done

    def finish(self):
        if self.progress is not None:
            self.progress(self.done, max(self.size, self.done))


def _sha256_of(path):
    """The file's SHA-256, read in large pieces: hashlib lets go of the GIL while
    it hashes one, so in a thread this runs beside the checks on a second core."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while piece := file.read(HASH_PIECE_BYTES):
            digest.update(piece)
    return digest.hexdigest()


@dataclass
class _LongLine:
    head: bytes  # the first MAX_LINE_BYTES bytes
    length: int  # the whole line's length, its newline included


def _pieces(file, counter, offset=0):
    """Yield `(offset, block)` for runs of whole `\\n`-terminated lines (the last
    line may lack its newline), and `(offset, _LongLine)` for a line longer than
    MAX_LINE_BYTES, which is read and counted but not kept, so that a whole dataset
    written on one line is never held in memory."""
    pending = []  # pieces of a line whose end is not read yet
    pending_bytes = 0
    while True:
        piece = file.read(BLOCK_BYTES)
        if not piece:
            break
        counter.add(piece)
        last = piece.rfind(b"\n")
        if pending_bytes + len(piece) <= MAX_LINE_BYTES:
            if last == -1:
                # Joined once the line ends, not once per piece: a long line
                # costs one copy, not one per piece read.
                pending.append(piece)
                pending_bytes += len(piece)
                continue
            # The common case: no line can be too long, so the block is cut
            # at the piece's last newline with a single copy.
            block = b"".join([*pending, memoryview(piece)[: last + 1]])
            yield offset, block
            offset += len(block)
            rest = piece[last + 1 :]
            pending = [rest] if rest else []
            pending_bytes = len(rest)
            continue

        data = b"".join([*pending, piece]) if pending else piece

        cut = _end_of_short_lines(data)
        if cut:
            yield offset, data[:cut]
            offset += cut
            data = data[cut:]

        if len(data) > MAX_LINE_BYTES:
            long_line, rest = _read_long_line(file, counter, data)
            yield offset, long_line
            offset += long_line.length
            data = rest
        pending = [data] if data else []
        pending_bytes = len(data)

    if pending:
        yield offset, b"".join(pending)


def _end_of_short_lines(data):
    """Where the whole lines at the start of `data` end, stopping before a line
    longer than MAX_LINE_BYTES (its newline included)."""
    last = data.rfind(b"\n") + 1
    if last <= MAX_LINE_BYTES:
        return last  # no line that ends before `last` can be longer

    position = 0
    while position < last:
        end = data.find(b"\n", position, position + MAX_LINE_BYTES)
        if end == -1:
            break
        position = end + 1
    return position


def _read_long_line(file, counter, data):
    """Consume a line longer than MAX_LINE_BYTES that starts `data`; return it as a
    _LongLine and the bytes after its newline."""
    head = data[:MAX_LINE_BYTES]
    length = 0
    while True:
        end = data.find(b"\n")
        if end != -1:
            return _LongLine(head, length + end + 1), data[end + 1 :]
        length += len(data)
        data = file.read(BLOCK_BYTES)
        if not data:
            return _LongLine(head, length), b""
        counter.add(data)


class _Validation:
    """The state of one pass over a file: counters, kept issues, statistics."""

    def __init__(self, min_examples, max_examples, on_example, line_index):
        self.min_examples = min_examples
        self.max_examples = max_examples
        self.on_example = on_example
        self.line_index = line_index
        self.line_count = 0
        self.blank_lines = 0
        self.example_count = 0
        self.invalid_lines = 0
        self.stopped = False  # the file is not JSONL at all; further lines are noise
        # A part of a file after its start has no first line to diagnose.
        self.diagnose_first = True
        self.errors = _Tally()
        self.warnings = _Tally()
        # The key of each valid example and its line, in line order: duplicates
        # are found once the whole file is read (duplicates.py).
        self.keys = array("q")  # hash() values: signed 64-bit
        self.key_lines = array("I")
        self.statistics = _Statistics()

    def read_block(self, block, offset):
        """Check a block of whole lines that starts at byte `offset`."""
        if not self.stopped and self._read_typed_block(block, offset):
            return

        # Some line needs a closer look: go line by line, each still trying the
        # fast path first.
        lines = block.split(b"\n")
        ended = block.endswith(b"\n")
        if ended:
            lines.pop()  # the empty string after the last newline
        last = len(lines) - 1
        for position, line in enumerate(lines):
            length = len(line) + (1 if ended or position < last else 0)
            self.read_line(line, length, offset)
            offset += length

    def _read_typed_block(self, block, offset):
        """The fast path: True if every line of the block is a valid example with
        no warning of its own, and so has been counted; False, with nothing
        counted, otherwise."""
        examples = decode_block(block)
        if examples is None:
            return False
        count = len(examples)
        # Only an empty block decodes to fewer values than it has lines.
        if not count or self.example_count + count > self.max_examples:
            return False
        facts = block_facts(examples)
        if facts is None:
            return False

        first = self.line_count + 1
        if self.line_index is not None:
            self._index_block(block, offset, first, count)
        self.line_count += count
        self.example_count += count
        self._take(first, facts)
        if self.on_example is not None:
            for number, example in enumerate(examples, start=first):
                self.on_example(number, to_dict(example))
        return True

    def _index_block(self, block, offset, first, count):
        every = self.line_index.every
        wanted = first + (1 - first) % every  # the first indexed line in the block
        line, position = first, 0
        while wanted < first + count:
            for _ in range(wanted - line):
                position = block.index(b"\n", position) + 1
            line = wanted
            self.line_index.lines.append(wanted)
            self.line_index.offsets.append(offset + position)
            wanted += every

    def read_line(self, line, length, offset):
        """Check one physical line: `line` without its newline (only its start if
        it is too long), `length` its full length, `offset` where it starts."""
        # A BOM starts files that Windows tools write, and lines of files joined with
        # `cat`; it is not content. Alone at the end of the file it is not a line.
        if line.startswith(BOM):
            line = line[len(BOM) :]
            if not line and length == len(BOM):
                return

        self.line_count += 1
        if self.line_index is not None:
            self.line_index.add(self.line_count, offset)
        if self.stopped:
            return

        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            self.blank_lines += 1
            return

        # Past the limit the file is refused anyway; only the count still matters.
        self.example_count += 1
        if self.example_count > self.max_examples:
            return

        self._check_line(self.line_count, line, length > MAX_LINE_BYTES)

    def _check_line(self, number, line, too_long):
        first = self.example_count == 1 and self.diagnose_first
        if first and self._is_not_jsonl(number, line):
            self._stop()
            return

        if too_long:
            self._record(number, [_line_too_long()], [])
            return

        typed = decode_line(line)
        facts = block_facts([typed]) if typed is not None else None
        if facts is not None:
            self._accept(number, facts, typed)
            return

        text = self._decode(number, line)
        if text is None:
            return

        example = self._parse(number, text, first)
        if example is _UNPARSED:
            return

        errors, warnings = check_example(example)
        self._record(number, errors, warnings)
        if not errors:
            facts = block_facts([example], PARSED)
            # check_example has worded the identical-outputs warning already.
            self._accept(number, facts, example, warn_identical=False)

    def _stop(self):
        # The file holds no examples in the sense of this format, so none are counted
        # and the checks of the remaining lines, all noise, are skipped.
        self.stopped = True
        self.example_count = 0

    def _is_not_jsonl(self, number, line):
        """Diagnose, on the first non-blank line, a file that is not JSONL at all."""
        start = line.lstrip()
        if start.startswith(UTF16_BOMS) or b"\x00" in line:
            self._record(number, [_utf16_error()], [])
            return True

        if start.startswith(b"["):
            self._record(number, [_json_array_error()], [])
            return True

        return False

    def _decode(self, number, line):
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError as problem:
            self._record(
                number, [("", "invalid_utf8", _utf8_message(line, problem))], []
            )
            return None

    def _parse(self, number, text, first):
        try:
            example = json.loads(text)
        except json.JSONDecodeError as problem:
            if first and _continues_on_next_line(text, problem):
                self._stop()
                self._record(number, [_multiline_json_error(number)], [])
            else:
                self._record(number, [_invalid_json_error(text, problem)], [])
            return _UNPARSED
        except RecursionError:
            message = "The line's JSON is nested too deeply to be a DPO example."
            self._record(number, [("", "invalid_json", message)], [])
            return _UNPARSED
        except ValueError:
            # Python refuses integers of more than 4300 digits (a DoS guard).
            message = (
                "The line holds a number too long to read (over 4300 digits); "
                "no field of a DPO example is a number that long."
            )
            self._record(number, [("", "invalid_json", message)], [])
            return _UNPARSED
        if "\\ud" in text.lower() and _has_lone_surrogate(example):
            message = (
                "The line escapes half of a UTF-16 surrogate pair (\\ud800-\\udfff "
                "without its other half): that is no character. Write the character "
                "itself, or both halves of the pair."
            )
            self._record(number, [("", "invalid_unicode", message)], [])
            return _UNPARSED
        return example

    def _record(self, number, errors, warnings):
        for path, code, message in errors:
            self.errors.add(number, path, code, message)
        for path, code, message in warnings:
            self.warnings.add(number, path, code, message)
        if errors:
            self.invalid_lines += 1

    def _accept(self, number, facts, example, warn_identical=True):
        self._take(number, facts, warn_identical)
        if self.on_example is not None:
            if not isinstance(example, dict):
                example = to_dict(example)
            self.on_example(number, example)

    def _take(self, first, facts, warn_identical=True):
        """Count valid examples on lines `first`, `first` + 1, ... from their facts."""
        self.statistics.add(facts)
        for position in facts.identical if warn_identical else ():
            self.warnings.add(first + position, *_identical_outputs_warning())
        self.keys.extend(facts.keys)
        self.key_lines.extend(range(first, first + len(facts.keys)))

    def finish(self, declared_count):
        """Add the file-level errors: no examples, too few or many, a wrong count."""
        # A file that is not JSONL has its one error saying so; counts would be noise.
        if self.stopped:
            return

        self._warn_of_duplicates()
        count = self.example_count
        if count == 0:
            self.errors.add_for_file("empty_file", self._empty_message())
        elif count < self.min_examples or count > self.max_examples:
            self.errors.add_for_file("example_count", self._count_message())

        if declared_count is not None and declared_count != count:
            self.errors.add_for_file(
                "declared_count_mismatch",
                f"The upload declared {declared_count:,} examples, but the file has "
                f"{count:,} (one per non-blank line). Check that the whole file was "
                "uploaded and that the declared count is right.",
            )

    def _warn_of_duplicates(self):
        repeats = repeated_lines(self.keys, self.key_lines)
        self.statistics.duplicates = len(repeats)
        kept = [
            {
                "line": line,
                "path": "",
                "code": "duplicate_example",
                "message": duplicate_message(original),
            }
            for line, original in repeats[:KEPT_IN_FULL]
        ]
        self.warnings.merge_kept(kept, "duplicate_example", len(repeats))

    def _empty_message(self):
        if self.line_count == 0:
            return (
                "The file is empty; it needs at least "
                f"{self.min_examples:,} examples, one JSON object per line."
            )
        return (
            f"The file has only blank lines ({self.blank_lines:,}); it needs at least "
            f"{self.min_examples:,} examples, one JSON object per line."
        )

    def _count_message(self):
        count = self.example_count
        if count > self.max_examples:
            return (
                f"The file has {count:,} examples; at most {self.max_examples:,} are "
                f"accepted, so only the first {self.max_examples:,} were checked. "
                "Split the file or remove examples."
            )
        return (
            f"The file has {count:,} example{'s' if count != 1 else ''}; between "
            f"{self.min_examples:,} and {self.max_examples:,} are accepted."
        )

    def report(self, size, sha256):
        return ValidationReport(
            example_count=self.example_count,
            error_count=self.errors.total,
            invalid_lines=self.invalid_lines,
            errors=self.errors.listed(),
            errors_by_code=dict(self.errors.by_code),
            warning_count=self.warnings.total,
            warnings=self.warnings.listed(),
            warnings_by_code=dict(self.warnings.by_code),
            blank_lines=self.blank_lines,
            line_count=self.line_count,
            bytes=size,
            sha256=sha256,
            stats=self.statistics.summary(),
        )


def duplicate_message(original):
    return (
        f"This example is an exact duplicate of line {original}; duplicates give "
        "that pair more weight in training."
    )


_UNPARSED = object()


class _Tally:
    """Counts issues of one severity and keeps the first KEPT_IN_FULL in full.

    File-level issues (few, and the ones a user reads first) are always kept.
    """

    def __init__(self):
        self.total = 0
        self.by_code = {}
        self.for_file = []
        self.kept = []

    def is_full(self):
        return len(self.kept) >= KEPT_IN_FULL

    def count(self, code):
        self.total += 1
        self.by_code[code] = self.by_code.get(code, 0) + 1

    def add(self, line, path, code, message):
        self.total += 1
        self.by_code[code] = self.by_code.get(code, 0) + 1
        if len(self.kept) < KEPT_IN_FULL:
            self.kept.append(
                {"line": line, "path": path, "code": code, "message": message}
            )

    def add_for_file(self, code, message):
        self.total += 1
        self.by_code[code] = self.by_code.get(code, 0) + 1
        self.for_file.append(
            {"line": None, "path": "", "code": code, "message": message}
        )

    def merge_kept(self, issues, code, count):
        """Count `count` issues of `code`, of which `issues`, in line order, are
        the first; keep the first KEPT_IN_FULL of all, in line order."""
        if not count:
            return
        self.total += count
        self.by_code[code] = self.by_code.get(code, 0) + count
        merged = self.kept + issues
        merged.sort(key=lambda issue: issue["line"])  # stable: a line's order holds
        self.kept = merged[:KEPT_IN_FULL]

    def listed(self):
        return self.for_file + self.kept


class _Statistics:
    """Length and turn counts of the valid examples, as exact histograms
    (histograms.py)."""

    LENGTHS = ("prompt_chars", "preferred_chars", "non_preferred_chars")

    def __init__(self):
        self.examples = 0
        self.histograms = {name: Counter() for name in (*self.LENGTHS, "turns")}
        self.with_system = 0
        self.with_tools = 0
        self.identical_pairs = 0
        self.duplicates = 0

    def add(self, facts):
        """Count the valid examples of a fast_check.BlockFacts."""
        self.examples += len(facts.keys)
        for name, histogram in self.histograms.items():
            # What Counter.update runs for a list, without its checks first: they
            # cost more than the counting for a block of a few dozen examples.
            _count_elements(histogram, getattr(facts, name))
        self.with_system += facts.with_system
        self.with_tools += facts.with_tools
        self.identical_pairs += len(facts.identical)

    def merge(self, later):
        self.examples += later.examples
        for name, histogram in self.histograms.items():
            histogram.update(later.histograms[name])
        self.with_system += later.with_system
        self.with_tools += later.with_tools
        self.identical_pairs += later.identical_pairs

    def summary(self):
        result = {name: self._lengths(name) for name in self.LENGTHS}
        result.update(
            valid_examples=self.examples,
            turns=self._lengths("turns"),
            system_prompt_share=self._share(self.with_system),
            tools_share=self._share(self.with_tools),
            identical_pairs=self.identical_pairs,
            duplicates=self.duplicates,
        )
        return result

    def _lengths(self, name):
        return histograms.summary(self.histograms[name])

    def _share(self, count):
        return round(count / self.examples, 4) if self.examples else 0.0


# Checks of one example. Each adds (path, code, message) findings; a message says
# where, what was found and what is accepted.


class _Findings:
    __slots__ = ("errors", "warnings")

    def __init__(self):
        self.errors = []
        self.warnings = []

    def error(self, path, code, message):
        self.errors.append((path, code, message))

    def warn(self, path, code, message):
        self.warnings.append((path, code, message))


def _is_other_dataset_format(example, findings):
    """Name the format of a row written for another kind of training, if it is one."""
    if "messages" in example:
        findings.error(
            "",
            "sft_format",
            "This row has top-level 'messages', the chat (SFT) format. A DPO example "
            "needs 'input': {'messages': [...]} holding the prompt, which ends with a "
            "user message, plus 'preferred_output' and 'non_preferred_output', each an "
            "array with the one assistant message that answers it.",
        )
        return True

    if "chosen" in example or "rejected" in example:
        findings.error(
            "",
            "chosen_rejected_format",
            "This row uses the prompt/chosen/rejected format of TRL and Hugging Face "
            "preference datasets. Here the prompt goes in 'input': {'messages': "
            "[...]}, 'chosen' becomes 'preferred_output' and 'rejected' becomes "
            "'non_preferred_output', each an array with one assistant message.",
        )
        return True

    return False


def _warn_unknown_keys(container, known, path, findings):
    if known.issuperset(container):
        return

    prefix = f"{path}." if path else ""
    for key in container:
        if key not in known:
            findings.warn(
                f"{prefix}{key}",
                "unknown_key",
                f"{prefix}{key} is not part of the DPO format and is ignored.",
            )


def _check_input(example, findings):
    if "input" not in example:
        findings.error(
            "input",
            "missing_field",
            "The example has no 'input'; it needs an 'input' object whose 'messages' "
            "hold the prompt that both outputs answer.",
        )
        return

    prompt = example["input"]
    if not isinstance(prompt, dict):
        hint = ""
        if isinstance(prompt, list):
            hint = " Put the messages under 'messages': {'messages': [...]}."
        elif isinstance(prompt, str):
            hint = (
                " Put the prompt in a user message: {'messages': [{'role': 'user', "
                "'content': ...}]}."
            )
        findings.error(
            "input",
            "wrong_type",
            f"input is {_found(prompt)}; it must be an object with 'messages' (and "
            f"optionally 'tools').{hint}",
        )
        return

    _warn_unknown_keys(prompt, INPUT_KEYS, "input", findings)
    _check_tools(prompt, findings)
    _check_messages(prompt, findings)


def _check_tools(prompt, findings):
    if "tools" not in prompt:
        return

    tools = prompt["tools"]
    if not isinstance(tools, list):
        findings.error(
            "input.tools",
            "wrong_type",
            f"input.tools is {_found(tools)}; it must be an array of tool definitions "
            "(objects), or be left out.",
        )
        return

    for index, tool in enumerate(tools):
        if not isinstance(tool, dict):
            findings.error(
                f"input.tools[{index}]",
                "wrong_type",
                f"input.tools[{index}] is {_found(tool)}; each tool definition must be "
                "an object, such as {'type': 'function', 'function': {...}}.",
            )


def _check_messages(prompt, findings):
    if "messages" not in prompt:
        findings.error(
            "input.messages",
            "missing_field",
            "input has no 'messages'; it needs an array of messages that ends with "
            "a user message.",
        )
        return

    messages = prompt["messages"]
    if not isinstance(messages, list):
        findings.error(
            "input.messages",
            "wrong_type",
            f"input.messages is {_found(messages)}; it must be an array of messages, "
            "each {'role': ..., 'content': ...}.",
        )
        return

    if not messages:
        findings.error(
            "input.messages",
            "empty_messages",
            "input.messages is empty; it needs at least one user message (after an "
            "optional system message).",
        )
        return

    roles = []
    for index, message in enumerate(messages):
        role, _ = _check_message(message, f"input.messages[{index}]", ROLES, findings)
        roles.append(role)

    # The order only means something once every role is readable.
    if None not in roles:
        _check_turn_order(roles, findings)


def _check_turn_order(roles, findings):
    for index, role in enumerate(roles[1:], start=1):
        if role == "system":
            findings.error(
                f"input.messages[{index}].role",
                "bad_turn_order",
                f"input.messages[{index}] is a system message; a system message is "
                "accepted only as the first message.",
            )

    turns = [(index, role) for index, role in enumerate(roles) if role != "system"]
    if not turns:
        findings.error(
            "input.messages",
            "bad_turn_order",
            "input.messages has only a system message; a user message must follow it.",
        )
        return

    broken_at = _check_alternation(turns, findings)
    last_index, last_role = turns[-1]
    if last_role == "assistant" and broken_at != last_index:
        findings.error(
            f"input.messages[{last_index}].role",
            "bad_turn_order",
            "input.messages ends with an assistant message; the last input message "
            "must be from the user, because preferred_output and non_preferred_output "
            "are the next assistant turn.",
        )


def _check_alternation(turns, findings):
    """Report the first break in user/assistant alternation; return its index."""
    for position, (index, role) in enumerate(turns):
        expected = "user" if position % 2 == 0 else "assistant"
        if role == expected:
            continue

        path = f"input.messages[{index}].role"
        if position == 0:
            message = (
                f"input.messages[{index}] is an assistant message, but the "
                "conversation must start with a user message (after an optional "
                "system message)."
            )
        else:
            message = (
                f"input.messages[{index}] is a second {role} message in a row; user "
                "and assistant messages must alternate."
            )
        findings.error(path, "bad_turn_order", message)
        return index
    return None


def _check_message(message, path, accepted_roles, findings):
    """Check one message object; return its (role, content), None where invalid."""
    if not isinstance(message, dict):
        findings.error(
            path,
            "wrong_type",
            f"{path} is {_found(message)}; a message must be an object with 'role' "
            "and 'content'.",
        )
        return None, None

    role = _check_role(message, path, accepted_roles, findings)
    content = _check_content(message, path, findings)
    if "role" in message and "content" in message:
        _warn_unknown_keys(message, MESSAGE_KEYS, path, findings)
    return role, content


def _check_role(message, path, accepted_roles, findings):
    if "role" not in message:
        hint = ""
        if "from" in message:
            hint = (
                " This looks like the ShareGPT format: use 'role' instead of 'from' "
                "and 'content' instead of 'value'."
            )
        findings.error(
            f"{path}.role",
            "missing_field",
            f"{path} has no 'role'; {_accepted_roles_text(accepted_roles)}.{hint}",
        )
        return None

    role = message["role"]
    if isinstance(role, str) and role in accepted_roles:
        return role

    findings.error(
        f"{path}.role",
        "invalid_role",
        f"{path}.role is {_found(role)}; {_accepted_roles_text(accepted_roles)}."
        f"{_role_hint(role, accepted_roles)}",
    )
    return None


def _accepted_roles_text(accepted_roles):
    if accepted_roles == OUTPUT_ROLES:
        return "an output message must have the role 'assistant'"
    return "the accepted roles are 'system', 'user' and 'assistant'"


def _role_hint(role, accepted_roles):
    if not isinstance(role, str):
        return ""

    spelled = role.strip().lower()
    if spelled in TOOL_ROLES:
        return (
            " Tool messages are not supported in DPO inputs; tool definitions go in "
            "input.tools."
        )

    meant = ROLE_ALIASES.get(spelled, spelled)
    if meant not in accepted_roles:
        return ""
    if meant == spelled:
        return f" Roles are lowercase: did you mean '{meant}'?"
    return f" Did you mean '{meant}'?"


def _check_content(message, path, findings):
    if "content" not in message:
        findings.error(
            f"{path}.content",
            "missing_field",
            f"{path} has no 'content'; a message needs its text as a string in "
            "'content'.",
        )
        return None

    content = message["content"]
    if isinstance(content, str):
        return content

    hint = ""
    if isinstance(content, list):
        hint = (
            " A list of content parts (as multimodal chat formats write it) is not "
            "supported: join the text parts into one string."
        )
    findings.error(
        f"{path}.content",
        "content_not_string",
        f"{path}.content is {_found(content)}; content must be a string.{hint}",
    )
    return None


def _check_output(example, name, findings):
    """Check preferred_output or non_preferred_output; return its content if valid."""
    if name not in example:
        findings.error(
            name,
            "missing_field",
            f"The example has no '{name}'; each example needs preferred_output and "
            "non_preferred_output, each an array with one assistant message.",
        )
        return None

    output = example[name]
    if not _is_one_message_array(output, name, findings):
        return None

    path = f"{name}[0]"
    role, content = _check_message(output[0], path, OUTPUT_ROLES, findings)
    if content is not None and not content.strip():
        findings.error(
            f"{path}.content",
            "empty_content",
            f"{path}.content is empty (or only whitespace); an output message needs "
            "the answer's text.",
        )
        return None

    return content if role is not None else None


def _is_one_message_array(output, name, findings):
    if isinstance(output, dict):
        findings.error(
            name,
            "wrong_type",
            f"{name} is an object; it must be an array holding that one message: "
            "wrap it in [ ].",
        )
        return False

    if not isinstance(output, list):
        findings.error(
            name,
            "wrong_type",
            f"{name} is {_found(output)}; it must be an array with one assistant "
            "message, like [{'role': 'assistant', 'content': '...'}].",
        )
        return False

    if len(output) != 1:
        found = "is empty" if not output else f"has {len(output)} messages"
        findings.error(
            name,
            "output_count",
            f"{name} {found}; exactly one assistant message is accepted, the next "
            "turn after the input.",
        )
        return False

    return True


def _same_answer(preferred, non_preferred):
    return (
        preferred is not None
        and non_preferred is not None
        and preferred.strip() == non_preferred.strip()
    )


# Messages about lines that are not DPO examples at all.


def _json_array_error():
    return (
        "",
        "json_array",
        "The file is a JSON array, not JSONL: each line must be one JSON object (one "
        "example per line). Convert it with: jq -c '.[]' file.json > file.jsonl",
    )


def _multiline_json_error(number):
    return (
        "",
        "multiline_json",
        f"Line {number} starts a JSON object that continues on the next lines: the "
        "file looks like pretty-printed JSON, not JSONL. Each line must hold one "
        "JSON object, whole (one example per line). Convert it with: "
        "jq -c '.' file.json > file.jsonl",
    )


def _utf16_error():
    return (
        "",
        "invalid_utf8",
        "The file is not UTF-8: it looks like UTF-16 (a byte-order mark or zero bytes "
        "between the characters). Re-save it as UTF-8, for example with: "
        "iconv -f UTF-16 -t UTF-8 file.jsonl > file-utf8.jsonl",
    )


def _line_too_long():
    return (
        "",
        "line_too_long",
        f"The line is longer than {MAX_LINE_BYTES >> 20} MiB, far beyond any "
        "example a model can train on; it was not checked.",
    )


def _continues_on_next_line(text, problem):
    """True when a line opens a JSON object that the next lines would complete."""
    return text.lstrip().startswith("{") and problem.pos >= len(text.rstrip())


def _utf8_message(line, problem):
    bad = line[problem.start : min(problem.end, problem.start + 4)]
    shown = " ".join(f"0x{byte:02X}" for byte in bad)
    message = (
        f"The line is not valid UTF-8: the bytes {shown} at byte column "
        f"{problem.start + 1} cannot be decoded."
    )

    legacy = _as_windows_1252(line, problem.start)
    if legacy is None:
        return message + " Re-save the file as UTF-8; it is never read another way."
    return message + (
        " The file was probably saved in a legacy encoding such as Windows-1252 or "
        f"Latin-1, where these bytes read {legacy!r}. Re-save it as UTF-8, for "
        "example with: iconv -f WINDOWS-1252 -t UTF-8 file.jsonl > file-utf8.jsonl"
    )


def _as_windows_1252(line, start):
    """The text around `start` as Windows-1252 reads it, or None if it cannot."""
    try:
        text = line.decode("cp1252")
    except UnicodeDecodeError:
        return None
    # Windows-1252 has one character per byte, so byte columns are text columns.
    return text[max(start - 12, 0) : start + 12]


def _invalid_json_error(text, problem):
    snippet = text[max(problem.pos - 20, 0) : problem.pos + 20]
    # Some of the parser's messages end in "at", ready for a position.
    reason = problem.msg.removesuffix(" at")
    message = (
        f"The line is not valid JSON: {reason} at column {problem.colno} "
        f"(near {_quote(snippet)}).{_json_hint(text, problem)}"
    )
    return ("", "invalid_json", message)


def _json_hint(text, problem):
    at = text[problem.pos : problem.pos + 1]
    before = text[: problem.pos].rstrip()
    if problem.msg.startswith("Unterminated string"):
        return (
            " A string that runs to the end of the line usually holds a raw line "
            "break; write line breaks inside strings as \\n."
        )
    if at == "'":
        return (
            " JSON needs double quotes around keys and strings; this looks like a "
            "Python dict printed with str(). Write each line with json.dumps()."
        )
    if at in ("}", "]") and before.endswith(","):
        return " JSON does not allow a comma before a closing bracket."
    if problem.msg == "Extra data":
        return " The line holds more than one JSON value; put each on its own line."
    if problem.pos >= len(text.rstrip()):
        return (
            " The line ends before its JSON does; if it is the last line, the file "
            "may have been cut off."
        )
    return ""


def _has_lone_surrogate(example):
    try:
        json.dumps(example, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _found(value):
    """Describe a found JSON value for a message: short strings are quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {_quote(value)}" if value else "an empty string"
    if isinstance(value, list):
        return "an array" if value else "an empty array"
    return "an object"


def _quote(text):
    shown = repr(text)
    if len(shown) <= QUOTE_LIMIT:
        return shown
    return shown[: QUOTE_LIMIT - 4] + "...'"
