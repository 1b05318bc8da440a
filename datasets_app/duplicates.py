"""Finding the examples of a file that repeat an earlier one, once it is read.

The validator keeps a 64-bit key per valid example (fast_check.example_key) in a
flat array, with its line: 36 MB for the format's 3 million examples, where a
Python set or dict of them would take 250 MB or more. Sorting a copy of the keys
shows which keys repeat; a second pass, in bounded chunks, finds the lines that
hold those keys. With 64-bit keys the chance of one false duplicate among 3
million examples is about one in four million.
"""

import numpy

CHUNK = 1 << 20  # keys looked up at a time: bounds the pass's scratch memory


def repeated_lines(keys, lines):
    """[(line, first line with the same key)] for each repeat, in line order.

    `keys` (array "q") and `lines` (array "I") are parallel and in line order.
    """
    if len(keys) < 2:
        return []
    column = numpy.frombuffer(keys, dtype=numpy.int64)
    repeated = _repeated_keys(column)
    if not len(repeated):
        return []

    first_line = {}
    repeats = []
    for position in _positions_of(column, repeated):
        key, line = keys[position], lines[position]
        original = first_line.setdefault(key, line)
        if original != line:
            repeats.append((line, original))
    return repeats


def _repeated_keys(column):
    """The sorted distinct keys that occur more than once."""
    ordered = numpy.sort(column)
    again = ordered[1:][ordered[1:] == ordered[:-1]]
    return numpy.unique(again)


def _positions_of(column, wanted):
    """Positions, in order, of the keys in `column` that are in sorted `wanted`."""
    last = len(wanted) - 1
    for start in range(0, len(column), CHUNK):
        chunk = column[start : start + CHUNK]
        places = numpy.minimum(numpy.searchsorted(wanted, chunk), last)
        yield from (numpy.flatnonzero(wanted[places] == chunk) + start).tolist()
