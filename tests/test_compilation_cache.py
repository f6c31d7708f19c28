"""JAX's persistent compilation cache serves a second process: the one-line recipe works.

README and docs/performance.md recommend `JAX_COMPILATION_CACHE_DIR=<folder>` so that a
second process (a restarted notebook, the next script) reuses compiled code instead of
compiling again. Two processes train and predict with the same tiny DRIFA-Net; the first
fills the cache, the second must add nothing to it (every function it compiled was found
there: a function that was not would be stored under a new key).
"""

import os
import subprocess
import sys

import keras
import pytest

SCRIPT = """
import numpy as np, keras, keras_drifa
model = keras_drifa.build_model(input_shape=(16, 16, 3), num_classes=(2, 3), widths=(4, 8),
                                blocks_per_stage=(1, 1))
model.compile(optimizer="adam", loss="categorical_crossentropy")
rng = np.random.default_rng(0)
xs = [rng.random((4, 16, 16, 3), dtype=np.float32) for _ in range(2)]
ys = [np.eye(2, dtype="float32")[[0, 1, 0, 1]], np.eye(3, dtype="float32")[[0, 1, 2, 0]]]
model.fit(xs, ys, epochs=1, verbose=0)
model.predict(xs, verbose=0)
"""


@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="the persistent compilation cache is JAX's; TensorFlow and PyTorch keep no "
    "compiled code between processes",
)
def test_second_process_reuses_the_first_ones_compiled_code(tmp_path):
    cache = tmp_path / "jax-cache"
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_COMPILATION_CACHE_DIR=str(cache))

    def run():
        subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True, timeout=300,
                       capture_output=True)
        return set(os.listdir(cache))

    first = run()
    assert any("train" in name for name in first), sorted(first)
    assert run() == first
