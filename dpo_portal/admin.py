from django.contrib import admin

from dpo_portal.models import Account, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["account_id", "display_name", "created_at"]
    search_fields = ["account_id", "display_name"]
    inlines = [MembershipInline]
