"""Validating one large file on several cores.

The file is cut into byte ranges that start at line starts; a forked process
validates each range as validation.py does the whole file (numbering its lines
from the range's first line on), while this process hashes the file and reports
progress. The parts are then merged in file order: counts add up, the first 100
errors and warnings are the first 100 of all parts, and an example of a later part
that an earlier part already had becomes a duplicate of the earlier line.

A few files are validated again in one process instead, because the parts cannot
tell: one whose first part holds no example (the first example of the file gets
its own diagnosis), and one with more examples than the limit.
"""

import hashlib
import multiprocessing
import os
import random

from datasets_app import validation as checks

COUNT_PIECE_BYTES = 4 << 20


def validate_in_parallel(
    path, workers, progress, min_examples, max_examples, line_index, sha256
):
    """(merged _Validation, sha256 hex) of the file, or None to validate it whole."""
    size = os.path.getsize(path)
    starts = _line_starts(path, size, workers)
    if len(starts) < 2:
        return None

    context = multiprocessing.get_context("fork")
    every = line_index.every if line_index is not None else None
    parts = []
    for start, end in zip(starts, [*starts[1:], size], strict=True):
        done = context.Value("q", 0, lock=False)
        receiving, sending = context.Pipe(duplex=False)
        worker = context.Process(
            target=_validate_part,
            args=(sending, path, start, end, every, done, min_examples, max_examples),
            daemon=True,
        )
        worker.start()
        sending.close()
        parts.append((worker, receiving, done))

    # This process would only wait: it hashes the file meanwhile.
    digest = sha256 or _hash_with_progress(path, size, parts, progress)
    results = []
    for worker, receiving, _ in parts:
        while not receiving.poll(0.5):
            _report(progress, parts, size)
        try:
            results.append(receiving.recv())
        except EOFError:
            # The part's process failed (it cannot read the file, say): one
            # process on the whole file raises the error where it is clear.
            results = None
            break
        worker.join()
    if results is None:
        for worker, _, _ in parts:
            worker.terminate()
            worker.join()
        return None
    if progress is not None:
        progress(size, size)

    merged = results[0]
    if merged.example_count == 0 and not merged.stopped:
        return None
    for number, later in enumerate(results[1:], start=2):
        _merge(merged, later, more_to_come=number < len(results))
    if merged.example_count > max_examples:
        return None
    if line_index is not None:
        line_index.offsets = merged.line_index.offsets
    return merged, digest


def _line_starts(path, size, workers):
    """Range starts: 0, then the first line start after each equal share."""
    starts = [0]
    with open(path, "rb") as file:
        for share in range(1, workers):
            file.seek(size * share // workers)
            file.readline()
            start = file.tell()
            if start >= size or start <= starts[-1]:
                break
            starts.append(start)
    return starts


def _validate_part(sending, path, start, end, every, done, min_examples, max_examples):
    index = checks.LineIndex(every) if every else None
    part = checks._Validation(min_examples, max_examples, None, index)
    if start:
        part.line_count = _newlines_before(path, start)
        part.diagnose_first = False
    with open(path, "rb") as file:
        file.seek(start)
        checks.scan(part, _Bounded(file, end - start), _SharedCounter(done), start)
    sending.send(part)
    sending.close()


def _newlines_before(path, end):
    count = 0
    with open(path, "rb") as file:
        while file.tell() < end:
            piece = file.read(min(COUNT_PIECE_BYTES, end - file.tell()))
            if not piece:
                break
            count += piece.count(b"\n")
    return count


class _Bounded:
    """A file read only up to `room` more bytes."""

    def __init__(self, file, room):
        self.file = file
        self.room = room

    def read(self, size):
        piece = self.file.read(min(size, self.room))
        self.room -= len(piece)
        return piece


class _SharedCounter:
    def __init__(self, done):
        self.done = done

    def add(self, chunk):
        self.done.value += len(chunk)


def _hash_with_progress(path, size, parts, progress):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while piece := file.read(checks.HASH_PIECE_BYTES):
            digest.update(piece)
            _report(progress, parts, size)
    return digest.hexdigest()


def _report(progress, parts, size):
    if progress is not None:
        progress(min(sum(done.value for _, _, done in parts), size), size)


# Merging a later part into the parts before it.


def _merge(merged, later, more_to_come=False):
    merged.line_count = later.line_count  # numbered on from the parts before
    if merged.line_index is not None:
        merged.line_index.offsets.extend(later.line_index.offsets)
    if merged.stopped:
        return  # the file is not JSONL; the later lines are noise

    merged.blank_lines += later.blank_lines
    merged.example_count += later.example_count
    merged.invalid_lines += later.invalid_lines
    _merge_tally(merged.errors, later.errors, [])
    repeats = _repeats_across(merged, later, more_to_come)
    _merge_tally(merged.warnings, later.warnings, _repeat_warnings(later, repeats))
    merged.duplicate_originals.update(later.duplicate_originals)
    _merge_statistics(merged.statistics, later.statistics, len(repeats))


def _repeats_across(merged, later, more_to_come):
    """{later line: earlier line} for later parts' first examples seen before; the
    later part's other examples are added to the merged table if another part is
    still to be merged."""
    repeats = {}
    # In line order, not in the table's: digests in slot order would pile up into
    # one long run of the merged table's open addressing, and every insert would
    # walk it.
    entries = sorted(later.first_lines.entries(), key=lambda entry: entry[1])
    for digest, line in entries:
        original = merged.first_lines.find(digest)
        if original is not None:
            repeats[line] = original
        elif more_to_come:
            merged.first_lines.add(digest, line)
    return repeats


def _repeat_warnings(later, repeats):
    """Warnings for the repeats, and the later part's duplicate warnings pointed
    at the first line of all parts."""
    added = [
        {
            "line": line,
            "path": "",
            "code": "duplicate_example",
            "message": checks.duplicate_message(original),
        }
        for line, original in sorted(repeats.items())[: checks.KEPT_IN_FULL]
    ]
    for warning in later.warnings.kept:
        original = later.duplicate_originals.get(warning["line"])
        if warning["code"] == "duplicate_example" and original in repeats:
            warning["message"] = checks.duplicate_message(repeats[original])
    later.warnings.total += len(repeats)
    if repeats:
        by_code = later.warnings.by_code
        by_code["duplicate_example"] = by_code.get("duplicate_example", 0) + len(
            repeats
        )
    return added


def _merge_tally(merged, later, added):
    merged.total += later.total
    for code, count in later.by_code.items():
        merged.by_code[code] = merged.by_code.get(code, 0) + count
    issues = merged.kept + later.kept + added
    issues.sort(key=lambda issue: issue["line"])  # stable: a line's order is kept
    merged.kept = issues[: checks.KEPT_IN_FULL]


def _merge_statistics(merged, later, repeats):
    merged.examples += later.examples
    for name in merged.LENGTHS:
        _merge_range(merged.ranges[name], later.ranges[name])
    _merge_range(merged.turns, later.turns)
    merged.with_system += later.with_system
    merged.with_tools += later.with_tools
    merged.identical_pairs += later.identical_pairs
    merged.duplicates += later.duplicates + repeats
    _merge_sample(merged.sample, later.sample)


def _merge_range(merged, later):
    merged.count += later.count
    merged.total += later.total
    merged.low = min(merged.low, later.low)
    merged.high = max(merged.high, later.high)


def _merge_sample(merged, later):
    """A sample of both streams, each part in proportion to its length."""
    seen = merged.seen + later.seen
    if seen <= merged.size:
        merged.items = merged.items + later.items
    else:
        drawing = random.Random(seen)
        from_later = min(round(merged.size * later.seen / seen), len(later.items))
        from_merged = min(merged.size - from_later, len(merged.items))
        merged.items = drawing.sample(merged.items, from_merged) + drawing.sample(
            later.items, from_later
        )
    merged.seen = seen
