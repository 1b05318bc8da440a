from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from models_app import api

# The OpenAI-compatible views act only for a caller with an API key, never for a
# session cookie a browser would send by itself, so CSRF tokens have no job here.
urlpatterns = [
    path(
        "v1/chat/completions",
        csrf_exempt(api.chat_completions),
        name="chat_completions",
    ),
    path("v1/models", csrf_exempt(api.list_models), name="inference_models"),
]
