"""Which account a request acts for, and loading resources only from it."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404

from dpo_portal.ids import slug_for_account
from dpo_portal.models import Account, Membership

WRITE_ROLES = {Membership.ROLE_ADMIN, Membership.ROLE_MEMBER}
SESSION_KEY = "account_id"


def personal_account(user):
    """The user's first account; a personal one is made on first use."""
    membership = Membership.objects.filter(user=user).select_related("account").first()
    if membership:
        return membership.account

    with transaction.atomic():
        base = slug_for_account(user.get_username())
        account_id, n = base, 1
        while Account.objects.filter(account_id=account_id).exists():
            n += 1
            account_id = f"{base[:58]}-{n}"
        account = Account.objects.create(account_id=account_id, display_name=user)
        Membership.objects.create(
            account=account, user=user, role=Membership.ROLE_ADMIN
        )
    return account


def current_account(request):
    """The account the user chose for this session, else their first one."""
    chosen = request.session.get(SESSION_KEY)
    if chosen:
        account = Account.objects.filter(
            account_id=chosen, members=request.user
        ).first()
        if account:
            return account
    return personal_account(request.user)


def in_current_account(queryset, request):
    """The rows of the account the pages act for, the one the header names."""
    return queryset.filter(account=current_account(request))


def role_in(account, user):
    membership = Membership.objects.filter(account=account, user=user).first()
    return membership.role if membership else None


def require_write(account, user):
    """403 for a viewer: they may read the account's resources, not change them."""
    if role_in(account, user) not in WRITE_ROLES:
        raise PermissionDenied("Viewers can look but not create, change or delete.")


def get_for_user(queryset, user, write=False, prefer=None, **lookup):
    """Fetch one row of the user's accounts, or 404 (never another account's data).

    IDs are unique within an account, not across the user's accounts: with the same
    ID in two of them, the row of `prefer` (the current account) wins. With
    `write=True`, a member who may only view gets 403.
    """
    rows = queryset.filter(account__members=user, **lookup).distinct()
    row = None
    if prefer is not None:
        row = rows.filter(account=prefer).first()
    row = row or rows.first()
    if row is None:
        raise Http404(f"No {queryset.model._meta.verbose_name} found.")
    if write:
        require_write(row.account, user)
    return row


def for_user(queryset, user):
    return queryset.filter(account__members=user).distinct()
