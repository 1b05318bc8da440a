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
    eval_fraction: float = option(
        0.0,
        "Share of the training pairs held out for evaluation (0-0.5; 0 holds none "
        "out). Ignored when an evaluation dataset is chosen.",
        0,
        0.5,
    )
    eval_steps: int = option(
        0,
        "Evaluate every this many optimizer steps (0-100000); 0 evaluates at the end "
        "of each epoch. Needs an evaluation dataset or a held-out fraction.",
        0,
        100_000,
    )
    checkpoint_steps: int = option(
        100,
        "Save a checkpoint every this many optimizer steps (0-100000; 0 saves only "
        "at the end of each epoch). A lost worker's job resumes from the last one.",
        0,
        100_000,
    )
    checkpoints_kept: int = option(
        2, "How many of the latest checkpoints are kept on disk (1-100).", 1, 100
    )
    precompute_ref_log_probs: bool = option(
        False,
        "Compute the reference model's log-probabilities once before training "
        "instead of at every step: one forward pass fewer per step, one pass over "
        "the data first. Gains most over several epochs.",
    )
    gradient_checkpointing: bool = option(
        True,
        "Recompute activations in the backward pass instead of keeping them: a "
        "fraction of the memory for about a third more compute. Turn it off for "
        "speed when the batch fits without it.",
    )
    length_grouped_batches: bool = option(
        False,
        "Batch pairs of similar length together, so less padding is computed. "
        "Faster on sets with varied lengths; batches are less random.",
    )

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, values):
        """Build from stored values, keeping defaults for options added since."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def problems(self, base_context_length=None, has_eval_dataset=False):
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
        if self.eval_steps and not self.eval_fraction and not has_eval_dataset:
            found["eval_steps"] = (
                f"eval_steps is {self.eval_steps}, but there is nothing to evaluate "
                "on: choose an evaluation dataset or an eval_fraction above 0."
            )
        if self.lora_target_modules.strip() == "":
            found["lora_target_modules"] = (
                "lora_target_modules is empty: use 'all-linear' or module names."
            )
        return found


def _check(spec, value):
    meta = spec.metadata
    name = spec.name
    if spec.type in (bool, "bool"):
        return None if isinstance(value, bool) else f"{name} must be true or false."
    if spec.type in (int, "int") and (
        isinstance(value, bool) or not isinstance(value, int)
    ):
        return f"{name} is {value!r}; it must be a whole number."
    if spec.type in (float, "float") and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        return f"{name} is {value!r}; it must be a number."
    if meta["choices"] and value not in meta["choices"]:
        return f"{name} is {value!r}; accepted: {', '.join(meta['choices'])}."

    low, high = meta["low"], meta["high"]
    shown = _shown(value)
    if low is not None and meta["low_open"] and value <= low:
        return f"{name} is {shown}; it must be greater than {low}."
    if low is not None and value < low:
        return f"{name} is {shown}; it must be at least {low}."
    if high is not None and value > high:
        return f"{name} is {shown}; it must be at most {high}."
    return None


def _shown(value):
    # A value far out of range can have thousands of digits; the start says enough.
    text = str(value)
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} digits)"


def help_texts():
    return {spec.name: spec.metadata["help"] for spec in fields(DpoParams)}


# Starting points offered on the create form; each names only what it changes.
PRESETS = {
    "quick-test": {
        "label": "Quick test",
        "help": "One short epoch with a high rate: checks the set and the setup.",
        "values": {
            "epochs": 1,
            "learning_rate": 2e-4,
            "batch_size": 2,
            "max_context_length": 512,
            "lora_rank": 4,
            "lora_alpha": 8,
            "checkpoint_steps": 0,
        },
    },
    "balanced": {
        "label": "Balanced",
        "help": "The defaults: one epoch, rank 8, beta 0.1.",
        "values": {},
    },
    "thorough": {
        "label": "Thorough",
        "help": "Three epochs, rank 16, a lower rate and 10% held out for evaluation.",
        "values": {
            "epochs": 3,
            "learning_rate": 2e-5,
            "lora_rank": 16,
            "lora_alpha": 32,
            "eval_fraction": 0.1,
            "eval_steps": 50,
            "lr_scheduler": "cosine",
            "precompute_ref_log_probs": True,
        },
    },
}


def preset_params(name):
    """DpoParams of a preset; KeyError for an unknown name."""
    return DpoParams(**PRESETS[name]["values"])
