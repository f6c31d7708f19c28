"""Where the wait for DRIFA-Net's first training step goes, on the current backend.

TensorFlow: the trace of the train step (Python building the graph), split with
`cProfile` into the optimizer's update, the gradient and the forward pass, then the first
call (Grappler optimises the graph and the step runs), and the graph's size.
JAX: tracing and lowering, XLA compilation, the first run, and the sizes of the HLO before
and after optimisation (fusions are what XLA compiles one by one).
PyTorch runs eagerly and has nothing to compile; it prints the first and a later step.

    KERAS_BACKEND=tensorflow python benchmarks/profile_first_step.py
    KERAS_BACKEND=jax python benchmarks/profile_first_step.py --size 64

Used for docs/performance.md. Timings need a quiet machine.
"""

import argparse
import cProfile
import os
import pstats
import re
import time

FUSION = re.compile(r" fusion\(")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_drifa  # noqa: E402


def _model_and_batch(size, batch_size):
    model = keras_drifa.build_model(input_shape=(size, size, 3), num_classes=(5, 7))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=["categorical_crossentropy"] * 2,
        loss_weights=[0.5, 0.5],
    )
    rng = np.random.default_rng(0)
    xs = [rng.random((batch_size, size, size, 3), dtype=np.float32) for _ in range(2)]
    ys = [keras.utils.to_categorical(rng.integers(0, n, batch_size), n) for n in (5, 7)]
    model.optimizer.build(model.trainable_variables)
    return model, xs, ys


def _cumulative(stats, pattern):
    """Largest cumulative time of the profiled functions whose name matches `pattern`."""
    times = [
        value[3]
        for (filename, _, name), value in stats.stats.items()
        if re.search(pattern, f"{filename}:{name}")
    ]
    return max(times, default=0.0)


def tensorflow(model, xs, ys):
    import tensorflow as tf

    data = (tuple(tf.constant(x) for x in xs), tuple(tf.constant(y) for y in ys))
    model.compute_loss(x=None, y=list(ys), y_pred=list(ys))  # loss trackers: no variable in the trace
    model.reset_metrics()
    function = tf.function(model.train_step)
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    concrete = function.get_concrete_function(data)
    profile.disable()
    trace_s = time.perf_counter() - start
    stats = pstats.Stats(profile)
    total = _cumulative(stats, r"get_concrete_function$")
    parts = {
        "optimizer update": _cumulative(stats, r"base_optimizer.py:apply_gradients$"),
        "gradient": _cumulative(stats, r"backprop.py:gradient$"),
        "forward pass": _cumulative(stats, r"functional.py:call$"),
    }
    print(f"trace (under cProfile):       {trace_s:8.1f} s")
    for name, seconds in parts.items():
        print(f"  {name:27s} {seconds / total:8.0%} of the trace's Python time")
    nodes = len(concrete.graph.as_graph_def().node)
    print(f"graph nodes:                  {nodes:8d}")
    start = time.perf_counter()
    outputs = concrete(data)
    keras.tree.map_structure(lambda t: t.numpy(), outputs)
    print(f"first call (Grappler + run):  {time.perf_counter() - start:8.1f} s")


def jax(model, xs, ys):
    import jax as jax_module

    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in model.optimizer.variables],
        [v.value for v in model.metrics_variables],
    )
    function = jax_module.jit(model.train_step)
    start = time.perf_counter()
    lowered = function.lower(state, (xs, ys))
    print(f"trace and lower:              {time.perf_counter() - start:8.1f} s")
    print(f"HLO before optimisation:      {len(lowered.as_text()) / 1e6:8.1f} M characters")
    start = time.perf_counter()
    compiled = lowered.compile()
    print(f"XLA compilation:              {time.perf_counter() - start:8.1f} s")
    text = compiled.as_text()
    fusions = len(re.findall(FUSION, text))
    print(f"fusions after optimisation:   {fusions:8d}")
    start = time.perf_counter()
    jax_module.block_until_ready(compiled(state, (xs, ys)))
    print(f"first run:                    {time.perf_counter() - start:8.1f} s")


def torch(model, xs, ys):
    for step in range(3):
        start = time.perf_counter()
        model.train_on_batch(xs, ys)
        print(f"step {step + 1}:                       {time.perf_counter() - start:8.1f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    backend = keras.backend.backend()
    print(f"backend={backend} keras={keras.__version__} size={args.size} "
          f"batch={args.batch_size} load average {os.getloadavg()[0]:.2f}")
    start = time.perf_counter()
    model, xs, ys = _model_and_batch(args.size, args.batch_size)
    print(f"build and compile:            {time.perf_counter() - start:8.1f} s "
          f"({len(model.weights)} weight tensors)")
    {"tensorflow": tensorflow, "jax": jax, "torch": torch}[backend](model, xs, ys)


if __name__ == "__main__":
    main()
