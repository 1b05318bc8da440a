from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dpo_portal import account_views, views
from dpo_portal.signin import LimitedLoginView

admin.site.site_header = "DPO portal administration"
admin.site.site_title = "DPO portal admin"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", LimitedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("datasets/", include("datasets_app.urls")),
    path("uploads/", include("datasets_app.upload_urls")),
    path("models/", include("models_app.urls")),
    path("inference/", include("models_app.api_urls")),
    path("", include("jobs_app.urls")),
    path("admin/", admin.site.urls),
    path("v1/", include("dpo_portal.api.urls")),
    path("account/", account_views.account_list, name="account_list"),
    path("account/switch/", account_views.account_switch, name="account_switch"),
    path("account/members/", account_views.member_list, name="member_list"),
    path("account/members/add/", account_views.member_add, name="member_add"),
    path(
        "account/members/<int:membership_id>/",
        account_views.member_change,
        name="member_change",
    ),
    path("account/api-keys/", account_views.api_key_list, name="api_key_list"),
    path(
        "account/api-keys/<int:key_id>/revoke/",
        account_views.api_key_revoke,
        name="api_key_revoke",
    ),
]
