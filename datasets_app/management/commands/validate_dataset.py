"""`manage.py validate_dataset PATH [--json]`: check a DPO dataset file by hand.

Exit status: 0 when the file is valid, 1 when it is not, 2 when it cannot be read.
"""

import json

from django.core.management.base import BaseCommand

from datasets_app.validation import validate_file

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2


class Command(BaseCommand):
    help = (
        "Validate a DPO dataset file (one JSON object per line) and print its report. "
        "Exits 0 when valid, 1 when invalid, 2 when the file cannot be read."
    )
    # Checking a file needs neither the database nor the rest of the project, and a
    # problem there should not hide the report.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("path", help="the JSONL file to check")
        parser.add_argument(
            "--json",
            action="store_true",
            help="print the report as one JSON object instead of text",
        )
        parser.add_argument(
            "--declared-count",
            type=int,
            default=None,
            help="the example count a client declared; a different count is an error",
        )

    def handle(self, *args, path, **options):
        as_json = options["json"]
        try:
            report = validate_file(path, declared_count=options["declared_count"])
        except OSError as problem:
            self._unreadable(path, problem, as_json)
            raise SystemExit(EXIT_UNREADABLE) from None

        if as_json:
            self.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False))
        else:
            self.stdout.write(render_report(path, report))
        raise SystemExit(EXIT_VALID if report.valid else EXIT_INVALID)

    def _unreadable(self, path, problem, as_json):
        message = f"Cannot read {path}: {problem.strerror or problem}."
        self.stderr.write(message)
        if as_json:
            self.stdout.write(json.dumps({"valid": False, "error": message}))


def render_report(path, report):
    """The report as text for a terminal: verdict, counts, issues, statistics."""
    verdict = "valid" if report.valid else "INVALID"
    lines = [
        f"{path}: {verdict}",
        f"  examples: {report.example_count:,} ({report.invalid_lines:,} lines with "
        f"errors), lines: {report.line_count:,}, blank lines: {report.blank_lines:,}",
        f"  bytes: {report.bytes:,}, sha256: {report.sha256}",
    ]
    lines += _render_issues("errors", report.error_count, report.errors)
    lines += _render_by_code(report.error_count, report.errors, report.errors_by_code)
    lines += _render_issues("warnings", report.warning_count, report.warnings)
    lines += _render_by_code(
        report.warning_count, report.warnings, report.warnings_by_code
    )
    lines += _render_stats(report.stats)
    return "\n".join(lines)


def _render_issues(title, total, issues):
    if not total:
        return []

    lines = [f"{title} ({total:,}):"]
    for issue in issues:
        where = "file" if issue["line"] is None else f"line {issue['line']}"
        if issue["path"]:
            where += f": {issue['path']}"
        lines.append(f"  {where}: {issue['message']}")
    return lines


def _render_by_code(total, issues, by_code):
    # The totals per kind matter when only the first issues are listed in full.
    if total <= len(issues):
        return []

    kinds = ", ".join(f"{code} {count:,}" for code, count in sorted(by_code.items()))
    return [f"  ... and {total - len(issues):,} more; by kind: {kinds}"]


def _render_stats(stats):
    if not stats.get("turns", {}).get("min"):
        return []

    lines = ["stats (valid examples):"]
    for name in ("prompt_chars", "preferred_chars", "non_preferred_chars"):
        values = stats[name]
        lines.append(
            f"  {name}: min {values['min']:,}, p50 {values['p50']:,}, "
            f"p95 {values['p95']:,}, max {values['max']:,}, mean {values['mean']:,}"
        )
    turns = stats["turns"]
    lines.append(
        f"  turns: min {turns['min']}, max {turns['max']}, mean {turns['mean']}"
    )
    lines.append(
        f"  system prompt share: {stats['system_prompt_share']:.1%}, "
        f"tools share: {stats['tools_share']:.1%}"
    )
    lines.append(
        f"  identical pairs: {stats['identical_pairs']:,}, "
        f"duplicates: {stats['duplicates']:,}"
    )
    return lines
