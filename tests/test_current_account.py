"""Pages act for the account the user switched to; the same ID in two accounts."""

import pytest

from datasets_app.services import create_dataset
from dpo_portal.accounts import personal_account
from dpo_portal.models import Account, Membership
from tests.helpers import new_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(owner):
    """A second account, `team`, where the owner is an admin too."""
    account = Account.objects.create(account_id="team")
    Membership.objects.create(account=account, user=owner, role=Membership.ROLE_ADMIN)
    return account


def test_the_same_dataset_id_in_two_accounts_opens_the_current_ones(
    owner_client, owner, team
):
    mine = new_dataset(owner, "prefs")
    mine.display_name = "personal prefs"
    mine.save(update_fields=["display_name"])
    create_dataset(team, "prefs", "team prefs", user=owner)

    before = owner_client.get("/datasets/prefs/")
    owner_client.post("/account/switch/", {"account": "team"})
    after = owner_client.get("/datasets/prefs/")

    assert before.status_code == after.status_code == 200
    assert b"personal prefs" in before.content
    assert b"team prefs" in after.content


def test_lists_show_only_the_current_accounts_datasets(owner_client, owner, team):
    new_dataset(owner, "personal-one")
    create_dataset(team, "team-one", user=owner)
    owner_client.post("/account/switch/", {"account": "team"})

    page = owner_client.get("/datasets/").content.decode()

    assert "team-one" in page
    assert "personal-one" not in page
    assert personal_account(owner).account_id == "owner"
