"""DRIFA-Net speed on the current Keras backend, optionally side by side with a git ref.

For the paper configuration (two modalities, heads of 5 and 7 classes, widths 64-512, two
RRA blocks per stage) at `--size` inputs and `--batch-size`, each measure runs in a fresh
process (nothing compiled is shared) and prints:

- `train`: time to build the model, time to the first `train_on_batch` (tracing and
  compilation included), steady training throughput in image pairs/s.
- `predict`: time to the first `predict_on_batch`, steady deterministic predict pairs/s.
- `mc`: one member, `--mc-samples` Monte Carlo samples per example: a loop of `predict`
  calls under `keras_drifa.mc_sampling` (the authors' way) against
  `MCDropoutEnsemble([model]).predict_uncertainty`, both warmed up, in samples/s
  (samples x examples per second), and their ratio.
- `ensemble`: time to the first `train_on_batch` of an `MCDropoutEnsemble` of
  `--members` members (default 1, 3 and 5), each in a fresh process, and each against
  the first; then its steady training rate in member pairs/s (M times the pairs/s: a
  pair trains every member), each against the first. `--member-loop on` (or `off`)
  switches the ensemble's member loop on (off) whatever the backend's default.
- `cache` (JAX): the time to the first training step of a second process that finds the
  first one's compiled code in JAX's persistent compilation cache (a fresh folder).
- `optimizer`: one Adam update of all the model's weights (compiled as each backend's
  train step compiles it), `keras.optimizers.Adam` against `keras_drifa.optimizers.FusedAdam`
  in the same process, median of `--repeats` (at least 5), and their ratio.
- `peak`: this machine's float32 matrix-product rate (`--gemm-size` square SGEMM, in NumPy
  and in the backend itself), the model's forward FLOPs per pair (XLA's cost analysis of
  the forward pass, in a JAX process whatever the backend), and, with `train` in the same
  run, the steady training rate in GFLOP/s (3x the forward FLOPs per pair, the usual count
  for a forward and a backward pass) as a share of each SGEMM rate.

`--optimizer` picks the optimizer of `train` and `ensemble`: `adam`
(`keras.optimizers.Adam`, the default) or `fused` (`keras_drifa.optimizers.FusedAdam`);
given both (`--optimizer fused adam`), every measure runs with each, side by side.

With `--baseline REF` every measure also runs on the package as it is at that git ref
(checked out into a temporary worktree), one process after the other on the same
machine. With two columns (a baseline, or two optimizers) the last column is the ratio
of the first to the second (current / baseline; for times, lower is better). The load
average is printed before and after: timings need a quiet machine.

    KERAS_BACKEND=tensorflow python benchmarks/train_step.py --baseline HEAD~5
    KERAS_BACKEND=jax python benchmarks/train_step.py --measure train cache
    KERAS_BACKEND=torch python benchmarks/train_step.py --size 128 --measure train predict mc
    KERAS_BACKEND=torch python benchmarks/train_step.py --measure optimizer train \
        --optimizer fused adam
    KERAS_BACKEND=jax python benchmarks/train_step.py --measure ensemble --size 32 \
        --widths 8 16 16 32
    # The demo's reduced model (three stages of one block): --widths and --blocks
    KERAS_BACKEND=jax python benchmarks/train_step.py --measure train --size 64 \
        --widths 16 32 64 --blocks 1 1 1

Runs unchanged on a GPU: Keras places the model and data on the default device.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEASURES = ("train", "predict", "mc", "ensemble", "cache", "optimizer", "peak")
OPTIMIZERS = ("adam", "fused")
# The measures that train, and so depend on `--optimizer`.
OPTIMIZER_MEASURES = ("train", "ensemble", "cache")
RESULT = "RESULT "


# --- measurements, each run in its own child process ------------------------------------


def _setup():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    import keras_drifa

    return keras, np, keras_drifa


def _data(np, keras, size, batch_size, seed=0):
    rng = np.random.default_rng(seed)
    xs = [rng.random((batch_size, size, size, 3), dtype=np.float32) for _ in range(2)]
    ys = [keras.utils.to_categorical(rng.integers(0, n, batch_size), n) for n in (5, 7)]
    return xs, ys


def _paper_model(keras_drifa, args):
    sizes = {} if args.widths is None else {"widths": tuple(args.widths)}
    if args.blocks is not None:
        sizes["blocks_per_stage"] = tuple(args.blocks)
    return keras_drifa.build_model(
        input_shape=(args.size, args.size, 3), num_classes=(5, 7), **sizes
    )


def _optimizer(keras, name):
    if name == "fused":
        from keras_drifa.optimizers import FusedAdam

        return FusedAdam(1e-3)
    return keras.optimizers.Adam(1e-3)


def _compile(keras, model, optimizer):
    model.compile(
        optimizer=_optimizer(keras, optimizer),
        loss=["categorical_crossentropy"] * 2,
        loss_weights=[0.5, 0.5],
    )
    return model


def _sync(keras, value):
    """Waits for asynchronous backends (JAX) by fetching a result."""
    keras.tree.map_structure(keras.ops.convert_to_numpy, value)


def time_training(keras, model, xs, ys, steps):
    """`(first_s, steady_s)`: the first `train_on_batch` (tracing and compilation
    included), then the mean of `steps` steps after one more warm-up step."""
    start = time.perf_counter()
    _sync(keras, model.train_on_batch(xs, ys))
    first_s = time.perf_counter() - start
    _sync(keras, model.train_on_batch(xs, ys))
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(xs, ys)
    _sync(keras, loss)
    return first_s, (time.perf_counter() - start) / steps


def measure_train(args):
    keras, np, keras_drifa = _setup()
    xs, ys = _data(np, keras, args.size, args.batch_size)
    start = time.perf_counter()
    model = _paper_model(keras_drifa, args)
    build_s = time.perf_counter() - start
    _compile(keras, model, args.optimizer)
    first_s, steady_s = time_training(keras, model, xs, ys, args.steps)
    return {
        "parameters": model.count_params(),
        "build s": build_s,
        "first train step s": first_s,
        "train pairs/s": args.batch_size / steady_s,
    }


def measure_predict(args):
    keras, np, keras_drifa = _setup()
    xs, _ = _data(np, keras, args.size, args.batch_size)
    model = _paper_model(keras_drifa, args)
    start = time.perf_counter()
    _sync(keras, model.predict_on_batch(xs))
    first_s = time.perf_counter() - start
    _sync(keras, model.predict_on_batch(xs))
    start = time.perf_counter()
    for _ in range(args.steps):
        out = model.predict_on_batch(xs)
    _sync(keras, out)
    steady_s = (time.perf_counter() - start) / args.steps
    return {"first predict s": first_s, "predict pairs/s": args.batch_size / steady_s}


def measure_mc(args):
    keras, np, keras_drifa = _setup()
    xs, _ = _data(np, keras, args.size, args.batch_size)
    model = _paper_model(keras_drifa, args)
    ensemble = keras_drifa.MCDropoutEnsemble([model])
    samples, batch = args.mc_samples, args.batch_size

    def loop():
        with keras_drifa.mc_sampling(model):
            return [model.predict(xs, batch_size=batch, verbose=0) for _ in range(samples)]

    def fast():
        return ensemble.predict_uncertainty(xs, num_samples=samples, batch_size=batch, seed=0)

    loop(), fast()  # compile both
    times = {"loop": [], "fast": []}
    for _ in range(args.repeats):
        for name, fn in (("loop", loop), ("fast", fast)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    per_s = {k: samples * batch / float(np.median(v)) for k, v in times.items()}
    return {
        "MC predict loop samples/s": per_s["loop"],
        "predict_uncertainty samples/s": per_s["fast"],
        "predict_uncertainty / loop": per_s["fast"] / per_s["loop"],
    }


def measure_ensemble(args):
    """Each member count in a fresh process, so that no count finds another's compiled
    code (or JAX's and TensorFlow's one-time start-up work) done."""
    if len(args.members) > 1:
        result = {}
        for m in args.members:
            one = argparse.Namespace(**{**vars(args), "members": [m]})
            result.update(_run_child("ensemble", one, dict(os.environ)))
        first = result[f"ensemble M={args.members[0]} first step s"]
        for m in args.members[1:]:
            result[f"ensemble M={m} / M={args.members[0]}"] = (
                result[f"ensemble M={m} first step s"] / first
            )
        rate = result[f"ensemble M={args.members[0]} member pairs/s"]
        for m in args.members[1:]:
            result[f"ensemble M={m} / M={args.members[0]} member pairs/s"] = (
                result[f"ensemble M={m} member pairs/s"] / rate
            )
        return result
    keras, np, keras_drifa = _setup()
    xs, ys = _data(np, keras, args.size, args.batch_size)
    (m,) = args.members
    ensemble = keras_drifa.MCDropoutEnsemble(
        lambda: _paper_model(keras_drifa, args), num_members=m,
        **_member_loop_argument(keras_drifa, args.member_loop),
    )
    ensemble.compile(optimizer=_optimizer(keras, args.optimizer), loss="categorical_crossentropy")
    first_s, steady_s = time_training(keras, ensemble, xs, ys, args.steps)
    return {
        f"ensemble M={m} first step s": first_s,
        # Member pairs: each pair trains every member once.
        f"ensemble M={m} member pairs/s": m * args.batch_size / steady_s,
    }


def _member_loop_argument(keras_drifa, setting):
    """`member_loop=` for `MCDropoutEnsemble`, unless "auto" or the package measured (a
    baseline before the member loop) has no such argument."""
    import inspect

    if setting == "auto":
        return {}
    if "member_loop" not in inspect.signature(keras_drifa.MCDropoutEnsemble).parameters:
        return {}
    return {"member_loop": setting == "on"}


def measure_cache(args):
    """Runs `train` twice in child processes sharing a fresh JAX compilation cache."""
    import keras

    if keras.backend.backend() != "jax":
        return {}
    folder = tempfile.mkdtemp(prefix="drifa-jax-cache-")
    env = dict(
        os.environ,
        JAX_COMPILATION_CACHE_DIR=folder,
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1",
    )
    try:
        first = _run_child("train", args, env)
        second = _run_child("train", args, env)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "first step, empty cache s": first["first train step s"],
        "first step, warm cache s": second["first train step s"],
    }


def _compiled_update(keras, optimizer, variables, gradients):
    """One `optimizer.apply` of `gradients`, compiled as the backend's train step is."""
    backend = keras.backend.backend()
    optimizer.build(variables)
    if backend == "jax":
        import jax

        update = jax.jit(optimizer.stateless_apply)
        state = [v.value for v in optimizer.variables], [v.value for v in variables]
        return lambda: jax.block_until_ready(update(state[0], gradients, state[1]))
    if backend == "tensorflow":
        import tensorflow as tf

        update = tf.function(lambda g: optimizer.apply(g, variables))
        return lambda: (update(gradients), variables[0].numpy())
    return lambda: (optimizer.apply(gradients, variables),
                    keras.ops.convert_to_numpy(variables[0]))


def measure_optimizer(args):
    keras, np, keras_drifa = _setup()
    from keras_drifa.optimizers import FusedAdam

    model = _paper_model(keras_drifa, args)
    variables = model.trainable_variables
    gradients = [keras.ops.full(v.shape, 1e-3, dtype=v.dtype) for v in variables]
    result = {}
    for name, optimizer in (("Adam", keras.optimizers.Adam(1e-3)), ("FusedAdam", FusedAdam(1e-3))):
        update = _compiled_update(keras, optimizer, variables, gradients)
        update()  # compile
        times = []
        for _ in range(max(5, args.repeats)):
            start = time.perf_counter()
            update()
            times.append(time.perf_counter() - start)
        result[f"{name} update ms"] = 1e3 * float(np.median(times))
    result["FusedAdam / Adam"] = result["FusedAdam update ms"] / result["Adam update ms"]
    return result


def _gemm_gflops(matmul, to_device, sync, size, repeats=5):
    """Median float32 GFLOP/s of `repeats` products of two `size` x `size` matrices."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = (to_device(rng.random((size, size), dtype=np.float32)) for _ in range(2))
    sync(matmul(a, b))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sync(matmul(a, b))
        times.append(time.perf_counter() - start)
    return 2 * size**3 / float(np.median(times)) / 1e9


def _forward_gflops(args):
    """Forward GFLOPs of one pair of the model, from XLA's cost analysis (JAX)."""
    os.environ["KERAS_BACKEND"] = "jax"
    import jax
    import numpy as np

    import keras_drifa

    model = _paper_model(keras_drifa, args)
    xs = [np.zeros((1, args.size, args.size, 3), np.float32)] * 2

    def forward(trainable, non_trainable, inputs):
        return model.stateless_call(trainable, non_trainable, inputs, training=False)[0]

    lowered = jax.jit(forward).lower(
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        xs,
    )
    return lowered.cost_analysis()["flops"] / 1e9


def measure_peak(args):
    keras, np, _ = _setup()
    same = lambda x: x  # noqa: E731
    numpy_rate = _gemm_gflops(np.matmul, same, same, args.gemm_size)
    backend_rate = _gemm_gflops(
        keras.ops.matmul, keras.ops.convert_to_tensor, keras.ops.convert_to_numpy,
        args.gemm_size,
    )
    env = dict(os.environ, KERAS_BACKEND="jax")
    argv = [*_child_argv("peak", args), "--flops-only"]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT)]
    forward = json.loads(lines[-1][len(RESULT):])["forward GFLOP per pair"] if lines else None
    result = {"SGEMM NumPy GFLOP/s": numpy_rate, "SGEMM backend GFLOP/s": backend_rate}
    if forward is not None:
        result["forward GFLOP per pair"] = forward
    return result


def _training_share(values):
    """Steady training GFLOP/s and its share of each SGEMM rate, when both were measured."""
    if "train pairs/s" not in values or "forward GFLOP per pair" not in values:
        return {}
    rate = values["train pairs/s"] * 3 * values["forward GFLOP per pair"]
    return {
        "training GFLOP/s (3x forward)": rate,
        "training / SGEMM NumPy": rate / values["SGEMM NumPy GFLOP/s"],
        "training / SGEMM backend": rate / values["SGEMM backend GFLOP/s"],
    }


# --- the parent: run the measures on the trees, print the table ------------------------


def _child_argv(measure, args):
    argv = [sys.executable, os.path.abspath(__file__), "--child", measure]
    argv += ["--size", str(args.size), "--batch-size", str(args.batch_size)]
    argv += ["--steps", str(args.steps), "--mc-samples", str(args.mc_samples)]
    argv += ["--repeats", str(args.repeats), "--members", *map(str, args.members)]
    argv += ["--gemm-size", str(args.gemm_size), "--optimizer", args.optimizer]
    argv += ["--member-loop", args.member_loop]
    if args.widths is not None:
        argv += ["--widths", *map(str, args.widths)]
    if args.blocks is not None:
        argv += ["--blocks", *map(str, args.blocks)]
    return argv


def _run_child(measure, args, env):
    proc = subprocess.run(
        _child_argv(measure, args), env=env, capture_output=True, text=True, check=False
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise RuntimeError(f"benchmark child '{measure}' failed (exit {proc.returncode})")
    return json.loads(lines[-1][len(RESULT):])


def _tree_env(tree):
    env = dict(os.environ)
    env["PYTHONPATH"] = tree + os.pathsep + env.get("PYTHONPATH", "")
    env["DRIFA_BENCHMARK_TREE"] = tree
    return env


def _checkout(ref):
    folder = tempfile.mkdtemp(prefix="drifa-baseline-")
    subprocess.run(
        ["git", "-C", ROOT, "worktree", "add", "--detach", "--force", folder, ref],
        check=True, capture_output=True,
    )
    return folder


def _format(value):
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.2f}"


def parent(args):
    import keras  # noqa: F401  (prints the backend's version below)

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    print(f"backend={backend} keras={keras.__version__} size={args.size} "
          f"batch={args.batch_size} steps={args.steps}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    trees = {"current": ROOT}
    if args.baseline:
        trees[args.baseline] = _checkout(args.baseline)
    # One column per tree and optimizer; a measure the optimizer does not change runs
    # under the first optimizer only.
    columns = {
        (name if len(args.optimizer) == 1 else f"{name} {opt}"[:14].strip()): (tree, opt)
        for name, tree in trees.items()
        for opt in args.optimizer
    }
    results = {column: {} for column in columns}
    try:
        for measure in args.measure:
            for column, (tree, opt) in columns.items():
                if measure not in OPTIMIZER_MEASURES and opt != args.optimizer[0]:
                    continue
                start = time.perf_counter()
                one = argparse.Namespace(**{**vars(args), "optimizer": opt})
                values = _run_child(measure, one, _tree_env(tree))
                results[column].update(values)
                print(f"  {measure:9s} {column:14s} done in {time.perf_counter() - start:6.1f} s")
    finally:
        if args.baseline:
            subprocess.run(
                ["git", "-C", ROOT, "worktree", "remove", "--force", trees[args.baseline]],
                check=False, capture_output=True,
            )
    for values in results.values():
        values.update(_training_share(values))
    print(f"load average after: {os.getloadavg()[0]:.2f}\n")
    names = list(columns)
    header = f"{'':34s}" + "".join(f"{n[:14]:>16s}" for n in names)
    ratio = len(names) == 2
    if ratio:
        header += f"{'ratio':>10s}"
    print(header)
    keys = list(dict.fromkeys(key for values in results.values() for key in values))
    for key in keys:
        row = f"{key:34s}" + "".join(
            f"{_format(results[n][key]) if key in results[n] else '-':>16s}" for n in names
        )
        first, second = (results[n] for n in names[:2]) if ratio else ({}, {})
        if key in first and second.get(key):
            row += f"{first[key] / second[key]:>9.2f}x"
        print(row)


def child(args):
    (args.optimizer,) = args.optimizer
    if args.flops_only:
        print(RESULT + json.dumps({"forward GFLOP per pair": _forward_gflops(args)}),
              flush=True)
        return
    tree = os.environ.get("DRIFA_BENCHMARK_TREE")
    if args.child != "cache":
        import keras_drifa

        where = os.path.dirname(os.path.dirname(os.path.abspath(keras_drifa.__file__)))
        if tree and os.path.realpath(where) != os.path.realpath(tree):
            raise RuntimeError(f"imported keras_drifa from {where}, expected {tree}")
    values = {
        "train": measure_train,
        "predict": measure_predict,
        "mc": measure_mc,
        "ensemble": measure_ensemble,
        "cache": measure_cache,
        "optimizer": measure_optimizer,
        "peak": measure_peak,
    }[args.child](args)
    print(RESULT + json.dumps(values), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="input height and width")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10, help="timed steps after warm-up")
    parser.add_argument("--measure", nargs="+", choices=MEASURES, default=["train", "predict"])
    parser.add_argument("--baseline", help="git ref to measure side by side")
    parser.add_argument("--members", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--member-loop", choices=("auto", "on", "off"), default="auto",
                        help="ensemble: MCDropoutEnsemble(member_loop=...): 'auto' (the "
                        "default: on JAX), 'on' or 'off'; a baseline without it runs as is")
    parser.add_argument("--widths", type=int, nargs="+",
                        help="stage widths (default: the paper's 64 128 256 512)")
    parser.add_argument("--blocks", type=int, nargs="+",
                        help="RRA blocks per stage, one per width (default: the paper's)")
    parser.add_argument("--mc-samples", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3, help="mc: timed repeats (median)")
    parser.add_argument("--gemm-size", type=int, default=2048, help="peak: matrix size")
    parser.add_argument("--optimizer", nargs="+", choices=OPTIMIZERS, default=["adam"],
                        help="train, ensemble: Adam or FusedAdam; both: side by side")
    parser.add_argument("--child", choices=MEASURES, help=argparse.SUPPRESS)
    parser.add_argument("--flops-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
