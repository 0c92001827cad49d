"""Measures how long a notebook is frozen: asks Jupyter's /api on 127.0.0.1:PORT every 50 ms
until SIGTERM, then writes the longest time between two answers, in ms, to OUT. A paused
container answers nothing until it is resumed, so the longest gap is the freeze."""
import signal
import sys
import time
import urllib.request

port, out = int(sys.argv[1]), sys.argv[2]
stop = False


def finish(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, finish)
last = time.monotonic()
longest = 0.0
while not stop:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=120).read()
    except Exception:
        pass
    now = time.monotonic()
    longest = max(longest, now - last)
    last = now
    time.sleep(0.05)
with open(out, "w") as f:
    f.write(f"{longest * 1000:.0f}\n")
