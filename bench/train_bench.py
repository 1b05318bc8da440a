"""Training speed: the portal's worker path against a bare TRL script.

    .venv/bin/python bench/train_bench.py [--pairs 6] [--epochs 2] [--batch-size 2]

Runs one DPO configuration on the same slice of data and the same model (the
default base model, SmolLM2-135M-Instruct) several ways, each in a fresh process:

1. bare TRL: a plain script (datasets + DPOTrainer + LoRA), TRL's defaults;
2. the portal: a job created with create_job and trained by a real
   `rqworker --burst training` (pair check, heartbeat, progress writes, epoch
   checkpoints, log file, everything a real job does);
3. the portal with each speed option users can turn on.

It prints, with each one's ratio to bare TRL:
- train loop: steps/s and tokens/s over the trainer's own train_runtime;
- load+prepare+train: seconds from loading the model to the end of training
  (TRL's tokenising and, with that option, the reference log-prob pass included;
  for the portal, its RUNNING event to its "Saving the adapter." event);
- process: the whole process, start to exit (the portal's pair check, database
  and worker start-up included), in wall seconds and in CPU seconds of all its
  processes (less sensitive than wall time to other work on a shared machine).
Each configuration runs --repeat times in turn; the fastest run of each counts.
Target: the portal at least 0.95 of bare TRL.

It starts its own redis-server on a free port in 8400-8499 and keeps its files in
data/bench/ (deleted at the start of each run).
"""

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "data" / "bench"
DATA = ROOT.parent / "shared" / "data" / "demo_train.jsonl"
MODEL_DIR = ROOT / "data" / "base_models" / "smollm2-135m-instruct"

# One configuration for every run; the portal's DpoParams names.
CONFIG = {
    "learning_rate": 5e-5,
    "beta": 0.1,
    "max_context_length": 512,
    "lora_rank": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.05,
    "warmup_ratio": 0.0,
    "seed": 42,
    "checkpoint_steps": 0,  # the portal still saves one checkpoint per epoch
}
OPTIONS = {
    "precompute_ref_log_probs": {"precompute_ref_log_probs": True},
    "length_grouped_batches": {"length_grouped_batches": True},
    "both": {"precompute_ref_log_probs": True, "length_grouped_batches": True},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--data", type=Path, default=DATA, help="a portal JSONL file")
    parser.add_argument(
        "--portal-only",
        action="store_true",
        help="one portal job only, with its device and peak memory (gpu_check.sh)",
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of each configuration"
    )
    parser.add_argument(
        "--no-options",
        action="store_true",
        help="bare TRL and the portal only, without the speed options",
    )
    parser.add_argument("--bare", type=Path, help=argparse.SUPPRESS)  # internal
    parser.add_argument("--portal", type=Path, help=argparse.SUPPRESS)  # internal
    parser.add_argument("--option", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    config = {**CONFIG, "epochs": args.epochs, "batch_size": args.batch_size}

    if args.bare:
        print(json.dumps(run_bare(args.bare, config)))
        return
    if args.portal:
        config.update(OPTIONS.get(args.option, {}))
        print(json.dumps(run_portal(args.portal, config)))
        return

    shutil.rmtree(BENCH_DIR, ignore_errors=True)
    BENCH_DIR.mkdir(parents=True)
    data = BENCH_DIR / "pairs.jsonl"
    lines = args.data.read_text(encoding="utf-8").splitlines(keepends=True)
    data.write_text("".join(lines[: args.pairs]), encoding="utf-8")
    print(
        f"{args.pairs} pairs of {args.data.name}, {MODEL_DIR.name}, "
        f"{args.epochs} epochs, batch {args.batch_size}, "
        f"max length {CONFIG['max_context_length']}, torch threads {_torch_threads()}"
    )

    runs = [("bare TRL", "--bare", "")]
    runs.append(("portal worker", "--portal", ""))
    if not args.no_options:
        runs += [(f"portal + {name}", "--portal", name) for name in OPTIONS]
    if args.portal_only:
        runs = [("portal worker", "--portal", "")]
    if args.portal_only:
        _print_device_row(_run(runs[0], data, args))
        return

    # The machine may be shared: every configuration runs `--repeat` times, in
    # turn, and the fastest run of each counts (the one least slowed by others).
    best = {}
    for round_number in range(1, args.repeat + 1):
        for run in runs:
            result = _run(run, data, args)
            label = run[0]
            print(f"  round {round_number}: ", end="")
            _print_row(label, result, best.get("bare TRL", result))
            if label not in best or result["train_s"] < best[label]["train_s"]:
                best[label] = result
    print("fastest of each:")
    for label, result in best.items():
        _print_row(label, result, best["bare TRL"])


def _run(run, data, args):
    """One configuration in a fresh process; its figures, wall and CPU seconds."""
    label, mode, option = run
    command = [sys.executable, __file__, mode, str(data), "--option", option]
    command += ["--pairs", str(args.pairs), "--epochs", str(args.epochs)]
    command += ["--batch-size", str(args.batch_size)]
    cpu_before = _children_cpu_s()
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"{label} failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.monotonic() - started
    # Every process of the run (the worker and its work horse too), once waited.
    result["cpu_s"] = _children_cpu_s() - cpu_before
    return result


def _children_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _print_device_row(result):
    print(
        f"device {result['device']}: {result['steps']} steps, "
        f"{result['steps_per_s']:.3f} steps/s, {result['tokens_per_s']:.1f} tokens/s, "
        f"peak memory {result['peak_memory_bytes'] / 2**30:.2f} GiB "
        f"(train loop {result['train_s']:.1f} s)"
    )


def _print_row(label, result, baseline):
    ratio = result["steps_per_s"] / baseline["steps_per_s"]
    phase_ratio = result["phase_steps_per_s"] / baseline["phase_steps_per_s"]
    cpu_ratio = baseline["cpu_s"] / result["cpu_s"]
    print(
        f"{label:34} {result['steps']:3d} steps | train loop "
        f"{result['steps_per_s']:6.3f} steps/s {result['tokens_per_s']:7.1f} tokens/s"
        f" ratio {ratio:5.3f} | load+prepare+train {result['phase_s']:6.1f} s"
        f" ratio {phase_ratio:5.3f} | process {result['wall_s']:6.1f} s,"
        f" CPU {result['cpu_s']:6.1f} s ratio {cpu_ratio:5.3f}"
    )


def _torch_threads():
    import torch

    return torch.get_num_threads()


def run_bare(data, config):
    """What a user would write with TRL alone: same data, model and options."""

    import torch
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    torch.manual_seed(config["seed"])
    on_gpu = torch.cuda.is_available()
    raw = load_dataset("json", data_files=str(data), split="train")

    def to_trl(example):
        return {
            "prompt": example["input"]["messages"],
            "chosen": example["preferred_output"],
            "rejected": example["non_preferred_output"],
        }

    pairs = raw.map(to_trl, remove_columns=raw.column_names)
    tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
    phase_started = time.monotonic()  # as the portal's RUNNING: model load onwards
    model = AutoModelForCausalLM.from_pretrained(
        MODEL_DIR, dtype=torch.bfloat16 if on_gpu else torch.float32
    )
    args = DPOConfig(
        output_dir=str(BENCH_DIR / "bare"),
        num_train_epochs=config["epochs"],
        per_device_train_batch_size=config["batch_size"],
        learning_rate=config["learning_rate"],
        beta=config["beta"],
        max_length=config["max_context_length"],
        seed=config["seed"],
        use_cpu=not on_gpu,
        bf16=on_gpu,
        save_strategy="no",
        report_to=[],
        include_num_input_tokens_seen=True,
    )
    lora = LoraConfig(
        r=config["lora_rank"],
        lora_alpha=config["lora_alpha"],
        lora_dropout=config["lora_dropout"],
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=pairs,
        processing_class=tokenizer,
        peft_config=lora,
    )
    output = trainer.train()
    return _figures(
        output.metrics["train_runtime"],
        time.monotonic() - phase_started,
        trainer.state.global_step,
        trainer.state.num_input_tokens_seen,
    )


def run_portal(data, config):
    """A real job through create_job and a real `rqworker --burst training`."""
    port = _free_port()
    env = {
        "DJANGO_SETTINGS_MODULE": "dpo_portal.settings",
        "DPO_DATA_DIR": str(BENCH_DIR / "portal"),
        "DPO_BASE_MODELS_DIR": str(MODEL_DIR.parent),
        "DATABASE_URL": f"sqlite:///{BENCH_DIR / 'portal.sqlite3'}",
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "DPO_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from dpo_portal.accounts import personal_account
    from dpo_portal.local_redis import start_local_redis
    from jobs_app.base_models import register_base_model
    from jobs_app.models import DpoJob
    from jobs_app.params import DpoParams
    from jobs_app.services import create_job

    redis_server = start_local_redis(env["REDIS_URL"], BENCH_DIR / "portal")
    try:
        Path(BENCH_DIR / "portal.sqlite3").unlink(missing_ok=True)
        call_command("migrate", verbosity=0)
        user = get_user_model().objects.create_user("bench", password="bench-pass")
        account = personal_account(user)
        dataset = _ready_dataset(account, data)
        base = register_base_model(MODEL_DIR, "smollm2-135m-instruct")
        job = create_job(account, dataset, base, "bench-tuned", DpoParams(**config))

        worker = [sys.executable, "manage.py", "rqworker", "--burst", "training"]
        subprocess.run(
            worker, cwd=ROOT, env={**os.environ, **env}, check=True, timeout=3600
        )
        job = DpoJob.objects.get(pk=job.pk)
        if job.state != "JOB_STATE_COMPLETED":
            raise RuntimeError(f"the bench job ended {job.state}: {job.failure_reason}")
        metrics = job.latest_metrics
        running = job.events.get(message__startswith="Training on").created_at
        saving = job.events.get(message="Saving the adapter.").created_at
        figures = _figures(
            metrics["train_runtime"],
            (saving - running).total_seconds(),
            job.step,
            metrics["num_input_tokens_seen"],
        )
        figures.update(device=job.device, peak_memory_bytes=job.peak_memory_bytes)
        return figures
    finally:
        if redis_server:
            redis_server.terminate()
            redis_server.wait(timeout=10)


def _ready_dataset(account, data):
    from datasets_app.models import Dataset
    from datasets_app.services import create_dataset

    dataset = create_dataset(account, "bench-pairs")
    dataset.folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data, dataset.file_path)
    Dataset.objects.filter(pk=dataset.pk).update(state=Dataset.STATE_READY)
    dataset.refresh_from_db()
    return dataset


def _figures(train_s, phase_s, steps, tokens):
    return {
        "train_s": train_s,
        "phase_s": phase_s,
        "steps": steps,
        "steps_per_s": steps / train_s,
        "tokens_per_s": tokens / train_s,
        "phase_steps_per_s": steps / phase_s,
    }


def _free_port():
    for port in range(8400, 8500):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8400-8499")


if __name__ == "__main__":
    main()
