"""Validating one large file on several cores.

The file is cut into byte ranges that start at line starts; a forked process
validates each range as validation.py does the whole file (numbering its lines
from 1), while this process hashes the file and reports progress. The parts are
then merged in file order: each part's line numbers are shifted by the lines of
the parts before it, counts add up, the first 100 errors and warnings are the
first 100 of all parts, and the examples' keys are joined, so that a later part's
copy of an earlier part's example is found as a duplicate of the earlier line.

A few files are validated again in one process instead, because the parts cannot
tell: one whose first part holds no example (the first example of the file gets
its own diagnosis), and one with more examples than the limit.
"""

import hashlib
import multiprocessing
import os
from array import array

import numpy

from datasets_app import validation as checks


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
    for later in results[1:]:
        _merge(merged, later)
    if merged.example_count > max_examples:
        return None
    if line_index is not None:
        line_index.lines = merged.line_index.lines
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
    # A later part numbers its lines from 1; the merge shifts them once the parts
    # before it have counted theirs, which spares reading the file up to `start`
    # again (an eighth of the time on two cores).
    part.diagnose_first = start == 0
    with open(path, "rb") as file:
        file.seek(start)
        checks.scan(part, _Bounded(file, end - start), _SharedCounter(done), start)
    sending.send(part)
    sending.close()


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


def _merge(merged, later):
    shift = merged.line_count  # the lines of the parts before
    merged.line_count += later.line_count
    if merged.line_index is not None:
        merged.line_index.lines.extend(_shifted(later.line_index.lines, shift))
        merged.line_index.offsets.extend(later.line_index.offsets)
    if merged.stopped:
        return  # the file is not JSONL; the later lines are noise

    for issue in (*later.errors.kept, *later.warnings.kept):
        issue["line"] += shift

    merged.blank_lines += later.blank_lines
    merged.example_count += later.example_count
    merged.invalid_lines += later.invalid_lines
    _merge_tally(merged.errors, later.errors)
    _merge_tally(merged.warnings, later.warnings)
    # Duplicates, within a part or across parts, are found by finish() on the
    # merged keys.
    merged.keys.extend(later.keys)
    merged.key_lines.extend(_shifted(later.key_lines, shift))
    merged.statistics.merge(later.statistics)


def _shifted(numbers, shift):
    """An array of line numbers, each `shift` higher (numpy: millions of them)."""
    column = numpy.frombuffer(numbers, dtype=numpy.dtype(numbers.typecode))
    shifted = array(numbers.typecode)
    shifted.frombytes((column + shift).astype(column.dtype).tobytes())
    return shifted


def _merge_tally(merged, later):
    merged.total += later.total
    for code, count in later.by_code.items():
        merged.by_code[code] = merged.by_code.get(code, 0) + count
    issues = merged.kept + later.kept
    issues.sort(key=lambda issue: issue["line"])  # stable: a line's order is kept
    merged.kept = issues[: checks.KEPT_IN_FULL]
