"""One DPO run, start to end: data, check, model, adapter, train, save.

Runs inside the RQ work horse. torch is imported here and nowhere the worker's
parent process reaches, so CUDA is first initialised after the fork.
"""

import logging
import math
import resource
import shutil
import warnings

from datasets_app.services import record_token_stats
from jobs_app import states
from jobs_app.params import DpoParams
from jobs_app.training.data import load_pairs
from jobs_app.training.progress import EpochCheckpointCallback, ProgressCallback
from jobs_app.training.screening import MIN_USABLE_PAIRS, screen_pairs

log = logging.getLogger(__name__)

# transformers 5 renamed gradient checkpointing "activation checkpointing"; TRL and
# the Trainer still call the old names, which put four FutureWarnings that say
# nothing to a user into every job's log.
warnings.filterwarnings(
    "ignore",
    message=r"`(is_)?gradient_checkpointing(_enable|_disable)?` is deprecated",
    category=FutureWarning,
)


class TooFewPairs(ValueError):
    """Fewer than MIN_USABLE_PAIRS pairs survive the check against the context."""


def pick_device():
    """('cuda', 'NVIDIA H100 ...') where a GPU is visible, else ('cpu', 'CPU')."""
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.cuda.get_device_name(0)
    return "cpu", "CPU"


def peak_memory_bytes(device):
    """Peak GPU memory the run allocated on CUDA; the process's peak RSS on CPU."""
    import torch

    if device == "cuda":
        return torch.cuda.max_memory_allocated()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def train_adapter(job, params: DpoParams, device, heartbeat, eval_path=None):
    """Train a LoRA adapter with TRL's DPOTrainer; the adapter's folder, or None
    when the job was cancelled (its last checkpoint then holds the adapter)."""
    import datasets
    import torch
    from peft import LoraConfig, PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    datasets.disable_progress_bars()
    torch.manual_seed(params.seed)
    on_gpu = device == "cuda"
    # A fine-tuned model as the job's base means a warm start: its adapter trains
    # on, over the weights of the base model it was made on.
    warm_start = job.base_model if job.base_model.kind == "FINE_TUNED" else None
    base_path = job.base_model.weights_model.path

    # 1. The tokenizer; its chat template renders the turns, here and in TRL.
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    if not tokenizer.chat_template:
        raise ValueError(f"The base model in {base_path} has no chat template.")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    # 2. The data: an Arrow dataset in the job's folder, in TRL's conversational
    #    prompt / chosen / rejected shape, each row with its file line.
    pairs = load_pairs(job.dataset.file_path, job.folder / "arrow")
    log.info("job %s: %d preference pairs loaded", job.job_id, len(pairs))

    # 3. VALIDATING: tokenise as TRL will; skip pairs that would teach nothing.
    screening = screen_pairs(
        pairs, tokenizer, params.max_context_length, heartbeat.cancel_asked
    )
    if heartbeat.cancel_asked():
        return None
    _record_screening(job, screening, params.max_context_length)
    train_pairs = pairs.select(screening.usable).remove_columns(["line"])
    if params.length_grouped_batches:
        # The sampler reads lengths from this column instead of tokenising again.
        train_pairs = train_pairs.add_column("length", screening.lengths)
    eval_pairs = _eval_pairs(job, params, tokenizer, eval_path)
    if eval_pairs is None and params.eval_fraction > 0:
        held_out = max(1, round(len(train_pairs) * params.eval_fraction))
        split = train_pairs.train_test_split(test_size=held_out, seed=params.seed)
        train_pairs, eval_pairs = split["train"], split["test"]
    if len(train_pairs) < MIN_USABLE_PAIRS:
        raise TooFewPairs(
            f"Only {len(train_pairs)} usable training pairs remain after the check "
            f"against max_context_length {params.max_context_length}; at least "
            f"{MIN_USABLE_PAIRS} are needed. Skipped: "
            + "; ".join(f"line {s['line']}: {s['reason']}" for s in screening.skipped)
        )
    if not states.move(
        job,
        {states.VALIDATING},
        states.RUNNING,
        f"Training on {len(train_pairs)} pairs"
        + (f", evaluating on {len(eval_pairs)}." if eval_pairs else "."),
    ):
        return None  # cancelled while validating

    # 4. The base model, and its LoRA adapter. With an adapter, TRL's reference
    #    model is the same weights with the adapter switched off: no second copy.
    model = AutoModelForCausalLM.from_pretrained(
        base_path, dtype=torch.bfloat16 if on_gpu else torch.float32
    )
    if warm_start:
        # The reference stays the base with the adapter off, as in the run that
        # made the adapter; its LoRA shape (rank, targets) comes with it.
        model = PeftModel.from_pretrained(model, warm_start.path, is_trainable=True)
        job.events.create(
            message=f"Warm start from {warm_start.name}; its LoRA settings apply."
        )
    targets = params.lora_target_modules.strip()
    lora = LoraConfig(
        r=params.lora_rank,
        lora_alpha=params.lora_alpha,
        lora_dropout=params.lora_dropout,
        target_modules=targets
        if targets == "all-linear"
        else [name.strip() for name in targets.split(",") if name.strip()],
        task_type="CAUSAL_LM",
    )

    # 5. Train, resuming from the last checkpoint when an earlier attempt left one.
    config = DPOConfig(
        output_dir=str(job.checkpoints_dir),
        **trainer_options(
            params, on_gpu, len(train_pairs), has_eval=eval_pairs is not None
        ),
    )
    trainer = _with_length_column(DPOTrainer)(
        model=model,
        args=config,
        train_dataset=train_pairs,
        eval_dataset=eval_pairs,
        processing_class=tokenizer,
        peft_config=None if warm_start else lora,
        callbacks=[
            ProgressCallback(job, heartbeat),
            EpochCheckpointCallback(heartbeat),
        ],
    )
    resume_from = job.last_checkpoint()
    if resume_from:
        job.events.create(message=f"Resuming from {resume_from.name}.")
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    if heartbeat.cancel_asked():
        return None

    # 6. Save the adapter with the tokenizer, so the folder loads on its own.
    adapter_dir = job.adapter_path
    if adapter_dir.exists():
        shutil.rmtree(adapter_dir)
    trainer.model.save_pretrained(adapter_dir)
    tokenizer.save_pretrained(adapter_dir)
    shutil.rmtree(job.folder / "arrow", ignore_errors=True)
    return adapter_dir


def trainer_options(params: DpoParams, on_gpu, n_pairs, has_eval):
    """DPOConfig's options for `params`; bench/train_bench.py uses the same."""
    steps = math.ceil(n_pairs / params.batch_size) // params.gradient_accumulation_steps
    # About 500 logged points per run: enough for the curves, few rows to store.
    logging_steps = max(1, steps * params.epochs // 500)
    if params.checkpoint_steps:
        saving = {"save_strategy": "steps", "save_steps": params.checkpoint_steps}
    else:
        saving = {"save_strategy": "epoch"}
    evaluating = {"eval_strategy": "no"}
    if has_eval:
        evaluating = {
            "eval_strategy": "steps" if params.eval_steps else "epoch",
            "eval_steps": params.eval_steps or None,
            "per_device_eval_batch_size": params.batch_size,
        }
    return {
        "num_train_epochs": params.epochs,
        "per_device_train_batch_size": params.batch_size,
        "gradient_accumulation_steps": params.gradient_accumulation_steps,
        "learning_rate": params.learning_rate,
        "lr_scheduler_type": params.lr_scheduler,
        "warmup_steps": params.warmup_ratio,  # below 1: a share of the steps
        "weight_decay": params.weight_decay,
        "max_grad_norm": params.max_grad_norm,
        "beta": params.beta,
        "loss_type": [params.loss_type],
        "max_length": params.max_context_length,
        "seed": params.seed,
        "bf16": on_gpu,
        "use_cpu": not on_gpu,
        "logging_steps": logging_steps,
        "save_total_limit": params.checkpoints_kept,
        "precompute_ref_log_probs": params.precompute_ref_log_probs,
        "gradient_checkpointing": params.gradient_checkpointing,
        "train_sampling_strategy": "group_by_length"
        if params.length_grouped_batches
        else "random",
        "report_to": [],
        "disable_tqdm": True,
        "include_num_input_tokens_seen": True,
        "dataloader_num_workers": 0,
        **saving,
        **evaluating,
    }


def _with_length_column(trainer_class):
    """The trainer class, keeping the `length` column for length-grouped batches:
    transformers drops columns the model does not take before building the
    sampler, and would then look for `input_ids`, which DPO data does not have."""

    class LengthAwareDPOTrainer(trainer_class):
        def _set_signature_columns_if_needed(self):
            super()._set_signature_columns_if_needed()
            if "length" not in self._signature_columns:
                self._signature_columns = [*self._signature_columns, "length"]

    return LengthAwareDPOTrainer


def _record_screening(job, screening, max_length):
    record_token_stats(
        job.dataset,
        job.base_model.name,
        screening.token_stats(),
        pairs=sum(screening.token_histograms["prompt_tokens"].values()),
        job_id=job.job_id,
    )
    job.events.create(
        message=f"Checked against the context: {screening.summary(max_length)}",
        level="WARNING" if screening.truncated_lines else "INFO",
        data=screening.data(),
    )
    if screening.skipped:
        shown = screening.skipped[:20]
        lines = ", ".join(str(s["line"]) for s in shown)
        more = (
            f" and {len(screening.skipped) - len(shown)} more"
            if len(screening.skipped) > len(shown)
            else ""
        )
        job.events.create(
            level="WARNING",
            message=f"Skipped {len(screening.skipped)} pairs that would teach nothing "
            f"(lines {lines}{more}): {shown[0]['reason']}.",
            data={"skipped": screening.skipped[:100]},
        )


def _eval_pairs(job, params, tokenizer, eval_path):
    """The evaluation dataset's usable pairs, or None when there is none."""
    if not eval_path:
        return None
    pairs = load_pairs(eval_path, job.folder / "arrow-eval")
    screening = screen_pairs(pairs, tokenizer, params.max_context_length)
    if screening.skipped:
        job.events.create(
            level="WARNING",
            message=f"Evaluation set: skipped {len(screening.skipped)} pairs (lines "
            + ", ".join(str(s["line"]) for s in screening.skipped[:20])
            + ") that would teach nothing.",
        )
    if not screening.usable:
        raise TooFewPairs("No pair of the evaluation dataset is usable.")
    return pairs.select(screening.usable).remove_columns(["line"])
