"""How much memory the API's multipart upload (`POST .../datasets/{id}:upload`) costs
the web process: the body must stream to disk, never sit in memory.

    .venv/bin/python bench/api_upload_memory.py [--mib 256] [--port 8550]

Starts its own gunicorn (one worker) on a throwaway database and data folder, sends a
file of --mib MiB with curl (which streams it), and prints the worker's peak resident
memory before and after beside the baseline: a server that buffered the body would
grow by at least the file's size.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def worker_pid(master):
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256, help="File size in MiB.")
    parser.add_argument("--port", type=int, default=8550, help="Loopback port.")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dpo-bench-"))
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="dpo_portal.settings",
        DPO_DATA_DIR=str(work),
        DPO_BASE_MODELS_DIR=str(ROOT / "data" / "base_models"),
        DATABASE_URL=f"sqlite:///{work / 'bench.sqlite3'}",
        DPO_API_UPLOAD_MAX_BYTES=str(4 << 30),
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    make_key = (
        "from django.contrib.auth.models import User;"
        "from dpo_portal.accounts import personal_account;"
        "from dpo_portal.api_keys import create_key;"
        "u = User.objects.create_user('bench', password='x');"
        "personal_account(u); print(create_key(u, 'bench')[1])"
    )
    key = subprocess.run(
        [*manage, "shell", "-c", make_key],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]

    # Lines of a valid example, repeated to the size asked for.
    line = (
        json.dumps(
            {
                "input": {"messages": [{"role": "user", "content": "Q " * 200}]},
                "preferred_output": [{"role": "assistant", "content": "A " * 200}],
                "non_preferred_output": [{"role": "assistant", "content": "B " * 200}],
            }
        ).encode()
        + b"\n"
    )
    data = work / "big.jsonl"
    with open(data, "wb") as out:
        for _ in range((args.mib << 20) // len(line) + 1):
            out.write(line)
    size = data.stat().st_size

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "dpo_portal.wsgi:application",
            f"--bind=127.0.0.1:{args.port}",
            "--workers=1",
            "--timeout=600",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{args.port}/v1/accounts/bench"
    headers = {"Authorization": f"Bearer {key}"}
    try:
        for _ in range(300):
            try:
                requests.get(f"{base}/datasets", headers=headers, timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        requests.post(
            f"{base}/datasets", json={"datasetId": "big"}, headers=headers, timeout=30
        ).raise_for_status()
        pid = worker_pid(server.pid)
        before = peak_rss_mib(pid)
        started = time.monotonic()
        subprocess.run(
            [
                "curl",
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}\n",
                "-H",
                f"Authorization: Bearer {key}",
                "-F",
                f"file=@{data}",
                f"{base}/datasets/big:upload",
            ],
            check=True,
        )
        seconds = time.monotonic() - started
        after = peak_rss_mib(pid)
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(
        f"file: {size / 2**20:.0f} MiB, upload {seconds:.1f} s "
        f"({size / 2**20 / seconds:.0f} MiB/s)"
    )
    print(
        f"web worker peak RSS: {before:.0f} MiB before, {after:.0f} MiB after "
        f"(+{after - before:.0f} MiB)"
    )
    print(f"baseline (a server buffering the body): +{size / 2**20:.0f} MiB or more")
    subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
