"""The options of a DPO run: one typed field each, with default, range and help text.

The create form, the admin and the worker all read this one definition.
"""

from dataclasses import asdict, dataclass, field, fields

LOSS_TYPES = ["sigmoid", "ipo", "hinge", "robust", "bco_pair", "sppo_hard", "apo_zero"]
SCHEDULERS = ["linear", "cosine", "constant", "constant_with_warmup"]


def option(default, help, low=None, high=None, choices=None, low_open=False):
    meta = {"help": help, "low": low, "high": high, "choices": choices}
    meta["low_open"] = low_open
    return field(default=default, metadata=meta)


@dataclass
class DpoParams:
    epochs: int = option(
        1,
        "Passes over the training set (1-100). More epochs overfit small sets.",
        1,
        100,
    )
    learning_rate: float = option(
        5e-5,
        "Peak learning rate of the LoRA weights (0 < lr <= 0.01). "
        "LoRA wants larger rates than full fine-tuning: 1e-5 to 2e-4.",
        0,
        0.01,
        low_open=True,
    )
    beta: float = option(
        0.1,
        "DPO beta (> 0, at most 10): how far the tuned model may move from the base. "
        "Smaller lets it move further; 0.1 is the usual start.",
        0,
        10,
        low_open=True,
    )
    loss_type: str = option(
        "sigmoid",
        "The preference loss: sigmoid is the original DPO; ipo, hinge and robust "
        "are its variants as TRL implements them.",
        choices=LOSS_TYPES,
    )
    batch_size: int = option(4, "Preference pairs per device per step (1-256).", 1, 256)
    gradient_accumulation_steps: int = option(
        1,
        "Steps whose gradients add up before an update (1-256); the effective batch "
        "is batch size x this.",
        1,
        256,
    )
    max_context_length: int = option(
        1024,
        "Longest prompt + response in tokens (32-131072); longer pairs are cut at "
        "the end. Must not exceed the base model's context.",
        32,
        131072,
    )
    lora_rank: int = option(
        8, "Rank of the LoRA matrices (1-256). Higher learns more, costs more.", 1, 256
    )
    lora_alpha: int = option(
        16,
        "LoRA scaling alpha (1-1024); the update is scaled by alpha / rank.",
        1,
        1024,
    )
    lora_dropout: float = option(0.05, "Dropout on the LoRA path (0-0.9).", 0, 0.9)
    lora_target_modules: str = option(
        "all-linear",
        "Which layers get an adapter: 'all-linear' or comma-separated module names "
        "such as q_proj,v_proj.",
    )
    warmup_ratio: float = option(
        0.1, "Share of the steps spent warming the learning rate up (0-0.5).", 0, 0.5
    )
    lr_scheduler: str = option(
        "linear", "How the learning rate falls after warm-up.", choices=SCHEDULERS
    )
    weight_decay: float = option(0.0, "AdamW weight decay (0-1).", 0, 1)
    max_grad_norm: float = option(
        1.0,
        "Gradients are clipped to this norm (0 turns clipping off, at most 100).",
        0,
        100,
    )
    seed: int = option(
        42, "Random seed for shuffling and initialisation.", 0, 2**31 - 1
    )

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, values):
        """Build from stored values, keeping defaults for options added since."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def problems(self, base_context_length=None):
        """{field: message} for every value outside its range."""
        found = {}
        for spec in fields(self):
            message = _check(spec, getattr(self, spec.name))
            if message:
                found[spec.name] = message

        if base_context_length and self.max_context_length > base_context_length:
            found["max_context_length"] = (
                f"max_context_length is {self.max_context_length}, but the base "
                f"model takes at most {base_context_length} tokens."
            )
        if self.lora_target_modules.strip() == "":
            found["lora_target_modules"] = (
                "lora_target_modules is empty: use 'all-linear' or module names."
            )
        return found


def _check(spec, value):
    meta = spec.metadata
    name = spec.name
    if meta["choices"] and value not in meta["choices"]:
        return f"{name} is {value!r}; accepted: {', '.join(meta['choices'])}."

    low, high = meta["low"], meta["high"]
    if low is not None and meta["low_open"] and value <= low:
        return f"{name} is {value}; it must be greater than {low}."
    if low is not None and value < low:
        return f"{name} is {value}; it must be at least {low}."
    if high is not None and value > high:
        return f"{name} is {value}; it must be at most {high}."
    return None


def help_texts():
    return {spec.name: spec.metadata["help"] for spec in fields(DpoParams)}
