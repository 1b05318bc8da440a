"""How fast the dataset validator reads a large file, beside a baseline and a peer.

Usage (from the project root; the first run also makes bench/.peer-venv):

    .venv/bin/python bench/validate_bench.py [--mb 500]

It builds a realistic file of about --mb MB in a temporary folder (the shared orca
DPO sample repeated, interleaved with generated multi-turn and non-English
examples), then validates it, each in its own process, with:

- the product's validator (datasets_app.validation.validate_file, line index on),
  pinned to one core, and again with a process per core; then both again as the
  worker runs it, with the file's SHA-256 already known from the upload;
- a plain baseline: json.loads per line and straightforward dict checks;
- the peer: `together.lib.utils.files.check_file` from the `together` package,
  installed into bench/.peer-venv (never into the project's .venv).

It prints MB/s of wall time (the check alone, not the interpreter's start), MB
per CPU-second (all of the process's threads; steadier on a shared machine)
and peak RSS (the process's maximum resident set, from wait4) for each.
Targets: the product at least 3x the peer and 300 MB/s on one core, with peak
RSS under 150 MB.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
ORCA = PROJECT.parent / "shared" / "data" / "orca_dpo_pairs_validation.jsonl"
PEER_VENV = Path(__file__).resolve().parent / ".peer-venv"
PEER_PACKAGE = "together==3.1.1"

WORDS = (
    "the model answers each question with care and explains every step of its "
    "reasoning before it gives a short final answer to the user who asked"
).split()
UNICODE_WORDS = (
    "日本語 の 文章 です 中文 句子 한국어 문장 Ελληνικά κείμενο русский текст "
    "français élève naïve café 🙂 🚀 ✓ العربية نص हिन्दी पाठ"
).split()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=500, help="size of the test file")
    parser.add_argument(
        "--examples",
        type=int,
        help="instead, this many short distinct examples (3000000 is the format's "
        "maximum: the worst case for memory)",
    )
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--one-core", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.run:
        run_one(options.run, options.path, options.one_core)
        return

    with tempfile.TemporaryDirectory(prefix="validate-bench-") as folder:
        path = Path(folder) / "bench.jsonl"
        if options.examples:
            examples = build_short_examples(path, options.examples)
        else:
            examples = build_file(path, options.mb * 1_000_000)
        size = path.stat().st_size
        print(f"file: {size / 1e6:.0f} MB, {examples:,} examples ({path.name})")

        peer_python = ensure_peer_venv()
        runs = [
            ("product, one core", sys.executable, ["--run", "product", "--one-core"]),
            ("product, all cores", sys.executable, ["--run", "product"]),
            ("worker, one core", sys.executable, ["--run", "worker", "--one-core"]),
            ("worker, all cores", sys.executable, ["--run", "worker"]),
            (
                "baseline json.loads",
                sys.executable,
                ["--run", "baseline", "--one-core"],
            ),
            ("together check_file", peer_python, ["--run", "peer", "--one-core"]),
        ]
        results = {}
        for name, python, arguments in runs:
            results[name] = measure(python, [*arguments, "--path", str(path)], size)
            print_row(name, results[name])

    # Per CPU-second: the figures that other work on a shared machine moves least.
    peer = results["together check_file"]["mb_per_cpu_s"]
    peer_wall = results["together check_file"]["mb_per_s"]
    fastest = results["worker, all cores"]["mb_per_s"]
    print(f"worker, all cores: {fastest / peer_wall:.1f}x the peer in wall time")
    baseline = results["baseline json.loads"]["mb_per_cpu_s"]
    for name in ("product, one core", "worker, one core"):
        speed = results[name]["mb_per_cpu_s"]
        print(
            f"{name}: {speed:.0f} MB per CPU-second, {speed / peer:.1f}x the peer, "
            f"{speed / baseline:.1f}x the baseline"
        )
    print("targets: 3x the peer, 300 MB/s on one core, peak RSS < 150 MB")


def build_file(path, size):
    """Write about `size` bytes of valid examples; return how many."""
    orca = [json.loads(line) for line in ORCA.read_bytes().splitlines() if line]
    questions = [row["input"]["messages"][-1]["content"] for row in orca]
    generator = random.Random(7)
    written = count = copy = 0
    with open(path, "wb") as out:
        while written < size:
            copy += 1
            for position, row in enumerate(orca):
                # Each copy of the sample is made distinct, as a real file's
                # examples are: duplicates would be warned about, one by one.
                question = f"{questions[position]} ({copy})"
                row["input"]["messages"][-1]["content"] = question
                line = json.dumps(row).encode()
                out.write(line + b"\n")
                written += len(line) + 1
                count += 1
                # One generated example for every four orca ones: multi-turn chats
                # and non-English text, the kinds real files mix in.
                if position % 4 == 0:
                    extra = _generated(generator, unicode=position % 8 == 0)
                    out.write(extra)
                    written += len(extra)
                    count += 1
                if written >= size:
                    break
    return count


def build_short_examples(path, count):
    with open(path, "w") as out:
        for n in range(count):
            example = {
                "input": {"messages": [{"role": "user", "content": f"What is {n}?"}]},
                "preferred_output": [{"role": "assistant", "content": f"It is {n}."}],
                "non_preferred_output": [{"role": "assistant", "content": "No idea."}],
            }
            out.write(json.dumps(example) + "\n")
    return count


def _generated(generator, unicode):
    words = UNICODE_WORDS if unicode else WORDS

    def text(low, high):
        return " ".join(generator.choices(words, k=generator.randint(low, high)))

    messages = []
    if generator.random() < 0.3:
        messages.append({"role": "system", "content": text(5, 20)})
    for _ in range(generator.randint(0, 3)):
        messages.append({"role": "user", "content": text(5, 40)})
        messages.append({"role": "assistant", "content": text(10, 60)})
    messages.append({"role": "user", "content": text(5, 40)})
    example = {
        "input": {"messages": messages},
        "preferred_output": [{"role": "assistant", "content": text(20, 120)}],
        "non_preferred_output": [{"role": "assistant", "content": text(5, 60)}],
    }
    return (json.dumps(example, ensure_ascii=generator.random() < 0.5) + "\n").encode()


def ensure_peer_venv():
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print(f"making {PEER_VENV} with {PEER_PACKAGE} (once)")
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", PEER_PACKAGE], check=True
        )
    return str(python)


def measure(python, arguments, size):
    """Run one check in a child process; its timing, verdict and peak RSS."""
    child = subprocess.Popen(
        [python, __file__, *arguments], stdout=subprocess.PIPE, text=True
    )
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{arguments} failed with exit status {child.returncode}")

    result = json.loads(output.strip().splitlines()[-1])
    result["mb_per_s"] = size / 1e6 / result["seconds"]
    result["mb_per_cpu_s"] = size / 1e6 / result["cpu"]
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux
    return result


def print_row(name, result):
    print(
        f"{name:22} {result['mb_per_s']:5.0f} MB/s ({result['mb_per_cpu_s']:4.0f} "
        f"per CPU-second)   peak RSS {result['peak_rss_mb']:4.0f} MB   "
        f"{result['seconds']:6.2f} s   {result['verdict']}"
    )


# The child processes.


def run_one(kind, path, one_core):
    if one_core:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    checks = {
        "product": _product,
        "worker": _as_the_worker,
        "baseline": _baseline,
        "peer": _peer,
    }
    check = checks[kind]
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    verdict = check(path)
    seconds = time.perf_counter() - started
    cpu_seconds = _cpu_seconds() - cpu_started
    print(json.dumps({"seconds": seconds, "cpu": cpu_seconds, "verdict": verdict}))


def _cpu_seconds():
    """CPU time of this process, its threads and its finished child processes."""
    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def _product(path):
    sys.path.insert(0, str(PROJECT))
    from datasets_app.validation import LineIndex, validate_file

    workers = len(os.sched_getaffinity(0))
    report = validate_file(path, line_index=LineIndex(), workers=workers)
    return f"valid={report.valid}, {report.example_count:,} examples"


def _as_the_worker(path):
    """As the validation task runs it: the upload already hashed the file."""
    sys.path.insert(0, str(PROJECT))
    from datasets_app.validation import LineIndex, validate_file

    workers = len(os.sched_getaffinity(0))
    report = validate_file(
        path, line_index=LineIndex(), sha256="0" * 64, workers=workers
    )
    return f"valid={report.valid}, {report.example_count:,} examples"


def _peer(path):
    from together.lib.utils.files import check_file

    report = check_file(path)
    return f"passed={report['is_check_passed']}, {report.get('num_samples')} samples"


def _baseline(path):
    """The straightforward validator: json.loads and dict checks, line by line."""
    count = errors = 0
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            count += 1
            if not _baseline_valid(json.loads(line)):
                errors += 1
    return f"valid={errors == 0}, {count:,} examples"


def _baseline_valid(example):
    if not isinstance(example, dict) or not isinstance(example.get("input"), dict):
        return False
    messages = example["input"].get("messages")
    if not isinstance(messages, list) or not messages:
        return False
    roles = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            return False
        if message.get("role") not in ("system", "user", "assistant"):
            return False
        roles.append(message["role"])
    if roles[0] == "system":
        roles = roles[1:]
    expected = ["user" if n % 2 == 0 else "assistant" for n in range(len(roles))]
    if not roles or roles != expected or roles[-1] != "user":
        return False
    for name in ("preferred_output", "non_preferred_output"):
        output = example.get(name)
        if not isinstance(output, list) or len(output) != 1:
            return False
        message = output[0]
        if not isinstance(message, dict) or message.get("role") != "assistant":
            return False
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            return False
    return True


if __name__ == "__main__":
    main()
