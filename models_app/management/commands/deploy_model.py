"""Deploy or undeploy a model from the command line, e.g. the one `make demo` made."""

import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from jobs_app.models import LanguageModel
from models_app import services
from models_app.api import MODEL_NAME
from models_app.models import Deployment


class Command(BaseCommand):
    help = (
        "Deploy a fine-tuned model (accounts/{account}/models/{model}) on an "
        "inference worker, or undeploy it with --undeploy. --wait follows the "
        "deployment until it is READY or FAILED."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="accounts/{account}/models/{model}")
        parser.add_argument("--undeploy", action="store_true")
        parser.add_argument("--wait", action="store_true")

    def handle(self, *args, name, undeploy, wait, **options):
        model = self._model(name)
        account = model.account
        if undeploy:
            deployment = services.active_deployment(account, model)
            if deployment is None or not services.undeploy(deployment):
                raise CommandError(f"{name} is not deployed.")
            self.stdout.write(f"{name} undeployed.")
            return

        try:
            deployment = services.deploy(account, model)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from None
        self.stdout.write(f"{name}: DEPLOYING on the 'inference' queue.")
        if wait:
            self._follow(deployment)

    def _model(self, name):
        match = MODEL_NAME.match(name)
        if not match or match.group(1) == "shared":
            raise CommandError(
                f"{name!r} is not a fine-tuned model's name: "
                "accounts/{account}/models/{model}."
            )
        model = LanguageModel.objects.filter(
            account__account_id=match.group(1), model_id=match.group(2)
        ).first()
        if model is None:
            raise CommandError(f"No model {name}.")
        return model

    def _follow(self, deployment):
        while deployment.state == Deployment.DEPLOYING:
            time.sleep(1)
            deployment.refresh_from_db()
        if deployment.state != Deployment.READY:
            raise CommandError(
                f"Deployment {deployment.state}: {deployment.failure_reason}"
            )
        self.stdout.write(
            f"READY: call it with model={deployment.model.name!r} at /inference/v1."
        )
