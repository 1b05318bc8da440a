"""One DPO run, start to end: data, model, adapter, train, save.

Runs inside the RQ work horse. torch is imported here and nowhere the worker's
parent process reaches, so CUDA is first initialised after the fork.
"""

import logging
import math
import shutil

from jobs_app.params import DpoParams
from jobs_app.training.data import load_pairs
from jobs_app.training.progress import ProgressCallback

log = logging.getLogger(__name__)


def pick_device():
    """('cuda', 'NVIDIA H100 ...') where a GPU is visible, else ('cpu', 'CPU')."""
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.cuda.get_device_name(0)
    return "cpu", "CPU"


def train_adapter(job, base_path, dataset_path, params: DpoParams, device):
    """Train a LoRA adapter with TRL's DPOTrainer; returns the adapter's folder."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    torch.manual_seed(params.seed)
    on_gpu = device == "cuda"
    work_dir = job.folder / "trainer"

    # 1. The data: an Arrow dataset in the job's folder, in TRL's conversational
    #    prompt / chosen / rejected shape.
    pairs = load_pairs(dataset_path, job.folder / "arrow")
    log.info("job %s: %d preference pairs loaded", job.job_id, len(pairs))

    # 2. The base model and its tokenizer; the chat template renders the turns.
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    if not tokenizer.chat_template:
        raise ValueError(f"The base model in {base_path} has no chat template.")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        base_path, dtype=torch.bfloat16 if on_gpu else torch.float32
    )

    # 3. The LoRA adapter. With an adapter, TRL's reference model is the same
    #    weights with the adapter switched off: no second copy in memory.
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

    # 4. Train. Every step is logged; the callback throttles database writes.
    steps_per_epoch = math.ceil(
        len(pairs) / (params.batch_size * params.gradient_accumulation_steps)
    )
    config = DPOConfig(
        output_dir=str(work_dir),
        num_train_epochs=params.epochs,
        per_device_train_batch_size=params.batch_size,
        gradient_accumulation_steps=params.gradient_accumulation_steps,
        learning_rate=params.learning_rate,
        lr_scheduler_type=params.lr_scheduler,
        warmup_steps=params.warmup_ratio,
        weight_decay=params.weight_decay,
        max_grad_norm=params.max_grad_norm,
        beta=params.beta,
        loss_type=[params.loss_type],
        max_length=params.max_context_length,
        seed=params.seed,
        bf16=on_gpu,
        use_cpu=not on_gpu,
        gradient_checkpointing=False,
        logging_steps=max(1, steps_per_epoch * params.epochs // 500),
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        include_num_input_tokens_seen=True,
        dataloader_num_workers=0,
    )
    trainer = DPOTrainer(
        model=model,
        args=config,
        train_dataset=pairs,
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[ProgressCallback(job)],
    )
    trainer.train()

    # 5. Save the adapter with the tokenizer, so the folder loads on its own.
    adapter_dir = job.adapter_path
    if adapter_dir.exists():
        shutil.rmtree(adapter_dir)
    trainer.model.save_pretrained(adapter_dir)
    tokenizer.save_pretrained(adapter_dir)
    shutil.rmtree(work_dir, ignore_errors=True)
    shutil.rmtree(job.folder / "arrow", ignore_errors=True)
    return adapter_dir
