from dataclasses import fields

from django import forms
from django.conf import settings
from django.db.models import Q

from datasets_app.models import Dataset
from jobs_app.models import LanguageModel
from jobs_app.params import DpoParams

FORM_PARAMS = [
    "epochs",
    "learning_rate",
    "beta",
    "batch_size",
    "max_context_length",
    "lora_rank",
]
ADVANCED_PARAMS = [
    "loss_type",
    "gradient_accumulation_steps",
    "lora_alpha",
    "lora_dropout",
    "lora_target_modules",
    "warmup_ratio",
    "lr_scheduler",
    "weight_decay",
    "max_grad_norm",
    "seed",
    "eval_fraction",
    "eval_steps",
    "checkpoint_steps",
    "checkpoints_kept",
    "precompute_ref_log_probs",
    "gradient_checkpointing",
    "length_grouped_batches",
]


def _label(name):
    words = name.replace("_", " ").capitalize()
    return words.replace("Lora", "LoRA").replace("Lr ", "LR ")


def _param_field(spec, default):
    meta = spec.metadata
    # A blank option means its default, so older clients need not send new options.
    label = _label(spec.name)
    common = {
        "initial": default,
        "help_text": meta["help"],
        "required": False,
        "label": label,
    }
    if spec.type in (bool, "bool"):
        return forms.BooleanField(
            initial=default, help_text=meta["help"], required=False, label=label
        )
    if meta["choices"]:
        return forms.ChoiceField(choices=[(c, c) for c in meta["choices"]], **common)
    if spec.type in (int, "int"):
        return forms.IntegerField(**common)
    if spec.type in (float, "float"):
        return forms.FloatField(
            widget=forms.NumberInput(attrs={"step": "any"}), **common
        )
    return forms.CharField(**common)


class NewJobForm(forms.Form):
    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.none(),
        help_text="A READY dataset of this account.",
        to_field_name="dataset_id",
    )
    base_model = forms.ModelChoiceField(
        queryset=LanguageModel.objects.none(),
        help_text="The model the LoRA adapter is trained on; pick one of your "
        "fine-tuned models to warm-start: its adapter trains on from there.",
        to_field_name="model_id",
    )
    eval_dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.none(),
        required=False,
        label="Evaluation dataset",
        help_text="Optional: evaluated every eval_steps. Without one, eval_fraction "
        "holds part of the training set out instead.",
        to_field_name="dataset_id",
    )
    queue = forms.ChoiceField(
        choices=[],
        required=False,
        help_text="The training queue, one per GPU kind; workers listen on theirs.",
    )
    output_model_id = forms.CharField(
        label="Output model ID",
        max_length=63,
        required=False,
        help_text="The fine-tuned model is registered under this ID. Leave it empty "
        "for <dataset>-dpo (-2, -3, ... when taken).",
    )

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        ready = Dataset.objects.filter(account=account, state=Dataset.STATE_READY)
        self.fields["dataset"].queryset = ready
        self.fields["eval_dataset"].queryset = ready
        self.fields["queue"].choices = [(q, q) for q in settings.DPO_TRAINING_QUEUES]
        # A fine-tuned model of the account is a warm start: its adapter trains on.
        self.fields["base_model"].queryset = LanguageModel.objects.filter(
            Q(account__isnull=True, kind=LanguageModel.KIND_BASE)
            | Q(account=account, kind=LanguageModel.KIND_FINE_TUNED)
        )
        # Nothing to choose yet when there is one base model, or the default.
        self.initial.setdefault("base_model", settings.DPO_DEFAULT_BASE_MODEL)
        defaults = DpoParams()
        specs = {spec.name: spec for spec in fields(DpoParams)}
        for name in FORM_PARAMS + ADVANCED_PARAMS:
            self.fields[name] = _param_field(specs[name], getattr(defaults, name))

    def params(self):
        defaults = DpoParams()
        values = {}
        for name in FORM_PARAMS + ADVANCED_PARAMS:
            value = self.cleaned_data[name]
            blank = value is None or value == ""
            values[name] = getattr(defaults, name) if blank else value
        return DpoParams(**values)

    def main_fields(self):
        names = ["dataset", "base_model", "output_model_id", *FORM_PARAMS]
        return [self[n] for n in names]

    def placement_fields(self):
        return [self["eval_dataset"], self["queue"]]

    def advanced_fields(self):
        return [self[n] for n in ADVANCED_PARAMS]
