from django.urls import path

from datasets_app import uploads

# The views check the session's CSRF token themselves, after authentication, so a
# client that is not signed in gets a 401 rather than a CSRF failure.
urlpatterns = [
    path("", uploads.collection, name="uploads"),
    path("<str:upload_id>", uploads.resource, name="upload"),
]
