"""The inputs from real bug reports in ../shared/cases, with their expected outcomes."""

import json
import re

import pytest
from django.conf import settings

from datasets_app.validation import validate_file

CASES = settings.BASE_DIR.parent / "shared" / "cases"
EXPECTED = json.loads((CASES / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_shared_case_gets_the_expected_report(name):
    expect = EXPECTED[name]

    report = validate_file(CASES / name).to_dict()

    assert report["valid"] is expect["valid"], report["errors"][:3]
    if "count" in expect:
        assert report["example_count"] == expect["count"]
    flagged = {error["line"] or 1 for error in report["errors"]}
    assert set(expect.get("lines", [])) <= flagged
    if expect.get("only"):
        assert flagged == set(expect["lines"])
    messages = json.dumps(report["errors"], ensure_ascii=False)
    for pattern in expect.get("words", []):
        assert re.search(pattern, messages)


def test_crlf_never_reaches_the_stored_content():
    seen = []

    validate_file(CASES / "B02_crlf.jsonl", on_example=lambda n, ex: seen.append(ex))

    assert seen
    assert all("\r" not in json.dumps(example) for example in seen)
