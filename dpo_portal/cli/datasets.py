"""`dpoctl dataset ...`: check a file locally, create the entry, send the file with
tus (resumable, with a progress bar), and read, list or delete datasets."""

import os
import sys
import time

from datasets_app.validation import validate_file
from dpo_portal.cli.client import CliError
from dpo_portal.cli.output import dataset_text, datasets_text, emit
from dpo_portal.cli.progress import ProgressBar, TransferMeter
from dpo_portal.cli.tus import TusUpload, upload_key

SHOWN_ERRORS = 50
FINISHED = ("READY", "INVALID")


def add_commands(groups):
    group = groups.add_parser("dataset", help="Create, inspect and delete datasets.")
    commands = group.add_subparsers(dest="command", required=True, metavar="ACTION")

    create = commands.add_parser(
        "create",
        help="Check a JSONL file, then upload it as a new dataset (resumable).",
    )
    create.add_argument("dataset_id", help="The new dataset's ID (a-z, 0-9, -).")
    create.add_argument("file", help="The JSONL file of preference examples.")
    create.add_argument(
        "--display-name", default="", help="A readable name shown in the portal."
    )
    create.add_argument(
        "--wait",
        action="store_true",
        help="Wait for the server's validation; exit 1 when the dataset is INVALID.",
    )
    create.add_argument(
        "--chunk-size",
        type=int,
        default=0,
        help="Bytes per upload request (default: the server's suggestion, 8 MiB).",
    )
    create.set_defaults(run=create_dataset)

    check = commands.add_parser(
        "validate", help="Only check a JSONL file here; nothing is sent."
    )
    check.add_argument("file", help="The JSONL file to check.")
    check.set_defaults(run=validate_only, local_only=True)

    get = commands.add_parser("get", help="Show one dataset.")
    get.add_argument("dataset_id", help="The dataset's ID.")
    get.add_argument(
        "--report", action="store_true", help="Print the full validation report."
    )
    get.set_defaults(run=get_dataset)

    listing = commands.add_parser("list", help="List the account's datasets.")
    listing.add_argument(
        "--state", default="", help="Only UPLOADING, VALIDATING, READY or INVALID."
    )
    listing.set_defaults(run=list_datasets)

    delete = commands.add_parser("delete", help="Delete a dataset no job uses.")
    delete.add_argument("dataset_id", help="The dataset's ID.")
    delete.set_defaults(run=delete_dataset)


def check_locally(path):
    """The file's ValidationReport; CliError listing errors by line when invalid."""
    if not os.path.isfile(path):
        raise CliError(f"{path}: no such file.")
    try:
        report = validate_file(path)
    except OSError as exc:
        raise CliError(f"{path}: cannot be read: {exc}") from None
    if report.valid:
        return report

    for error in report.errors[:SHOWN_ERRORS]:
        where = f"{path}:{error['line']}" if error["line"] else path
        field = f" {error['path']}:" if error["path"] else ""
        print(f"{where}:{field} {error['message']}", file=sys.stderr)
    more = report.error_count - min(len(report.errors), SHOWN_ERRORS)
    if more > 0:
        print(f"... and {more} more errors.", file=sys.stderr)
    raise CliError(f"{path} has {report.error_count} error(s); nothing was uploaded.")


def validate_only(args, client):
    report = check_locally(args.file)
    print(
        f"{args.file}: valid, {report.example_count} examples, "
        f"{report.warning_count} warning(s)."
    )
    return 0


def create_dataset(args, client):
    report = check_locally(args.file)
    dataset = _create_or_reuse(client, args, report.example_count)
    dataset_id = dataset["datasetId"]
    endpoint = client.post(
        f"/datasets/{dataset_id}:getUploadEndpoint",
        json={"fileName": os.path.basename(args.file)},
    )

    upload = TusUpload(
        client,
        endpoint,
        args.file,
        upload_key(client, dataset_id, args.file),
        chunk_bytes=args.chunk_size or None,
    )
    bar = ProgressBar(quiet=args.quiet)
    meter = None

    def progress(offset, size, resumed_from):
        nonlocal meter
        if meter is None:
            meter = TransferMeter(size, resumed_from)
            if resumed_from:
                print(f"Resuming the upload at byte {resumed_from}.", file=sys.stderr)
        bar.show(offset / size, meter.text(offset))

    upload.run(progress)
    bar.done()

    if args.wait:
        dataset = wait_for_validation(client, dataset_id, args.quiet)
    else:
        dataset = client.get(f"/datasets/{dataset_id}")
    emit(args, dataset, dataset_text)
    return 1 if dataset["state"] == "INVALID" else 0


def _create_or_reuse(client, args, example_count):
    body = {
        "datasetId": args.dataset_id,
        "dataset": {
            "userUploaded": {},
            "exampleCount": example_count,
            "displayName": args.display_name,
        },
    }
    try:
        return client.post("/datasets", json=body)
    except CliError as exc:
        if exc.code != "ALREADY_EXISTS":
            raise
    # A dataset still waiting for its file: this run goes on with it (resumes).
    dataset = client.get(f"/datasets/{args.dataset_id}")
    if dataset["state"] != "UPLOADING":
        raise CliError(
            f"Dataset {args.dataset_id} already exists and is {dataset['state']}; "
            "choose another ID or delete it first."
        )
    return dataset


def wait_for_validation(client, dataset_id, quiet=False, poll=1.0):
    bar = ProgressBar(quiet=quiet)
    while True:
        dataset = client.get(f"/datasets/{dataset_id}")
        if dataset["state"] in FINISHED:
            bar.done()
            return dataset
        percent = dataset["validationProgress"]["percent"]
        bar.show(percent / 100, f"validating ({dataset['state']})")
        time.sleep(poll)


def get_dataset(args, client):
    if args.report:
        emit(
            args,
            client.get(f"/datasets/{args.dataset_id}:validationReport"),
            _report_text,
        )
        return 0
    emit(args, client.get(f"/datasets/{args.dataset_id}"), dataset_text)
    return 0


def _report_text(answer):
    report = answer.get("report") or {}
    lines = [f"{answer['dataset']}: {answer['state']}"]
    for error in report.get("errors", []):
        lines.append(f"  line {error['line']}: {error['path']}: {error['message']}")
    for warning in report.get("warnings", []):
        lines.append(f"  warning line {warning['line']}: {warning['message']}")
    return lines


def list_datasets(args, client):
    params = {"state": args.state} if args.state else {}
    datasets = client.pages("/datasets", "datasets", params)
    emit(args, {"datasets": datasets}, lambda v: datasets_text(v["datasets"]))
    return 0


def delete_dataset(args, client):
    client.delete(f"/datasets/{args.dataset_id}")
    if args.output == "json":
        emit(args, {}, list)
    else:
        print(f"Deleted dataset {args.dataset_id}.")
    return 0
