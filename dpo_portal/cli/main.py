"""dpoctl: the DPO portal from the command line.

    dpoctl dataset create prefs data.jsonl --display-name "Support prefs"
    dpoctl dpo-job create --base-model smollm2-135m-instruct --dataset prefs \\
        --output-model support-v1 --epochs 2 --wait

The key, account and portal come from --api-key/--account/--base-url or from
DPO_API_KEY, DPO_ACCOUNT and DPO_BASE_URL.
"""

import argparse
import os
import sys

from dpo_portal.cli import datasets, jobs
from dpo_portal.cli.client import ApiClient, CliError

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def add_global_flags(parser, env, suppress=False):
    """The flags every command takes; given again after a command, they win."""

    def default(value):
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--api-key",
        default=default(env.get("DPO_API_KEY", "")),
        help="API key from the portal's API keys page (env DPO_API_KEY).",
    )
    parser.add_argument(
        "--account",
        default=default(env.get("DPO_ACCOUNT", "")),
        help="Account ID the resources belong to (env DPO_ACCOUNT).",
    )
    parser.add_argument(
        "--base-url",
        default=default(env.get("DPO_BASE_URL", DEFAULT_BASE_URL)),
        help=f"The portal's address (env DPO_BASE_URL; default {DEFAULT_BASE_URL}).",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=["text", "json"],
        default=default("text"),
        help="text (readable, the default) or json (the API's answer as is).",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        default=default(False),
        help="No progress bars on stderr.",
    )


def build_parser():
    parser = argparse.ArgumentParser(
        prog="dpoctl",
        description="Datasets and DPO jobs of a DPO portal, over its REST API.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    add_global_flags(parser, os.environ)
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    datasets.add_commands(groups)
    jobs.add_commands(groups)
    for leaf in _leaf_parsers(parser):
        add_global_flags(leaf, os.environ, suppress=True)
    return parser


def _leaf_parsers(parser):
    """The parsers of the commands themselves (dataset create, dpo-job get, ...)."""
    subparsers = [
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    ]
    if not subparsers:
        return [parser]
    leaves = []
    for child in dict.fromkeys(subparsers[0].choices.values()):
        leaves += _leaf_parsers(child)
    return leaves


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "local_only", False):
            return args.run(args, None)
        client = ApiClient(args.base_url, args.api_key, args.account)
        return args.run(args, client)
    except CliError as exc:
        print(f"dpoctl: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndpoctl: interrupted", file=sys.stderr)
        return 130
