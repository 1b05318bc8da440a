"""A one-line progress bar on stderr; plain lines when stderr is no terminal."""

import sys
import time

WIDTH = 30


def human_bytes(count):
    for unit in ["B", "KiB", "MiB", "GiB"]:
        if count < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{count} B"
        count /= 1024
    return f"{count:.1f} GiB"


def duration(seconds):
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ProgressBar:
    def __init__(self, stream=None, quiet=False, every=5.0):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.quiet = quiet
        self.every = every  # seconds between plain lines
        self.last_plain = 0.0
        self.last_text = ""

    def show(self, fraction, text):
        if self.quiet:
            return
        fraction = max(0.0, min(1.0, fraction))
        filled = int(WIDTH * fraction)
        line = (
            f"[{'#' * filled}{'.' * (WIDTH - filled)}] {100 * fraction:5.1f}%  {text}"
        )
        if self.live:
            self.stream.write("\r" + line[:200].ljust(len(self.last_text)))
            self.last_text = line[:200]
        elif text != self.last_text and (
            time.monotonic() - self.last_plain >= self.every or fraction >= 1.0
        ):
            self.stream.write(line + "\n")
            self.last_plain = time.monotonic()
            self.last_text = text
        self.stream.flush()

    def done(self):
        if self.live and not self.quiet and self.last_text:
            self.stream.write("\n")
            self.stream.flush()


class TransferMeter:
    """Bytes, speed and ETA for an upload."""

    def __init__(self, total, start_offset=0):
        self.total = total
        self.start_offset = start_offset
        self.started = time.monotonic()

    def text(self, offset):
        elapsed = max(time.monotonic() - self.started, 1e-6)
        speed = (offset - self.start_offset) / elapsed
        left = (self.total - offset) / speed if speed > 0 else None
        return (
            f"{human_bytes(offset)} / {human_bytes(self.total)}  "
            f"{human_bytes(speed)}/s  ETA {duration(left)}"
        )
