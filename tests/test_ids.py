import pytest
from django.core.exceptions import ValidationError

from dpo_portal.ids import check_resource_id, slug_for_account


@pytest.mark.parametrize("value", ["a", "prefs-v1", "x" * 63, "a1-b2"])
def test_it_accepts_valid_ids(value):
    assert check_resource_id(value) == value


@pytest.mark.parametrize(
    "value", ["", "1abc", "-abc", "abc-", "ABC", "a_b", "a" * 64, "a b", "é"]
)
def test_it_refuses_invalid_ids_quoting_the_value(value):
    with pytest.raises(ValidationError) as caught:
        check_resource_id(value, "Dataset ID")

    assert repr(value) in caught.value.messages[0]
    assert "1-63 characters" in caught.value.messages[0]


def test_account_slugs_from_user_names_are_valid_ids():
    for name in ["Alice", "bob@example.com", "42", "__", "Ünïcode Name"]:
        check_resource_id(slug_for_account(name))
