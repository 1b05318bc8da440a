"""Which account a request acts for, and loading resources only from it."""

from django.db import transaction
from django.http import Http404

from dpo_portal.ids import slug_for_account
from dpo_portal.models import Account, Membership


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


def get_for_user(queryset, user, **lookup):
    """Fetch one row of the user's accounts, or 404 (never another account's data)."""
    try:
        return queryset.filter(account__members=user).distinct().get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404(f"No {queryset.model._meta.verbose_name} found.") from None


def for_user(queryset, user):
    return queryset.filter(account__members=user).distinct()
