from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dpo_portal import views

admin.site.site_header = "DPO portal administration"
admin.site.site_title = "DPO portal admin"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="login.html"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("datasets/", include("datasets_app.urls")),
    path("uploads/", include("datasets_app.upload_urls")),
    path("models/", include("models_app.urls")),
    path("inference/", include("models_app.api_urls")),
    path("", include("jobs_app.urls")),
    path("admin/", admin.site.urls),
]
