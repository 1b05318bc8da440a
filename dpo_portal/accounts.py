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


def role_in(account, user):
    membership = Membership.objects.filter(account=account, user=user).first()
    return membership.role if membership else None


def require_write(account, user):
    """403 for a viewer: they may read the account's resources, not change them."""
    if role_in(account, user) not in WRITE_ROLES:
        raise PermissionDenied("Viewers can look but not create, change or delete.")


def get_for_user(queryset, user, write=False, **lookup):
    """Fetch one row of the user's accounts, or 404 (never another account's data).

    With `write=True`, a member who may only view gets 403.
    """
    try:
        row = queryset.filter(account__members=user).distinct().get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404(f"No {queryset.model._meta.verbose_name} found.") from None
    if write:
        require_write(row.account, user)
    return row


def for_user(queryset, user):
    return queryset.filter(account__members=user).distinct()
