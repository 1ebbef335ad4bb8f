"""A stand-in training script for the tests of command trials (no torch: it starts in a few tens of ms).

It reports ``val_loss`` (lowest at lr 0.01) every epoch, one JSON line each, among other lines, and appends
``<pid> <start time>`` to ``$LRSWEEP_TRIAL_DIR/pids``. ``--modes`` (JSON: lr -> mode) makes one LR misbehave:
exit (code 3 at epoch 2, a traceback on stderr), silent (reports nothing), nan, runaway (100x at epoch 2),
hang (at epoch 2), gap (skips epoch 2), short (stops after epoch 1, exit 0), file (reports through
$LRSWEEP_METRICS_FILE), child (starts a grandchild that sleeps), ignore-term (ignores SIGTERM).
"""

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--modes", default="{}")
args = parser.parse_args()
mode = json.loads(args.modes).get(repr(args.lr), "ok")
trial_dir = Path(os.environ["LRSWEEP_TRIAL_DIR"])
with open(trial_dir / "pids", "a") as pids:
    pids.write(f"{os.getpid()} {time.time()}\n")
if mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if mode == "child":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(trial_dir / "pids", "a") as pids:
        pids.write(f"{child.pid} {time.time()}\n")
print(f"training lr={args.lr} seed={args.seed} on {os.environ.get('LRSWEEP_DEVICE')}")
print("{not json")
for epoch in range(1, args.epochs + 1):
    time.sleep(args.sleep)
    loss = (math.log10(args.lr) + 2) ** 2 + 1.0 / epoch + 0.01 * args.seed
    if epoch == 2:
        if mode == "exit":
            print("Traceback (most recent call last):\nValueError: a bad batch", file=sys.stderr)
            sys.exit(3)
        if mode == "hang":
            time.sleep(600)
        if mode == "short":
            break
        if mode == "gap":
            continue
        loss = {"nan": float("nan"), "runaway": loss * 100}.get(mode, loss)
    if mode == "silent":
        continue
    line = json.dumps({"epoch": epoch, "val_loss": loss, "train_loss": 0.9 * loss, "phase": "train"})
    if mode == "file":
        with open(os.environ["LRSWEEP_METRICS_FILE"], "a") as reports:
            reports.write(line + "\n")
    else:
        print(line)
print("done", file=sys.stderr)
