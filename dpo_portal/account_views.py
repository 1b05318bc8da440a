"""Account pages: switch the account a session acts for, manage its members
(account admins), and each user's own API keys."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dpo_portal.accounts import SESSION_KEY, current_account, role_in
from dpo_portal.api_keys import create_key, revoke_key
from dpo_portal.models import Account, ApiKey, Membership

ROLE_NAMES = dict(Membership.ROLES)


@login_required
def account_list(request):
    current = current_account(request)
    memberships = Membership.objects.filter(user=request.user).select_related("account")
    context = {"current": current, "memberships": memberships}
    return render(request, "accounts/accounts.html", context)


@login_required
@require_POST
def account_switch(request):
    account = Account.objects.filter(
        account_id=request.POST.get("account", ""), members=request.user
    ).first()
    if account is None:
        raise Http404("No such account among yours.")
    request.session[SESSION_KEY] = account.account_id
    messages.info(request, f"Now acting for account {account.account_id}.")
    return redirect("dashboard")


def _require_admin(account, user):
    if role_in(account, user) != Membership.ROLE_ADMIN:
        raise PermissionDenied("Only the account's admins manage its members.")


@login_required
def member_list(request):
    account = current_account(request)
    members = Membership.objects.filter(account=account).select_related("user")
    context = {
        "account": account,
        "members": members.order_by("user__username"),
        "is_admin": role_in(account, request.user) == Membership.ROLE_ADMIN,
        "roles": Membership.ROLES,
    }
    return render(request, "accounts/members.html", context)


@login_required
@require_POST
def member_add(request):
    account = current_account(request)
    _require_admin(account, request.user)
    username = request.POST.get("username", "").strip()
    role = request.POST.get("role", "")

    user = get_user_model().objects.filter(username=username).first()
    if role not in ROLE_NAMES:
        messages.error(request, f"Role {role!r} is not one of admin, member, viewer.")
    elif user is None:
        messages.error(request, f"No user named {username!r}; they sign in first.")
    elif Membership.objects.filter(account=account, user=user).exists():
        messages.error(request, f"{username} is already a member; change their role.")
    else:
        Membership.objects.create(account=account, user=user, role=role)
        messages.info(request, f"{username} joined {account} as {role}.")
    return redirect("member_list")


@login_required
@require_POST
def member_change(request, membership_id):
    account = current_account(request)
    _require_admin(account, request.user)
    membership = Membership.objects.filter(pk=membership_id, account=account).first()
    if membership is None:
        raise Http404("No such member of this account.")
    role = request.POST.get("role", "")
    removing = request.POST.get("remove") == "1"
    if not removing and role not in ROLE_NAMES:
        messages.error(request, f"Role {role!r} is not one of admin, member, viewer.")
        return redirect("member_list")

    with transaction.atomic():
        admins = Membership.objects.select_for_update().filter(
            account=account, role=Membership.ROLE_ADMIN
        )
        last_admin = membership.role == Membership.ROLE_ADMIN and admins.count() == 1
        if last_admin and (removing or role != Membership.ROLE_ADMIN):
            messages.error(request, "An account keeps at least one admin.")
        elif removing:
            membership.delete()
            messages.info(request, f"{membership.user} left {account}.")
        else:
            Membership.objects.filter(pk=membership.pk).update(role=role)
            messages.info(request, f"{membership.user} is now {role}.")
    return redirect("member_list")


@login_required
def api_key_list(request):
    new_key = None
    if request.method == "POST":
        record, new_key = create_key(request.user, request.POST.get("name", ""))
        messages.info(request, f"API key {record.name!r} created.")
    keys = ApiKey.objects.filter(user=request.user)
    accounts = Account.objects.filter(members=request.user)
    context = {"keys": keys, "new_key": new_key, "accounts": accounts}
    return render(request, "accounts/api_keys.html", context)


@login_required
@require_POST
def api_key_revoke(request, key_id):
    if not revoke_key(request.user, key_id):
        raise Http404("No such active key of yours.")
    messages.info(request, "The key is revoked; requests with it now fail.")
    return redirect("api_key_list")
