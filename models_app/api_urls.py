from django.urls import path

from models_app import api

urlpatterns = [
    path("v1/chat/completions", api.chat_completions, name="chat_completions"),
    path("v1/models", api.list_models, name="inference_models"),
]
