"""Printing answers: `-o json` gives the API's JSON as is, `-o text` a readable view."""

import json
import sys


def emit(args, value, text):
    """Print `value` as JSON, or the lines `text(value)` returns."""
    if args.output == "json":
        json.dump(value, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for line in text(value):
            print(line)


def fields(pairs):
    width = max(len(label) for label, _ in pairs)
    return [
        f"{label.ljust(width)}  {'-' if v in (None, '') else v}" for label, v in pairs
    ]


def table(rows, columns):
    """Rows of dicts as aligned columns: [(header, function of row)]."""
    cells = [[str(get(row)) for _, get in columns] for row in rows]
    headers = [header for header, _ in columns]
    widths = [
        max([len(headers[i])] + [len(r[i]) for r in cells]) for i in range(len(headers))
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return lines


def dataset_text(dataset):
    return fields(
        [
            ("name", dataset["name"]),
            ("display name", dataset["displayName"]),
            ("state", dataset["state"]),
            ("examples", dataset["exampleCount"]),
            ("errors", dataset["errorCount"]),
            ("warnings", dataset["warningCount"]),
            ("file", dataset["fileName"]),
            ("size (bytes)", dataset["sizeBytes"]),
            ("created", dataset["createTime"]),
        ]
    )


def datasets_text(datasets):
    return table(
        datasets,
        [
            ("DATASET", lambda d: d["datasetId"]),
            ("STATE", lambda d: d["state"]),
            ("EXAMPLES", lambda d: d["exampleCount"] if d["exampleCount"] else "-"),
            ("CREATED", lambda d: d["createTime"]),
        ],
    )


def job_text(job):
    progress = job["progress"]
    total = progress["totalSteps"] or "?"
    metrics = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in sorted(job["latestMetrics"].items())
    )
    return fields(
        [
            ("name", job["name"]),
            ("state", job["state"]),
            ("dataset", job["dataset"]),
            ("base model", job["trainingConfig"]["baseModel"]),
            ("output model", job["trainingConfig"]["outputModel"]),
            ("progress", f"step {progress['step']}/{total} ({progress['percent']}%)"),
            ("epoch", progress["epoch"]),
            ("latest metrics", metrics),
            ("fine-tuned model", job["fineTunedModel"]),
            ("failure reason", job["failureReason"]),
            ("created", job["createTime"]),
            ("ended", job["endTime"]),
        ]
    )


def jobs_text(jobs):
    return table(
        jobs,
        [
            ("DPO JOB", lambda j: j["dpoJobId"]),
            ("STATE", lambda j: j["state"]),
            ("PROGRESS", lambda j: f"{j['progress']['percent']}%"),
            ("DATASET", lambda j: j["dataset"].rsplit("/", 1)[-1]),
            ("CREATED", lambda j: j["createTime"]),
        ],
    )
