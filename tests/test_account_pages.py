"""Account pages (switch, members, API keys) and sign-in limits, with the cast."""

import pytest
from django.test import Client, override_settings

from dpo_portal.api_keys import authenticate_key
from dpo_portal.models import ApiKey, Membership
from tests.live import *  # noqa: F403

pytestmark = pytest.mark.django_db


def signed_in(member):
    client = Client()
    client.force_login(member.user)
    return client


@pytest.mark.parametrize("who", ["owner", "teammate", "viewer", "outsider"])
@pytest.mark.parametrize(
    "url", ["/account/", "/account/members/", "/account/api-keys/"]
)
def test_every_account_page_opens_for_every_signed_in_user(cast, who, url):
    assert signed_in(getattr(cast, who)).get(url).status_code == 200


@pytest.mark.parametrize(
    "url", ["/account/", "/account/members/", "/account/api-keys/"]
)
def test_account_pages_send_a_stranger_to_sign_in(client, url):
    assert client.get(url)["Location"].startswith("/login/")


def test_a_teammate_can_switch_to_the_shared_account(cast):
    client = signed_in(cast.teammate)

    client.post("/account/switch/", {"account": "owner"})

    page = client.get("/").content.decode()
    assert "Account owner" in page


def test_an_outsider_cannot_switch_into_another_account(cast):
    client = signed_in(cast.outsider)

    response = client.post("/account/switch/", {"account": "owner"})

    assert response.status_code == 404
    assert "Account outsider" in client.get("/").content.decode()


def test_switching_needs_the_csrf_token(cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.teammate.user)

    response = client.post("/account/switch/", {"account": "owner"})

    assert response.status_code == 403


def test_an_admin_adds_a_member_with_a_role(cast, django_user_model):
    django_user_model.objects.create_user(username="newcomer", password="pw-123456")

    signed_in(cast.owner).post(
        "/account/members/add/", {"username": "newcomer", "role": "viewer"}
    )

    membership = Membership.objects.get(account=cast.account, user__username="newcomer")
    assert membership.role == "viewer"


@pytest.mark.parametrize("who", ["teammate", "viewer"])
def test_only_admins_manage_members(cast, who):
    client = signed_in(getattr(cast, who))
    client.post("/account/switch/", {"account": "owner"})
    viewer = Membership.objects.get(account=cast.account, user=cast.viewer.user)

    added = client.post(
        "/account/members/add/", {"username": "outsider", "role": "admin"}
    )
    changed = client.post(f"/account/members/{viewer.pk}/", {"role": "admin"})

    assert added.status_code == 403
    assert changed.status_code == 403
    viewer.refresh_from_db()
    assert viewer.role == "viewer"
    assert not Membership.objects.filter(
        account=cast.account, user=cast.outsider.user
    ).exists()


def test_an_outsider_cannot_change_a_membership_of_another_account(cast):
    viewer = Membership.objects.get(account=cast.account, user=cast.viewer.user)

    response = signed_in(cast.outsider).post(
        f"/account/members/{viewer.pk}/", {"remove": "1"}
    )

    assert response.status_code == 404
    assert Membership.objects.filter(pk=viewer.pk).exists()


def test_an_admin_changes_a_role_and_removes_a_member(cast):
    client = signed_in(cast.owner)
    viewer = Membership.objects.get(account=cast.account, user=cast.viewer.user)
    teammate = Membership.objects.get(account=cast.account, user=cast.teammate.user)

    client.post(f"/account/members/{viewer.pk}/", {"role": "member"})
    client.post(f"/account/members/{teammate.pk}/", {"remove": "1"})

    viewer.refresh_from_db()
    assert viewer.role == "member"
    assert not Membership.objects.filter(pk=teammate.pk).exists()


def test_the_last_admin_cannot_leave_or_step_down(cast):
    client = signed_in(cast.owner)
    mine = Membership.objects.get(account=cast.account, user=cast.owner.user)

    client.post(f"/account/members/{mine.pk}/", {"role": "viewer"})
    response = client.post(f"/account/members/{mine.pk}/", {"remove": "1"}, follow=True)

    mine.refresh_from_db()
    assert mine.role == "admin"
    assert b"at least one admin" in response.content


def test_a_new_api_key_is_shown_once_and_stored_hashed(cast):
    client = signed_in(cast.owner)

    created = client.post("/account/api-keys/", {"name": "laptop"}).content.decode()
    again = client.get("/account/api-keys/").content.decode()

    record = ApiKey.objects.get(user=cast.owner.user, name="laptop")
    key = created.split('<code id="new-key">')[1].split("</code>")[0]
    assert key.startswith("dpo_")
    assert key not in again
    assert record.key_hash != key and key not in record.key_hash
    assert authenticate_key(key) == record
    assert record.key_prefix in again


def test_the_key_page_shows_when_a_key_was_last_used(cast):
    authenticate_key(cast.owner.key)

    page = signed_in(cast.owner).get("/account/api-keys/").content.decode()

    assert "never" not in page
    assert "ago" in page or "now" in page


def test_a_user_revokes_their_key(cast):
    record = ApiKey.objects.get(user=cast.owner.user)

    signed_in(cast.owner).post(f"/account/api-keys/{record.pk}/revoke/")

    assert authenticate_key(cast.owner.key) is None


def test_nobody_revokes_another_users_key(cast):
    record = ApiKey.objects.get(user=cast.owner.user)

    response = signed_in(cast.teammate).post(f"/account/api-keys/{record.pk}/revoke/")

    assert response.status_code == 404
    assert authenticate_key(cast.owner.key) == record


def test_the_key_page_lists_only_the_users_own_keys(cast):
    page = signed_in(cast.teammate).get("/account/api-keys/").content.decode()
    own = ApiKey.objects.get(user=cast.teammate.user)
    other = ApiKey.objects.get(user=cast.owner.user)

    assert own.key_prefix in page
    assert other.key_prefix not in page


def test_a_key_does_not_open_the_account_pages(cast, client):
    response = client.get(
        "/account/api-keys/", headers={"Authorization": f"Bearer {cast.owner.key}"}
    )

    assert response.status_code == 302


def sign_in(client, username, password, address="10.0.0.1"):
    return client.post(
        "/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


@override_settings(DPO_SIGNIN_MAX_FAILURES_PER_USER=3)
def test_a_user_name_is_locked_after_failed_sign_ins(cast, client, redis_queues):
    for _ in range(3):
        sign_in(client, "owner", "wrong")

    locked = sign_in(client, "owner", "pw-123456", address="10.0.0.2")

    assert locked.status_code == 200
    assert b"Too many failed sign-ins for this user name" in locked.content
    assert "_auth_user_id" not in client.session


@override_settings(DPO_SIGNIN_MAX_FAILURES_PER_ADDRESS=3)
def test_an_address_is_locked_after_failed_sign_ins(cast, client, redis_queues):
    for name in ["owner", "teammate", "viewer"]:
        sign_in(client, name, "wrong")

    locked = sign_in(client, "outsider", "pw-123456")
    elsewhere = sign_in(Client(), "outsider", "pw-123456", address="10.0.0.9")

    assert b"Too many failed sign-ins for your network address" in locked.content
    assert elsewhere.status_code == 302


@override_settings(DPO_SIGNIN_MAX_FAILURES_PER_USER=3)
def test_a_good_sign_in_clears_the_users_count(cast, client, redis_queues):
    sign_in(client, "owner", "wrong")
    sign_in(client, "owner", "wrong")
    assert sign_in(client, "owner", "pw-123456").status_code == 302

    sign_in(Client(), "owner", "wrong")
    response = sign_in(Client(), "owner", "pw-123456")

    assert response.status_code == 302


def test_a_wrong_password_says_so_without_locking(cast, client, redis_queues):
    response = sign_in(client, "owner", "wrong")

    assert b"Please enter a correct username and password" in response.content


def test_the_admin_lists_and_revokes_api_keys(cast, admin_client):
    record = ApiKey.objects.get(user=cast.owner.user)

    listing = admin_client.get("/admin/dpo_portal/apikey/")
    admin_client.post(
        "/admin/dpo_portal/apikey/",
        {"action": "revoke", "_selected_action": [record.pk]},
    )

    assert record.key_prefix in listing.content.decode()
    assert authenticate_key(cast.owner.key) is None


def test_the_header_names_the_account_the_pages_act_for(cast):
    client = signed_in(cast.teammate)
    before = client.get("/account/").content.decode()

    client.post("/account/switch/", {"account": "owner"})
    after = client.get("/account/").content.decode()

    assert "Account: teammate" in before
    assert "Account: owner" in after
