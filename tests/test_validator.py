"""The DPO dataset validator, on files written byte for byte. No database needed."""

import json
import subprocess
import sys
from array import array
from pathlib import Path

import pytest

from datasets_app import duplicates, validation, validation_parallel
from datasets_app.validation import check_example, validate_file

PROJECT = Path(__file__).resolve().parent.parent


def make_example(prompt="Name a primary color.", preferred="Red.", rejected="Green."):
    return {
        "input": {"messages": [{"role": "user", "content": prompt}]},
        "preferred_output": [{"role": "assistant", "content": preferred}],
        "non_preferred_output": [{"role": "assistant", "content": rejected}],
    }


def line_of(example):
    return json.dumps(example).encode()


def good_lines(count=3):
    return [line_of(make_example(prompt=f"Question {n}?")) for n in range(count)]


def write(tmp_path, lines, newline=b"\n", name="data.jsonl"):
    path = tmp_path / name
    path.write_bytes(b"".join(line + newline for line in lines))
    return path


def validate_lines(tmp_path, lines, **options):
    return validate_file(write(tmp_path, lines), **options).to_dict()


def with_bad_line(bad, position=1):
    """Three good examples with `bad` (an example dict or raw bytes) inserted."""
    lines = good_lines()
    lines.insert(position, bad if isinstance(bad, bytes) else line_of(bad))
    return lines


def errors_at(report, line):
    return [error for error in report["errors"] if error["line"] == line]


def only_error(report):
    assert report["error_count"] == 1, report["errors"]
    return report["errors"][0]


# Lines, encodings and file shapes.


def test_it_accepts_a_clean_file_and_counts_its_examples(tmp_path):
    report = validate_lines(tmp_path, good_lines(5))

    assert report["valid"] is True
    assert report["example_count"] == 5
    assert report["line_count"] == 5
    assert report["errors"] == []


def test_it_strips_a_utf8_bom_and_counts_the_first_line_as_an_example(tmp_path):
    lines = good_lines()
    lines[0] = b"\xef\xbb\xbf" + lines[0]

    report = validate_lines(tmp_path, lines)

    assert report["valid"] is True
    assert report["example_count"] == 3
    assert report["line_count"] == 3


def test_it_strips_a_bom_at_the_start_of_a_file_joined_from_several(tmp_path):
    lines = good_lines(4)
    lines[2] = b"\xef\xbb\xbf" + lines[2]

    report = validate_lines(tmp_path, lines)

    assert report["valid"] is True
    assert report["example_count"] == 4


def test_it_accepts_crlf_endings_without_a_carriage_return_in_the_content(tmp_path):
    seen = []
    path = write(tmp_path, good_lines(), newline=b"\r\n")

    report = validate_file(path, on_example=lambda number, ex: seen.append(ex))

    assert report.valid
    assert report.example_count == 3
    assert not any("\r" in json.dumps(example) for example in seen)


def test_it_skips_and_counts_empty_whitespace_and_lone_cr_lines(tmp_path):
    first, second, third = good_lines()
    lines = [first, b"", second, b" \t ", third, b"\r", b""]

    report = validate_lines(tmp_path, lines)

    assert report["valid"] is True
    assert report["example_count"] == 3
    assert report["blank_lines"] == 4
    assert report["line_count"] == 7


def test_it_numbers_errors_by_physical_line_with_blank_lines_counted(tmp_path):
    incomplete = make_example()
    del incomplete["non_preferred_output"]
    first, second, third = good_lines()
    lines = [first, b"", second, b"", line_of(incomplete), third]

    report = validate_lines(tmp_path, lines)

    assert only_error(report)["line"] == 5


def test_it_accepts_a_last_line_without_a_final_newline(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(b"\n".join(good_lines()))

    report = validate_file(path)

    assert report.valid
    assert report.example_count == 3
    assert report.line_count == 3


def test_it_rejects_windows_1252_bytes_saying_where_and_how_to_resave(tmp_path):
    legacy = line_of(make_example(prompt="Is a cafe open?")).replace(
        b"cafe", b"caf\xe9"
    )

    report = validate_lines(tmp_path, with_bad_line(legacy))

    error = only_error(report)
    assert error["line"] == 2
    assert error["code"] == "invalid_utf8"
    assert "not valid UTF-8" in error["message"]
    assert "0xE9" in error["message"]
    column = legacy.index(b"\xe9") + 1
    assert f"byte column {column}" in error["message"]
    assert "Windows-1252" in error["message"]
    assert "café" in error["message"]


def test_it_does_not_name_windows_1252_for_bytes_that_are_not_windows_1252(tmp_path):
    broken = line_of(make_example(prompt="odd byte here")).replace(b"odd", b"o\x81d")

    report = validate_lines(tmp_path, with_bad_line(broken))

    error = only_error(report)
    assert error["code"] == "invalid_utf8"
    assert "Windows-1252" not in error["message"]
    assert "Re-save the file as UTF-8" in error["message"]


def test_it_reports_a_utf16_file_once_at_line_one(tmp_path):
    path = tmp_path / "data.jsonl"
    text = "\n".join(line.decode() for line in good_lines()) + "\n"
    path.write_bytes(text.encode("utf-16"))

    report = validate_file(path).to_dict()

    error = only_error(report)
    assert error["line"] == 1
    assert error["code"] == "invalid_utf8"
    assert "UTF-16" in error["message"]


def test_it_diagnoses_a_json_array_first_and_checks_nothing_else(tmp_path):
    path = tmp_path / "data.jsonl"
    examples = [make_example(prompt=f"Question {n}?") for n in range(3)]
    path.write_text(json.dumps(examples, indent=2))

    report = validate_file(path).to_dict()

    error = only_error(report)
    assert error["line"] == 1
    assert error["code"] == "json_array"
    assert "JSON array" in error["message"]
    assert "one JSON object" in error["message"]
    assert "jq -c '.[]'" in error["message"]
    assert report["example_count"] == 0


def test_it_diagnoses_a_json_array_written_on_one_line(tmp_path):
    examples = [make_example(prompt=f"Question {n}?") for n in range(3)]

    report = validate_lines(tmp_path, [json.dumps(examples).encode()])

    assert only_error(report)["code"] == "json_array"


def test_it_diagnoses_a_pretty_printed_json_object_as_not_jsonl(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(make_example(), indent=2) + "\n")

    report = validate_file(path).to_dict()

    error = only_error(report)
    assert error["line"] == 1
    assert error["code"] == "multiline_json"
    assert "one JSON object" in error["message"]


def test_it_reports_invalid_json_with_the_parser_message_and_column(tmp_path):
    broken = b'{"input": {"messages": []} "preferred_output": []}'

    report = validate_lines(tmp_path, with_bad_line(broken))

    error = only_error(report)
    assert error["line"] == 2
    assert error["code"] == "invalid_json"
    assert "Expecting ',' delimiter" in error["message"]
    assert "column 28" in error["message"]


def test_it_hints_at_a_python_dict_written_with_single_quotes(tmp_path):
    python_repr = str(make_example()).encode()

    report = validate_lines(tmp_path, with_bad_line(python_repr))

    error = only_error(report)
    assert error["code"] == "invalid_json"
    assert "double quotes" in error["message"]


def test_it_hints_at_a_raw_line_break_inside_a_string(tmp_path):
    text = line_of(make_example(prompt="First line"))
    cut = text.index(b"line")

    report = validate_lines(tmp_path, with_bad_line(text[:cut]))

    assert "line break" in only_error(report)["message"]


def test_it_hints_at_a_cut_off_file_when_the_last_line_ends_early(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(b"\n".join(good_lines(4))[:-3])

    report = validate_file(path).to_dict()

    error = only_error(report)
    assert (error["line"], error["code"]) == (4, "invalid_json")
    assert "cut off" in error["message"]


def test_it_reports_a_line_that_is_json_but_not_an_object(tmp_path):
    report = validate_lines(tmp_path, with_bad_line(b'["a", "b"]', position=2))

    error = only_error(report)
    assert error["line"] == 3
    assert error["code"] == "not_an_object"
    assert "an array" in error["message"]


def test_it_reports_a_line_longer_than_the_limit_without_parsing_it(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(validation, "MAX_LINE_BYTES", 1024)
    long_line = line_of(make_example(prompt="x" * 5000))

    report = validate_lines(tmp_path, with_bad_line(long_line))

    error = only_error(report)
    assert (error["line"], error["code"]) == (2, "line_too_long")
    assert report["example_count"] == 4


def test_it_reports_every_invalid_line_not_only_the_first(tmp_path):
    lines = good_lines()
    lines.insert(1, b"not json")
    lines.insert(3, b"42")

    report = validate_lines(tmp_path, lines)

    assert [error["line"] for error in report["errors"]] == [2, 4]
    assert report["invalid_lines"] == 2


def test_it_reports_each_distinct_error_of_one_line(tmp_path):
    example = make_example()
    example["input"]["messages"][0]["role"] = "human"
    del example["non_preferred_output"]

    report = validate_lines(tmp_path, with_bad_line(example))

    assert {error["code"] for error in errors_at(report, 2)} == {
        "invalid_role",
        "missing_field",
    }
    assert report["error_count"] == 2
    assert report["invalid_lines"] == 1


def test_it_keeps_the_first_100_errors_in_full_and_counts_all(tmp_path):
    lines = good_lines() + [b"not json"] * 250

    report = validate_lines(tmp_path, lines)

    assert report["error_count"] == 250
    assert len(report["errors"]) == 100
    assert report["errors_by_code"] == {"invalid_json": 250}
    assert report["errors"][-1]["line"] == 103


# The shape of an example.


def test_it_explains_the_dpo_format_for_an_sft_row(tmp_path):
    sft = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant"}]}

    report = validate_lines(tmp_path, with_bad_line(sft))

    error = only_error(report)
    assert error["code"] == "sft_format"
    assert "input" in error["message"]
    assert "preferred_output" in error["message"]
    assert "non_preferred_output" in error["message"]


def test_it_explains_where_prompt_chosen_and_rejected_go(tmp_path):
    trl = {"prompt": "Hi", "chosen": "Hello!", "rejected": "Go away."}

    report = validate_lines(tmp_path, with_bad_line(trl))

    error = only_error(report)
    assert error["code"] == "chosen_rejected_format"
    assert "'chosen' becomes 'preferred_output'" in error["message"]


def test_it_rejects_an_example_without_input(tmp_path):
    example = make_example()
    del example["input"]

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == ("input", "missing_field")


def test_it_rejects_an_input_that_is_not_an_object(tmp_path):
    example = make_example()
    example["input"] = example["input"]["messages"]

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == ("input", "wrong_type")
    assert "is an array" in error["message"]


def test_it_rejects_a_missing_non_preferred_output_naming_it(tmp_path):
    example = make_example()
    del example["non_preferred_output"]

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == ("non_preferred_output", "missing_field")
    assert "'non_preferred_output'" in error["message"]


def test_it_rejects_empty_input_messages(tmp_path):
    example = make_example()
    example["input"]["messages"] = []

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == ("input.messages", "empty_messages")


def test_it_rejects_input_messages_that_are_not_an_array(tmp_path):
    example = make_example()
    example["input"]["messages"] = "Name a primary color."

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == ("input.messages", "wrong_type")
    assert "the string 'Name a primary color.'" in error["message"]


def test_it_rejects_a_message_that_is_not_an_object(tmp_path):
    example = make_example()
    example["input"]["messages"] = ["Name a primary color."]

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == ("input.messages[0]", "wrong_type")


def test_it_rejects_tools_that_are_not_an_array(tmp_path):
    example = make_example()
    example["input"]["tools"] = {"type": "function"}

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == ("input.tools", "wrong_type")
    assert "array of tool definitions" in error["message"]


def test_it_rejects_a_tool_definition_that_is_not_an_object(tmp_path):
    example = make_example()
    example["input"]["tools"] = [{"type": "function"}, "get_weather"]

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == ("input.tools[1]", "wrong_type")


def test_it_accepts_tools_and_counts_the_examples_that_offer_them(tmp_path):
    with_tools = make_example()
    with_tools["input"]["tools"] = [{"type": "function", "function": {"name": "f"}}]
    empty_tools = make_example(prompt="Other?")
    empty_tools["input"]["tools"] = []

    lines = good_lines(2) + [line_of(with_tools), line_of(empty_tools)]

    report = validate_lines(tmp_path, lines)

    assert report["valid"] is True
    assert report["stats"]["tools_share"] == 0.25


def test_it_warns_about_other_keys_in_input_and_ignores_them(tmp_path):
    example = make_example()
    example["input"]["parallel_tool_calls"] = True

    report = validate_lines(tmp_path, with_bad_line(example))

    assert report["valid"] is True
    assert report["warnings"][0]["path"] == "input.parallel_tool_calls"
    assert report["warnings"][0]["code"] == "unknown_key"


# Roles.


def test_it_rejects_an_unknown_role_and_lists_the_accepted_ones(tmp_path):
    example = make_example()
    example["input"]["messages"][0]["role"] = "narrator"

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == ("input.messages[0].role", "invalid_role")
    assert "'narrator'" in error["message"]
    assert "'system', 'user' and 'assistant'" in error["message"]
    assert "Did you mean" not in error["message"]


@pytest.mark.parametrize(
    "alias, meant",
    [("human", "user"), ("system_prompt", "system"), ("developer", "system")],
)
def test_it_suggests_the_input_role_that_an_alias_means(tmp_path, alias, meant):
    example = make_example()
    example["input"]["messages"][0]["role"] = alias

    report = validate_lines(tmp_path, with_bad_line(example))

    assert f"Did you mean '{meant}'?" in only_error(report)["message"]


@pytest.mark.parametrize("alias", ["gpt", "bot", "model"])
def test_it_suggests_assistant_for_an_output_role_alias(tmp_path, alias):
    example = make_example()
    example["preferred_output"][0]["role"] = alias

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert error["path"] == "preferred_output[0].role"
    assert "Did you mean 'assistant'?" in error["message"]


def test_it_suggests_lowercase_for_a_role_in_the_wrong_case(tmp_path):
    example = make_example()
    example["input"]["messages"][0]["role"] = "User"

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert error["code"] == "invalid_role"
    assert "lowercase" in error["message"]
    assert "'user'" in error["message"]


def test_it_rejects_a_role_that_is_not_a_string(tmp_path):
    example = make_example()
    example["input"]["messages"][0]["role"] = 1

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert error["code"] == "invalid_role"
    assert "the number 1" in error["message"]


def test_it_points_a_sharegpt_message_to_role_and_content(tmp_path):
    example = make_example()
    example["input"]["messages"] = [{"from": "human", "value": "Hi"}]

    report = validate_lines(tmp_path, with_bad_line(example))

    paths = [error["path"] for error in errors_at(report, 2)]
    assert paths == ["input.messages[0].role", "input.messages[0].content"]
    assert "ShareGPT" in errors_at(report, 2)[0]["message"]


def test_it_rejects_a_user_role_in_an_output(tmp_path):
    example = make_example()
    example["preferred_output"][0]["role"] = "user"

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == (
        "preferred_output[0].role",
        "invalid_role",
    )
    assert "must have the role 'assistant'" in error["message"]


# Content.


def test_it_rejects_content_that_is_a_list_of_parts(tmp_path):
    example = make_example()
    example["input"]["messages"][0]["content"] = [{"type": "text", "text": "Hi"}]

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert error["path"] == "input.messages[0].content"
    assert error["code"] == "content_not_string"
    assert "an array" in error["message"]
    assert "must be a string" in error["message"]


@pytest.mark.parametrize(
    "content, found",
    [(None, "null"), (42, "the number 42"), ({"text": "Red."}, "an object")],
)
def test_it_rejects_output_content_that_is_not_a_string(tmp_path, content, found):
    example = make_example()
    example["non_preferred_output"][0]["content"] = content

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert error["path"] == "non_preferred_output[0].content"
    assert error["code"] == "content_not_string"
    assert f"is {found}; content must be a string" in error["message"]


def test_it_rejects_a_message_without_content(tmp_path):
    example = make_example()
    del example["input"]["messages"][0]["content"]

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == (
        "input.messages[0].content",
        "missing_field",
    )


def test_it_rejects_whitespace_only_output_content(tmp_path):
    example = make_example(preferred=" \n ")

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == (
        "preferred_output[0].content",
        "empty_content",
    )


def test_it_warns_about_extra_keys_in_a_message_and_stays_valid(tmp_path):
    example = make_example()
    example["input"]["messages"][0]["name"] = "tester"
    example["preferred_output"][0]["weight"] = 1

    report = validate_lines(tmp_path, with_bad_line(example))

    assert report["valid"] is True
    assert [warning["path"] for warning in report["warnings"]] == [
        "input.messages[0].name",
        "preferred_output[0].weight",
    ]


# Turn order.


def conversation(*roles):
    example = make_example()
    example["input"]["messages"] = [
        {"role": role, "content": f"turn {n}"} for n, role in enumerate(roles)
    ]
    return example


def test_it_accepts_a_multi_turn_prompt_with_a_system_message(tmp_path):
    example = conversation("system", "user", "assistant", "user")

    errors, warnings = check_example(example)

    assert errors == []
    assert warnings == []


def test_it_rejects_input_that_ends_with_an_assistant_message(tmp_path):
    example = conversation("system", "user", "assistant")

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == (
        "input.messages[2].role",
        "bad_turn_order",
    )
    assert "ends with an assistant message" in error["message"]
    assert "must be from the user" in error["message"]


def test_it_rejects_a_system_message_after_the_first_message(tmp_path):
    example = conversation("user", "system", "user")

    errors, _ = check_example(example)

    assert errors[0][:2] == ("input.messages[1].role", "bad_turn_order")
    assert "only as the first message" in errors[0][2]


def test_it_rejects_a_conversation_that_starts_with_the_assistant(tmp_path):
    example = conversation("assistant", "user")

    errors, _ = check_example(example)

    assert len(errors) == 1
    assert "must start with a user message" in errors[0][2]


def test_it_rejects_two_user_messages_in_a_row(tmp_path):
    example = conversation("user", "user")

    errors, _ = check_example(example)

    assert len(errors) == 1
    assert errors[0][0] == "input.messages[1].role"
    assert "second user message in a row" in errors[0][2]


def test_it_rejects_a_prompt_that_is_only_a_system_message(tmp_path):
    errors, _ = check_example(conversation("system"))

    assert errors == [
        (
            "input.messages",
            "bad_turn_order",
            "input.messages has only a system message; a user message must follow it.",
        )
    ]


def test_it_leaves_turn_order_alone_while_a_role_is_invalid(tmp_path):
    errors, _ = check_example(conversation("human", "assistant"))

    assert [code for _, code, _ in errors] == ["invalid_role"]


# Outputs.


def test_it_rejects_a_second_preferred_message(tmp_path):
    example = make_example()
    example["preferred_output"].append({"role": "assistant", "content": "Also blue."})

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == ("preferred_output", "output_count")
    assert "has 2 messages" in error["message"]
    assert "exactly one" in error["message"]


def test_it_rejects_an_empty_output_array(tmp_path):
    example = make_example()
    example["non_preferred_output"] = []

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == ("non_preferred_output", "output_count")


def test_it_asks_to_wrap_an_output_object_in_an_array(tmp_path):
    example = make_example()
    example["preferred_output"] = example["preferred_output"][0]

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == ("preferred_output", "wrong_type")
    assert "wrap it in [ ]" in error["message"]


def test_it_rejects_an_output_that_is_a_plain_string(tmp_path):
    example = make_example()
    example["preferred_output"] = "Red."

    report = validate_lines(tmp_path, with_bad_line(example))

    error = only_error(report)
    assert (error["path"], error["code"]) == ("preferred_output", "wrong_type")
    assert "the string 'Red.'" in error["message"]


# Warnings about valid examples.


def test_it_warns_about_unknown_top_level_keys_and_stays_valid(tmp_path):
    example = make_example()
    example["id"] = "example-1"
    example["metadata"] = {"source": "test"}

    report = validate_lines(tmp_path, with_bad_line(example))

    assert report["valid"] is True
    assert report["warnings_by_code"] == {"unknown_key": 2}
    assert report["warnings"][0]["line"] == 2
    assert "ignored" in report["warnings"][0]["message"]


def test_it_warns_when_preferred_and_non_preferred_are_identical(tmp_path):
    example = make_example(preferred="Red.", rejected="Red. ")

    report = validate_lines(tmp_path, with_bad_line(example))

    assert report["valid"] is True
    assert report["warnings"][0]["code"] == "identical_outputs"
    assert "no learning signal" in report["warnings"][0]["message"]
    assert report["stats"]["identical_pairs"] == 1


def test_it_warns_about_an_exact_duplicate_naming_the_earlier_line(tmp_path):
    lines = good_lines()
    lines += [lines[0], b"", lines[0]]

    report = validate_lines(tmp_path, lines)

    assert report["valid"] is True
    assert report["warnings_by_code"] == {"duplicate_example": 2}
    assert [warning["line"] for warning in report["warnings"]] == [4, 6]
    assert "duplicate of line 1" in report["warnings"][1]["message"]
    assert report["stats"]["duplicates"] == 2


def test_it_names_the_first_line_of_each_repeated_key_across_chunks(monkeypatch):
    monkeypatch.setattr(duplicates, "CHUNK", 1000)
    keys = array("q", (n * 7919 - 2**62 for n in range(5000)))
    lines = array("I", range(1, 5001))
    keys[4321] = keys[17]
    keys[4999] = keys[17]
    keys[2500] = keys[2499]

    repeats = duplicates.repeated_lines(keys, lines)

    assert repeats == [(2501, 2500), (4322, 18), (5000, 18)]


def test_it_finds_no_repeats_among_distinct_keys():
    keys = array("q", range(-50, 50))

    assert duplicates.repeated_lines(keys, array("I", range(1, 101))) == []


# Counts.


def test_it_rejects_too_few_examples_stating_the_count_and_the_range(tmp_path):
    report = validate_lines(tmp_path, good_lines(2))

    error = only_error(report)
    assert (error["line"], error["code"]) == (None, "example_count")
    assert "2 examples" in error["message"]
    assert "between 3 and 3,000,000" in error["message"]


def test_it_rejects_more_examples_than_the_maximum(tmp_path):
    report = validate_lines(tmp_path, good_lines(5), max_examples=4)

    error = only_error(report)
    assert error["code"] == "example_count"
    assert "5 examples; at most 4" in error["message"]


def test_it_rejects_an_empty_file(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")

    report = validate_file(path).to_dict()

    error = only_error(report)
    assert (error["line"], error["code"]) == (None, "empty_file")
    assert "empty" in error["message"]


def test_it_rejects_a_file_of_blank_lines_only(tmp_path):
    report = validate_lines(tmp_path, [b"", b"  ", b"\r"])

    error = only_error(report)
    assert error["code"] == "empty_file"
    assert "only blank lines (3)" in error["message"]


def test_it_rejects_a_declared_count_that_differs_from_the_file(tmp_path):
    report = validate_lines(tmp_path, good_lines(4), declared_count=5)

    error = only_error(report)
    assert (error["line"], error["code"]) == (None, "declared_count_mismatch")
    assert "declared 5 examples" in error["message"]
    assert "has 4" in error["message"]


def test_it_accepts_a_declared_count_that_matches(tmp_path):
    report = validate_lines(tmp_path, good_lines(4), declared_count=4)

    assert report["valid"] is True


# The report.


def test_it_calls_progress_about_every_mib_and_once_at_the_end(tmp_path):
    lines = [line_of(make_example(prompt=f"{n} " + "x" * 1000)) for n in range(3000)]
    path = write(tmp_path, lines)
    size = path.stat().st_size
    calls = []

    validate_file(path, progress=lambda done, total: calls.append((done, total)))

    assert len(calls) == size // (1 << 20) + 1
    assert calls[-1] == (size, size)
    assert all(total == size for _, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_it_passes_each_valid_example_with_its_line_number(tmp_path):
    seen = []
    lines = with_bad_line(b"not json")
    lines.insert(0, b"")

    validate_file(write(tmp_path, lines), on_example=lambda n, ex: seen.append(n))

    assert seen == [2, 4, 5]


def test_it_reports_the_size_and_sha256_of_the_whole_file(tmp_path):
    import hashlib

    path = write(tmp_path, [b"\xef\xbb\xbf" + good_lines()[0]] + good_lines()[1:])

    report = validate_file(path)

    assert report.bytes == path.stat().st_size
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_it_computes_length_statistics_of_the_valid_examples(tmp_path):
    lines = [
        line_of(make_example(prompt="ab", preferred="a" * 10, rejected="b")),
        line_of(make_example(prompt="abcd", preferred="a" * 20, rejected="bb")),
        line_of(make_example(prompt="abcdef", preferred="a" * 30, rejected="bbb")),
        b"not json",
    ]

    stats = validate_lines(tmp_path, lines)["stats"]

    assert stats["prompt_chars"] == {
        "min": 2,
        "max": 6,
        "mean": 4.0,
        "p50": 4,
        "p95": 6,
    }
    assert stats["preferred_chars"]["p50"] == 20
    assert stats["preferred_chars"]["mean"] == 20.0
    assert stats["non_preferred_chars"]["max"] == 3


def test_it_computes_turns_and_system_prompt_share(tmp_path):
    lines = good_lines(3) + [
        line_of(conversation("system", "user", "assistant", "user"))
    ]

    stats = validate_lines(tmp_path, lines)["stats"]

    assert stats["valid_examples"] == 4
    assert stats["turns"] == {"min": 1, "max": 4, "mean": 1.75, "p50": 1, "p95": 4}
    assert stats["system_prompt_share"] == 0.25
    assert stats["tools_share"] == 0.0


def test_its_length_percentiles_are_exact_over_many_examples(tmp_path):
    lines = [line_of(make_example(preferred="a" * length)) for length in range(1, 1001)]

    stats = validate_lines(tmp_path, lines)["stats"]

    assert stats["preferred_chars"] == {
        "min": 1,
        "max": 1000,
        "mean": 500.5,
        "p50": 500,
        "p95": 950,
    }


def test_it_produces_a_json_serialisable_report_with_every_field(tmp_path):
    report = validate_lines(tmp_path, with_bad_line(b"[1]"))

    assert json.loads(json.dumps(report)) == report
    assert set(report) >= {
        "valid",
        "example_count",
        "error_count",
        "invalid_lines",
        "errors",
        "errors_by_code",
        "warning_count",
        "warnings",
        "warnings_by_code",
        "blank_lines",
        "line_count",
        "bytes",
        "sha256",
        "stats",
    }


def test_it_raises_oserror_for_a_file_that_does_not_exist(tmp_path):
    with pytest.raises(OSError):
        validate_file(tmp_path / "missing.jsonl")


# The management command, run as a user runs it.


def run_command(*args):
    return subprocess.run(
        [sys.executable, "manage.py", "validate_dataset", *map(str, args)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_prints_one_json_object_and_exits_0_for_a_valid_file(tmp_path):
    result = run_command(write(tmp_path, good_lines()), "--json")

    assert result.returncode == 0
    assert json.loads(result.stdout)["example_count"] == 3


def test_the_command_prints_each_error_with_its_line_and_exits_1(tmp_path):
    result = run_command(write(tmp_path, with_bad_line(b"[1]")))

    assert result.returncode == 1
    assert "INVALID" in result.stdout
    assert "line 2: The line is an array" in result.stdout


def test_the_command_exits_2_for_a_file_it_cannot_read(tmp_path):
    result = run_command(tmp_path / "missing.jsonl", "--json")

    assert result.returncode == 2
    assert "No such file" in result.stderr
    assert json.loads(result.stdout)["valid"] is False


# The fast path (typed decoding of whole blocks) and the line-by-line checks.


def mixed_lines():
    """Valid lines, with blank lines, extra keys, a BOM, CRLF and errors between."""
    lines = good_lines(40)
    lines[3] = b""
    lines[7] = line_of({**make_example(prompt="Extra?"), "id": 7})
    lines[11] = b"\xef\xbb\xbf" + line_of(make_example(prompt="Joined?"))
    lines[15] = b"not json"
    lines[19] = line_of(make_example(prompt="Question 1?"))
    lines[23] = line_of(make_example(preferred="Same.", rejected="Same."))
    lines[27] = line_of(make_example(prompt="Carriage?")) + b"\r"
    lines[31] = b"   "
    return lines


def test_its_report_does_not_depend_on_how_the_file_is_cut_into_blocks(
    tmp_path, monkeypatch
):
    path = write(tmp_path, mixed_lines())
    whole = validate_file(path).to_dict()

    monkeypatch.setattr(validation, "BLOCK_BYTES", 97)
    cut = validate_file(path).to_dict()

    assert cut == whole
    assert whole["error_count"] == 1
    assert whole["warnings_by_code"] == {
        "unknown_key": 1,
        "duplicate_example": 1,
        "identical_outputs": 1,
    }
    assert whole["blank_lines"] == 2


def test_it_indexes_every_kth_line_at_its_byte_offset(tmp_path, monkeypatch):
    monkeypatch.setattr(validation, "BLOCK_BYTES", 300)
    path = write(tmp_path, mixed_lines())
    index = validation.LineIndex(every=3)

    validate_file(path, line_index=index)

    content = path.read_bytes()
    starts = [0] + [n + 1 for n, byte in enumerate(content) if byte == ord("\n")]
    assert list(index.offsets) == starts[0:40:3]


def test_its_line_index_survives_saving_and_loading(tmp_path):
    index = validation.LineIndex(every=7)
    for line, offset in ((1, 0), (8, 120), (13, 99_000_000_000)):
        index.lines.append(line)
        index.offsets.append(offset)
    index.save(tmp_path / "lines")

    loaded = validation.LineIndex.load(tmp_path / "lines")

    assert loaded.every == 7
    assert list(loaded.lines) == [1, 8, 13]
    assert list(loaded.offsets) == [0, 120, 99_000_000_000]
    assert loaded.start_of(12) == (8, 120)
    assert loaded.start_of(16) == (13, 99_000_000_000)


def assert_indexes_line_starts(path, index):
    """Each entry is where its line starts; entries are at most K lines apart."""
    content = path.read_bytes()
    starts = [0] + [n + 1 for n, byte in enumerate(content) if byte == ord("\n")]
    entries = list(zip(index.lines, index.offsets, strict=True))
    assert entries[0] == (1, 0)
    assert all(starts[line - 1] == offset for line, offset in entries)
    gaps = [b - a for a, b in zip(index.lines, index.lines[1:], strict=False)]
    assert 0 < min(gaps) and max(gaps) <= index.every
    assert index.lines[-1] > len(starts) - 1 - index.every


def test_it_still_loads_a_line_index_in_the_first_format(tmp_path):
    # K, then the offsets of lines 1, K+1, 2K+1: what the portal wrote before.
    array("Q", [7, 0, 120, 99_000]).tofile(open(tmp_path / "lines", "wb"))

    loaded = validation.LineIndex.load(tmp_path / "lines")

    assert list(loaded.lines) == [1, 8, 15]
    assert loaded.start_of(16) == (15, 99_000)


def test_it_rejects_tools_given_as_null(tmp_path):
    bad = make_example()
    bad["input"]["tools"] = None

    report = validate_lines(tmp_path, with_bad_line(bad))

    assert only_error(report)["path"] == "input.tools"


def test_it_counts_a_copy_with_extra_keys_as_a_duplicate(tmp_path):
    lines = good_lines(3) + [line_of({**make_example(prompt="Question 0?"), "id": 9})]

    report = validate_lines(tmp_path, lines)

    assert report["warnings_by_code"]["duplicate_example"] == 1
    assert "duplicate of line 1" in report["warnings"][-1]["message"]


def test_it_does_not_count_a_pair_with_another_rejected_answer_as_a_duplicate(
    tmp_path,
):
    lines = good_lines(3) + [line_of(make_example(prompt="Question 0?", rejected="No"))]

    report = validate_lines(tmp_path, lines)

    assert "duplicate_example" not in report["warnings_by_code"]


def test_it_reports_a_long_line_that_spans_several_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(validation, "BLOCK_BYTES", 64)
    monkeypatch.setattr(validation, "MAX_LINE_BYTES", 512)
    lines = with_bad_line(line_of(make_example(prompt="x" * 2000)), position=2)

    report = validate_lines(tmp_path, lines)

    assert only_error(report)["code"] == "line_too_long"
    assert only_error(report)["line"] == 3
    assert report["example_count"] == 4


def test_it_takes_a_known_sha256_instead_of_hashing_the_file_again(
    tmp_path, monkeypatch
):
    def hash_again(path):
        raise AssertionError("the file was hashed again")

    monkeypatch.setattr(validation, "_sha256_of", hash_again)

    report = validate_file(write(tmp_path, good_lines()), sha256="ab" * 32)

    assert report.sha256 == "ab" * 32


# Validating one file in several processes.


@pytest.fixture
def in_parallel(monkeypatch):
    monkeypatch.setattr(validation, "PARALLEL_MIN_BYTES", 0)


def repeated_mixed_lines():
    """mixed_lines() four times over: duplicates in every part of the file."""
    lines = []
    for copy in range(4):
        lines += mixed_lines()
        lines.append(line_of(make_example(prompt=f"Only in copy {copy}?")))
    return lines


@pytest.mark.parametrize("workers", [2, 3])
def test_several_processes_give_the_report_one_process_gives(
    tmp_path, in_parallel, workers, monkeypatch
):
    path = write(tmp_path, repeated_mixed_lines())
    alone_index, parts_index = validation.LineIndex(7), validation.LineIndex(7)
    merges = []
    merge = validation_parallel._merge
    monkeypatch.setattr(
        validation_parallel,
        "_merge",
        lambda *parts, **options: merges.append(merge(*parts, **options)),
    )

    alone = validate_file(path, line_index=alone_index).to_dict()
    parts = validate_file(path, line_index=parts_index, workers=workers).to_dict()

    assert len(merges) == workers - 1
    assert parts == alone
    assert_indexes_line_starts(path, parts_index)
    assert alone["warnings_by_code"]["duplicate_example"] > 40


def test_several_processes_name_the_first_line_of_a_duplicate(tmp_path, in_parallel):
    lines = good_lines(3) + [line_of(make_example(prompt=f"Q{n}?")) for n in range(40)]
    lines += [lines[0], lines[0]]
    path = write(tmp_path, lines)

    report = validate_file(path, workers=2).to_dict()

    duplicates = [w for w in report["warnings"] if w["code"] == "duplicate_example"]
    assert [w["line"] for w in duplicates] == [44, 45]
    assert all("duplicate of line 1;" in w["message"] for w in duplicates)


def test_several_processes_diagnose_a_file_whose_first_part_is_blank(
    tmp_path, in_parallel
):
    lines = [b""] * 2000 + [b'[{"input": 1},'] + good_lines(3)

    parts = validate_file(write(tmp_path, lines), workers=2).to_dict()

    assert only_error(parts)["code"] == "json_array"
    assert only_error(parts)["line"] == 2001
    assert parts["line_count"] == 2004


def test_several_processes_report_a_file_that_is_not_jsonl_once(tmp_path, in_parallel):
    lines = [b"["] + [line_of(make_example()) + b","] * 30 + [b"]"]
    path = write(tmp_path, lines)

    assert validate_file(path, workers=2).to_dict() == validate_file(path).to_dict()


def test_several_processes_send_progress_and_end_at_the_whole_size(
    tmp_path, in_parallel
):
    path = write(tmp_path, repeated_mixed_lines())
    calls = []

    validate_file(path, workers=2, progress=lambda done, total: calls.append(done))

    assert calls[-1] == path.stat().st_size
