"""Launching the processes of a multi-process test run: loopback only, bounded, cleaned up."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

WORKER = Path(__file__).with_name("train_worker.py")
# Every run here takes well under this on a quiet 2-core machine (tiny widths); the bound
# only stops a hung collective from hanging the suite.
TIMEOUT_S = 420


def free_port():
    """A free TCP port on 127.0.0.1 (the only address these runs bind)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    env.pop("XLA_FLAGS", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start(args, env):
    """A worker process in its own session, so that a failure can kill all it started."""
    return subprocess.Popen(
        [sys.executable, *map(str, args)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )


def wait_all(processes, timeout=TIMEOUT_S, kill=False):
    """Waits for every process; kills them all and raises with their output if one fails.

    With `kill=True` the processes are expected to hang (a peer died): they are killed
    after `timeout` seconds without an error."""
    outputs = []
    try:
        for p in processes:
            try:
                outputs.append(p.communicate(timeout=timeout)[0])
            except subprocess.TimeoutExpired:
                if not kill:
                    raise
                os.killpg(p.pid, signal.SIGKILL)
                outputs.append(p.communicate()[0])
    finally:
        for p in processes:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    if kill:
        return outputs
    failed = [(p.returncode, out) for p, out in zip(processes, outputs) if p.returncode]
    if failed or len(outputs) < len(processes):
        raise AssertionError(
            "a worker failed:\n" + "\n---\n".join(f"exit {rc}:\n{out[-4000:]}" for rc, out in failed)
        )
    return outputs
