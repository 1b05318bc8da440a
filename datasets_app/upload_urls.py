from django.urls import path
from django.views.decorators.csrf import csrf_protect

from datasets_app import uploads

urlpatterns = [
    path("", csrf_protect(uploads.collection), name="uploads"),
    path("<str:upload_id>", csrf_protect(uploads.resource), name="upload"),
]
