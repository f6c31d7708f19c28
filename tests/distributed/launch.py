"""Launching the processes of a multi-process test run: loopback only, bounded, cleaned up.

Early launches: a test module that defines `launch_early()` has its runs started in a
background thread when the first test of any such module starts (tests/conftest.py orders
them last and calls it), so that every module's runs of one backend overlap each other. A
module's fixture takes the result with `early_result`. Started right after collection
instead, alongside the rest of the suite, they slowed it down by more than their own time:
on a quiet 2-core machine they added 487 s to `make test` (TensorFlow 165, JAX 193,
PyTorch 129), where alone they take about 200 s.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

WORKER = Path(__file__).with_name("train_worker.py")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "distributed_training.py"
# The example's tiny runs: one stage of width 4, 32 synthetic pairs of 16x16 images (25 for
# training: two global batches of 16).
TINY_EXAMPLE = ["--samples", 32, "--image-size", 16, "--widths", 4, "--global-batch-size", 16]
# Every run here takes well under this on a quiet 2-core machine (tiny widths); the bound
# only stops a hung collective from hanging the suite.
TIMEOUT_S = 420


# Every process `start` started, killed when the session ends (`stop_all`).
STARTED = []
# What `stop_all` also runs: the early launches' own clean-ups (killing the processes
# they started themselves, removing their folders).
CLEANUPS = []
EARLY = {}


class Early(threading.Thread):
    """`orchestrate(root)` in a background thread; `result()` waits and returns what it
    returned, or raises what it raised (an assertion about a worker, a timeout)."""

    def __init__(self, key, orchestrate, root):
        super().__init__(name=f"early launch of {key}", daemon=True)
        self.orchestrate, self.root = orchestrate, root
        self.value, self.error = None, None

    def run(self):
        try:
            self.value = self.orchestrate(self.root)
        except BaseException as error:  # re-raised in the test that asks for the result
            self.error = error

    def result(self):
        self.join()
        if self.error is not None:
            raise self.error
        return self.value


def new_root(name):
    """A fresh folder for one module's runs, removed when the session ends."""
    root = Path(tempfile.mkdtemp(prefix=f"keras_drifa_{name}_"))
    CLEANUPS.append(lambda: shutil.rmtree(root, ignore_errors=True))
    return root


def launch_early(key, orchestrate, name):
    """Starts `orchestrate(root)` in the background, once per `key` (a module's name)."""
    if key not in EARLY:
        EARLY[key] = Early(key, orchestrate, new_root(name))
        EARLY[key].start()
    return EARLY[key]


def early_result(key, orchestrate, name):
    """The result of the early launch of `key`: started now if nothing launched it (a test
    run by a path that skipped the collection hook), then waited for."""
    return launch_early(key, orchestrate, name).result()


def stop_all():
    """Kills what still runs and removes the early launches' folders (session end)."""
    kill_all(STARTED)
    for cleanup in reversed(CLEANUPS):  # the latest first: kills before folder removals
        cleanup()


def free_port():
    """A free TCP port on 127.0.0.1 (the only address these runs bind)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(**extra):
    """The parent's environment with `extra`. Of the parent's XLA flags only the
    optimisation level (tests/conftest.py) is kept: a worker's device count is its own."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    kept = [flag for flag in env.pop("XLA_FLAGS", "").split()
            if flag.startswith("--xla_backend_optimization_level")]
    env.update({k: str(v) for k, v in extra.items()})
    flags = " ".join(kept + env.get("XLA_FLAGS", "").split())
    if flags:
        env["XLA_FLAGS"] = flags
    return env


def start(args, env):
    """A worker process in its own session, so that a failure can kill all it started.

    Its output goes to a file (`output(process)` reads it): a pipe nobody reads while the
    test waits for other processes would fill up and stall the worker."""
    log = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        [sys.executable, *map(str, args)], env=env, stdout=log, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )
    process.log = log
    STARTED.append(process)
    return process


def output(process):
    process.log.seek(0)
    return process.log.read()


def kill_all(processes):
    """Kills every process (and the session it leads) that still runs."""
    for p in processes:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def wait_all(processes, timeout=TIMEOUT_S, kill=False):
    """Waits for every process, at most `timeout` seconds in all; kills them all and raises
    with their output if one fails. Returns their outputs.

    With `kill=True` the processes are expected to hang (a peer died): they are killed
    after `timeout` seconds without an error."""
    deadline = time.monotonic() + timeout
    try:
        for p in processes:
            try:
                p.wait(timeout=max(0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                if not kill:
                    raise  # the others are killed below, as the hung ones are with kill=True
    finally:
        kill_all(processes)
    outputs = [output(p) for p in processes]
    if kill:
        return outputs
    failed = [(p.returncode, out) for p, out in zip(processes, outputs) if p.returncode]
    if failed:
        raise AssertionError(
            "a worker failed:\n" + "\n---\n".join(f"exit {rc}:\n{out[-4000:]}" for rc, out in failed)
        )
    return outputs
