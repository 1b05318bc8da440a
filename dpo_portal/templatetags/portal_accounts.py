from django import template

from dpo_portal.accounts import current_account

register = template.Library()


@register.simple_tag(takes_context=True)
def current_account_id(context):
    """The ID of the account the signed-in user's pages act for."""
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return ""
    return current_account(request).account_id
