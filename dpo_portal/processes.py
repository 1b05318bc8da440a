"""Stopping the child processes that `make run` and `make demo` start."""

import subprocess


def stop_process(process, wait_seconds=10):
    """Terminate, then terminate again, then kill.

    An RQ worker takes the first SIGTERM as "finish the current job, then stop" and a
    second one as "stop now"; killing the worker outright would leave its work horse
    running on its own.
    """
    for _ in range(2):
        if process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=wait_seconds)
            return
        except subprocess.TimeoutExpired:
            continue
    process.kill()
    process.wait()
