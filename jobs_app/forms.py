from dataclasses import fields

from django import forms

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
]


def _param_field(spec, default):
    meta = spec.metadata
    common = {"initial": default, "help_text": meta["help"], "required": True}
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
        help_text="The model the LoRA adapter is trained on.",
        to_field_name="model_id",
    )
    output_model_id = forms.CharField(
        label="Output model ID",
        max_length=63,
        help_text="The fine-tuned model is registered under this ID.",
    )

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = Dataset.objects.filter(
            account=account, state=Dataset.STATE_READY
        )
        self.fields["base_model"].queryset = LanguageModel.objects.filter(
            account__isnull=True, kind=LanguageModel.KIND_BASE
        )
        defaults = DpoParams()
        specs = {spec.name: spec for spec in fields(DpoParams)}
        for name in FORM_PARAMS + ADVANCED_PARAMS:
            self.fields[name] = _param_field(specs[name], getattr(defaults, name))

    def params(self):
        return DpoParams(
            **{n: self.cleaned_data[n] for n in FORM_PARAMS + ADVANCED_PARAMS}
        )

    def main_fields(self):
        return [
            self[n] for n in ["dataset", "base_model", "output_model_id", *FORM_PARAMS]
        ]

    def advanced_fields(self):
        return [self[n] for n in ADVANCED_PARAMS]
