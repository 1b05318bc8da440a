"""`dpoctl dpo-job ...` (alias `dpoj`): create a job with every training option as a
flag, follow it with a live progress bar, and read, cancel, delete or export it."""

import argparse
import json
import sys
import time
from dataclasses import fields

from dpo_portal.cli.output import emit, job_text, jobs_text
from dpo_portal.cli.progress import ProgressBar, duration
from jobs_app.params import DpoParams

LOSS_PARAMS = ("beta", "loss_type")
FINAL = ("JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED")
COMPLETED = "JOB_STATE_COMPLETED"


def camel(name):
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def add_commands(groups):
    group = groups.add_parser(
        "dpo-job", aliases=["dpoj"], help="Create, follow and manage DPO jobs."
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="ACTION")

    create = commands.add_parser("create", help="Create and queue a DPO job.")
    create.add_argument(
        "--base-model",
        required=True,
        help="Base model ID (see the portal's Models), or a fine-tuned model of the "
        "account to warm start from.",
    )
    create.add_argument("--dataset", required=True, help="ID of a READY dataset.")
    create.add_argument(
        "--output-model",
        help="ID for the fine-tuned model (default: <dataset>-dpo, or -2, -3, ... "
        "when that is taken).",
    )
    create.add_argument(
        "--job-id", default=None, help="The job's ID (generated when left out)."
    )
    for spec in fields(DpoParams):
        create.add_argument(
            f"--{spec.name.replace('_', '-')}",
            dest=spec.name,
            type=spec.type,
            default=None,
            choices=spec.metadata["choices"],
            help=f"{spec.metadata['help']} Default {spec.default}.",
        )
    _add_wait(create)
    create.set_defaults(run=create_job)

    get = commands.add_parser("get", help="Show one DPO job.")
    get.add_argument("job_id", help="The job's ID.")
    _add_wait(get)
    get.set_defaults(run=get_job)

    listing = commands.add_parser("list", help="List the account's DPO jobs.")
    listing.add_argument(
        "--state", default="", help="Only jobs in this state, e.g. RUNNING or FAILED."
    )
    listing.set_defaults(run=list_jobs)

    cancel = commands.add_parser("cancel", help="Cancel a pending or running job.")
    cancel.add_argument("job_id", help="The job's ID.")
    cancel.set_defaults(run=cancel_job)

    delete = commands.add_parser("delete", help="Delete a finished job.")
    delete.add_argument("job_id", help="The job's ID.")
    delete.set_defaults(run=delete_job)

    export = commands.add_parser(
        "export-metrics", help="Write the job's metrics by step as JSON lines or JSON."
    )
    export.add_argument("job_id", help="The job's ID.")
    export.add_argument(
        "--format",
        choices=["jsonl", "json"],
        default="jsonl",
        help="jsonl: one object per step (default); json: one array.",
    )
    export.add_argument(
        "--file",
        type=argparse.FileType("w"),
        default="-",
        help="Where to write them (default: standard output).",
    )
    export.set_defaults(run=export_metrics)


def _add_wait(parser):
    parser.add_argument(
        "--wait",
        action="store_true",
        help="Follow the job with a live progress bar until it ends; exit 1 unless "
        "it ends COMPLETED.",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=2.0,
        help="Seconds between looks at the job while waiting (default 2).",
    )


def create_job(args, client):
    config = {"baseModel": args.base_model}
    if args.output_model:
        config["outputModel"] = args.output_model
    body = {"dataset": args.dataset, "trainingConfig": config}
    if args.job_id:
        body["dpoJobId"] = args.job_id
    for spec in fields(DpoParams):
        value = getattr(args, spec.name)
        if value is not None:
            target = body if spec.name in LOSS_PARAMS else config
            target[camel(spec.name)] = value

    job = client.post("/dpoJobs", json=body)
    if not args.wait:
        emit(args, job, job_text)
        return 0
    print(f"Created {job['name']}.", file=sys.stderr)
    return _follow(args, client, job["dpoJobId"])


def get_job(args, client):
    if args.wait:
        return _follow(args, client, args.job_id)
    emit(args, client.get(f"/dpoJobs/{args.job_id}"), job_text)
    return 0


def _follow(args, client, job_id):
    job = follow_job(client, job_id, args.poll_interval, args.quiet)
    emit(args, job, job_text)
    if job["state"] != COMPLETED:
        reason = f": {job['failureReason']}" if job["failureReason"] else ""
        print(f"dpoctl: the job ended {job['state']}{reason}", file=sys.stderr)
        return 1
    return 0


def follow_job(client, job_id, poll=2.0, quiet=False):
    """Poll the job until it ends, drawing its progress; the last answer."""
    bar = ProgressBar(quiet=quiet)
    while True:
        job = client.get(f"/dpoJobs/{job_id}")
        progress = job["progress"]
        loss = job["latestMetrics"].get("loss")
        text = (
            f"{job['state'].removeprefix('JOB_STATE_')}  step {progress['step']}/"
            f"{progress['totalSteps'] or '?'}  epoch {progress['epoch']:.2f}"
            + (f"  loss {loss:.4f}" if isinstance(loss, int | float) else "")
            + f"  ETA {duration(progress['etaSeconds'])}"
        )
        bar.show(progress["percent"] / 100, text)
        if job["state"] in FINAL:
            bar.done()
            return job
        time.sleep(poll)


def list_jobs(args, client):
    params = {"state": args.state} if args.state else {}
    jobs = client.pages("/dpoJobs", "dpoJobs", params)
    emit(args, {"dpoJobs": jobs}, lambda v: jobs_text(v["dpoJobs"]))
    return 0


def cancel_job(args, client):
    job = client.post(f"/dpoJobs/{args.job_id}:cancel")
    emit(args, job, job_text)
    return 0


def delete_job(args, client):
    client.delete(f"/dpoJobs/{args.job_id}")
    if args.output == "json":
        emit(args, {}, list)
    else:
        print(f"Deleted DPO job {args.job_id}.")
    return 0


def export_metrics(args, client):
    response = client.get(
        f"/dpoJobs/{args.job_id}/metrics",
        params={"format": "jsonl"},
        expect_json=False,
        stream=True,
    )
    points = (json.loads(line) for line in response.iter_lines() if line)
    if args.format == "json":
        json.dump(list(points), args.file, indent=2)
        args.file.write("\n")
    else:
        for point in points:
            args.file.write(json.dumps(point) + "\n")
    args.file.flush()
    return 0
