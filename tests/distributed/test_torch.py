"""PyTorch's engine: `torchrun` ranks on the CPU (gloo), DistributedDataParallel inside `fit`.

Every run is a subprocess of tests/distributed/torch_worker.py, started with `torchrun`
(`python -m torch.distributed.run`) or alone as the one-process reference. The launches
are shared by the tests and start together, in the background with the first test
(`launch_early`, tests/distributed/launch.py): most of a launch is importing Keras and
building the model, which leaves the CPUs idle enough for the launches to overlap. Every address is 127.0.0.1 and gloo uses the loopback interface
only; torch's TCPStore servers (one per launch) listen on their port on every interface,
which torchrun has no option to restrict.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import launch

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="torchrun runs are PyTorch's engine; JAX and TensorFlow have their own tests in "
    "this folder",
)

WORKER = os.path.join(os.path.dirname(__file__), "torch_worker.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 400  # seconds for all launches together; 77 measured on two busy cores
# Two ranks and one process sum the same float32 numbers in different orders: gloo's
# all-reduce adds the ranks' gradients and batch-norm sums, one process adds the rows of
# the whole batch at once. The rounding differences (~1e-7 relative) grow with the steps
# of momentum SGD: the largest weight difference measured on the two-stage tiny model is
# 1.2e-7 and 2.4e-7 after epochs 1 and 3 (2 steps each), 1.8e-7 for the ensemble; the
# four-stage model these tests used before reached 6.3e-6, 2.6e-5 and 1.0e-4. Without
# synchronised batch norm the trainable weights end 0.056 apart.
TOLERANCE = 1e-3


def torchrun(*options):
    return [sys.executable, "-m", "torch.distributed.run", "--master_addr=127.0.0.1",
            "--local-addr=127.0.0.1", *options,
            "--monitor-interval=0.2", WORKER]


def descendants(pid):
    """The ids of every process below `pid` (Linux's /proc; none elsewhere)."""
    children = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:  # gone meanwhile
            continue
        children.setdefault(parent, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


class Launch:
    """Processes started together, each in its own session, killed on failure or timeout
    with the ranks they started (torchrun starts each rank in a session of its own)."""

    def __init__(self, out, commands, env=None):
        self.out, self.commands, self.env = str(out), commands, env or {}
        self.processes, self.done = [], False
        launch.CLEANUPS.append(self.kill)  # at the session's end, if it still runs
        self.start()

    def start(self):
        os.makedirs(self.out)
        env = launch.environment(
            KERAS_BACKEND="torch", OMP_NUM_THREADS=1, GLOO_SOCKET_IFNAME="lo",
            PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]), **self.env)
        self.started = time.monotonic()
        self.logs = [os.path.join(self.out, f"log{i}.txt") for i in range(len(self.commands))]
        for command, log in zip(self.commands, self.logs):
            with open(log, "w") as f:
                self.processes.append(subprocess.Popen(
                    [*command, "--out", self.out], stdout=f, stderr=subprocess.STDOUT,
                    env=env, start_new_session=True))

    def wait(self, deadline):
        if self.done:
            return self.out
        try:
            for p in self.processes:
                rc = p.wait(timeout=max(1, deadline - time.monotonic()))
                assert rc == 0, f"exit status {rc}\n{self.log_tail()}"
        except (subprocess.TimeoutExpired, AssertionError):
            self.kill()
            raise
        self.done = True
        self.seconds = time.monotonic() - self.started
        return self.out

    def kill(self):
        for p in self.processes:
            if p.poll() is None:
                ranks = descendants(p.pid)  # before their agent dies and they are orphans
                os.killpg(p.pid, signal.SIGKILL)
                for pid in ranks:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                p.wait()

    def log_tail(self):
        return "\n".join(open(log).read()[-3000:] for log in self.logs)


def _orchestrate(root):
    """Starts every launch, waits for them all and returns `{name: folder}`, or, for a
    launch that failed or timed out, `{name: the error}` (raised by the tests that use it)."""
    nodes = launch.free_port()
    started = {
        "one": Launch(root / "one", [
            [sys.executable, WORKER, "--single", "--runs", "sync,local,ensemble"]]),
        "two": Launch(root / "two", [
            torchrun("--nproc_per_node=2", f"--master_port={launch.free_port()}")
            + ["--runs", "sync,local,ensemble"]]),
        # Two machines of one rank each: two torchrun agents meeting at node 0's port.
        "nodes": Launch(root / "nodes", [
            torchrun("--nnodes=2", f"--node_rank={k}", "--nproc_per_node=1",
                     f"--master_port={nodes}") + ["--runs", "sync"] for k in (0, 1)]),
        # Rank 1 dies during epoch 3 on the first attempt; torchrun restarts both ranks.
        # The restarted ranks must not share the first attempt's store, from which gloo
        # would read the dead ranks' addresses (pytorch/pytorch#135712; the static
        # rendezvous fails the same way on torch 2.13): the c10d rendezvous, unshared.
        "fault": Launch(root / "fault", [
            torchrun("--nproc_per_node=2", "--max-restarts=1", "--rdzv-backend=c10d",
                     f"--rdzv-endpoint=127.0.0.1:{launch.free_port()}", "--rdzv-id=fault")
            + ["--runs", "sync", "--backup", str(root / "fault" / "backup"),
               "--kill-at-epoch", "2"]], env={"TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}),
    }
    deadline = time.monotonic() + TIMEOUT
    results = {}
    try:
        for name, run in started.items():
            try:
                results[name] = run.wait(deadline)
            except (subprocess.TimeoutExpired, AssertionError) as error:
                results[name] = error
    finally:
        for run in started.values():
            run.kill()
    print("launch seconds:", {k: round(v.seconds) for k, v in started.items() if v.done})
    return results


def launch_early():
    """Starts the launches in the background (tests/conftest.py calls this before
    the first distributed test)."""
    if keras.backend.backend() == "torch":
        launch.launch_early(__name__, _orchestrate, "torchrun")


@pytest.fixture(scope="module")
def launches():
    results = launch.early_result(__name__, _orchestrate, "torchrun")

    def folder(name):
        if isinstance(results[name], Exception):
            raise results[name]
        return results[name]

    return folder


def weights(out, name):
    with np.load(os.path.join(out, name)) as f:
        return {k: f[k] for k in f.files}


def history(out, name):
    with open(os.path.join(out, name)) as f:
        return json.load(f)


def max_difference(a, b):
    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(a[k].astype("float64") - b[k]))) for k in a)


def is_statistic(key):
    return "moving_mean" in key or "moving_variance" in key


@pytest.mark.parametrize("run", ["sync", "ensemble"])
def test_synchronised_ranks_train_as_one_process(launches, run):
    one, two = launches("one"), launches("two")
    rank0, rank1 = weights(two, f"{run}-rank0.npz"), weights(two, f"{run}-rank1.npz")
    assert max_difference(rank0, rank1) == 0  # DDP: the same update on every rank
    # Every weight, batch-norm statistics and the optimizer's momenta included.
    assert max_difference(rank0, weights(one, f"{run}-rank0.npz")) < TOLERANCE


def test_without_synchronisation_ranks_keep_their_own_statistics(launches):
    one, two = launches("one"), launches("two")
    rank0, rank1 = weights(two, "local-rank0.npz"), weights(two, "local-rank1.npz")
    single = weights(one, "local-rank0.npz")
    trainable = [k for k in rank0 if not is_statistic(k)]
    statistics = [k for k in rank0 if is_statistic(k)]
    assert statistics and trainable
    for k in trainable:  # gradients averaged by DDP: identical on every rank
        np.testing.assert_array_equal(rank0[k], rank1[k], err_msg=k)
    # Batch-norm statistics are each rank's own, and not those of the global batch; the
    # model trains differently from one process (measured: trainable weights 0.056 apart
    # after one epoch of two steps, against 6e-6 with synchronised statistics).
    def difference(a, b, keys):
        return max(float(np.max(np.abs(a[k] - b[k]))) for k in keys)

    assert difference(rank0, rank1, statistics) > TOLERANCE
    assert difference(rank0, single, statistics) > TOLERANCE
    assert difference(rank0, single, trainable) > 10 * TOLERANCE


def test_two_machines_train_as_one_process(launches):
    one, nodes, two = launches("one"), launches("nodes"), launches("two")
    trained = weights(nodes, "sync-rank0.npz")
    assert max_difference(trained, weights(nodes, "sync-rank1.npz")) == 0
    assert max_difference(trained, weights(one, "sync-rank0.npz")) < TOLERANCE
    # The same two-rank arithmetic as two ranks on one machine.
    assert max_difference(trained, weights(two, "sync-rank0.npz")) == 0


@pytest.mark.parametrize("run", ["sync", "local", "ensemble"])
def test_logs_are_reduced_over_the_ranks(launches, run):
    two = launches("two")
    ranks = [history(two, f"{run}-rank{k}.json") for k in (0, 1)]
    assert ranks[0]["history"] == ranks[1]["history"]
    for name, values in ranks[0]["history"].items():
        means = [np.mean([r["local"][e][name] for r in ranks]) for e in range(len(values))]
        np.testing.assert_allclose(values, means, rtol=1e-6, err_msg=name)
    assert ranks[0]["local"] != ranks[1]["local"]  # the ranks' own losses differ
    if run != "local":  # the global batch's loss, as one process computes it
        single = history(launches("one"), f"{run}-rank0.json")["history"]
        np.testing.assert_allclose(ranks[0]["history"]["loss"], single["loss"], rtol=1e-4)


@pytest.mark.parametrize("run", ["sync", "ensemble"])
def test_inference_on_each_shard_matches_one_process(launches, run):
    # Grad-CAM (run sync) and predict_uncertainty with MC dropout (run ensemble) on each
    # rank's own rows after DDP training: inference does not go through DDP, so a rank
    # gives, bit for bit, what the other rank (the same weights) gives for those rows.
    two = launches("two")
    for shard in (0, 1):
        ranked = weights(two, f"{run}-explain{shard}-by-rank{shard}.npz")
        other = weights(two, f"{run}-explain{shard}-by-rank{1 - shard}.npz")
        assert max_difference(ranked, other) == 0
        if run == "ensemble":
            # And close to those of the model one process trained; not so for Grad-CAM,
            # gradients whose maps are normalised by their maximum: weight differences of
            # 1e-4 move a weak map by up to 0.07.
            single = weights(launches("one"), f"{run}-explain{shard}-by-rank0.npz")
            assert max_difference(ranked, single) < TOLERANCE


def test_killed_rank_resumes_from_the_backup(launches):
    fault, two = launches("fault"), launches("two")
    for k in (0, 1):
        resumed = history(fault, f"sync-rank{k}.json")
        # The second attempt (restart 1) ran epoch 3 only (0-based 2): it resumed.
        assert (resumed["attempt"], resumed["epochs"]) == (1, [2])
        # The backup loaded (it is complete) and holds the state after epoch 2, optimizer
        # iterations and momenta included, bit for bit.
        restored = weights(fault, f"sync-rank{k}-restored.npz")
        assert max_difference(restored, weights(two, "sync-rank0-epoch2.npz")) == 0
    # The same arithmetic as the run that was not interrupted.
    assert max_difference(weights(fault, "sync-rank0.npz"), weights(two, "sync-rank0.npz")) == 0
    assert not os.path.exists(os.path.join(fault, "backup", "sync"))  # deleted at the end
