"""Exact length distributions from histograms ({length: how many}).

A histogram gives exact percentiles in little memory: a file of S bytes holds at
most about sqrt(2 S) distinct lengths, some 100,000 for 5 GB, and real files far
fewer. The validator counts characters this way, a job's VALIDATING step tokens.
"""

import math

EMPTY = {"min": None, "max": None, "mean": None, "p50": None, "p95": None}


def summary(histogram):
    """{min, max, mean, p50, p95} of the lengths a histogram counts."""
    if not histogram:
        return dict(EMPTY)
    values = sorted(histogram)
    count = sum(histogram.values())
    total = sum(value * times for value, times in histogram.items())
    return {
        "min": values[0],
        "max": values[-1],
        "mean": round(total / count, 2),
        "p50": percentile(histogram, values, count, 50),
        "p95": percentile(histogram, values, count, 95),
    }


def percentile(histogram, values, count, percent):
    """The nearest-rank percentile of a histogram whose sorted values are given."""
    rank = max(math.ceil(percent / 100 * count), 1)
    seen = 0
    for value in values:
        seen += histogram[value]
        if seen >= rank:
            return value
    return values[-1]
