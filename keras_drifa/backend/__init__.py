"""The backend-specific part of keras-drifa, grouped by feature, the three backends side by side.

Everything else in the package is written with `keras.ops` and runs unchanged on
TensorFlow, JAX and PyTorch; these modules are the only ones that ask which backend runs
(`keras.backend.backend()`). What is here has no portable Keras API:

- `dropout`: dropout masks of their own on each replica of a TensorFlow `MirroredStrategy`
  step and each rank of a PyTorch DDP step, and MC dropout's conditional draw, whose seed
  update must happen outside `jax.lax.cond`.
- `rng`: PyTorch's global random generator, which unseeded dropout draws from: seeding,
  saving and restoring it.
- `compilation`: running a model without recording gradients (compiled where op-by-op
  execution is slow), whether a value is traced inside a compiled function, and the
  functions compiled per model.
- `training`: what a compiled model's training needs on one backend: TensorFlow's
  training state created before the first trace, PyTorch's parameters of sub-models.
- `gradients`: differentiating a model output with respect to an intermediate tensor
  (Grad-CAM).
- `collectives`: a differentiable sum over the replicas of a data-parallel step.
- `optimizers`: Adam's update as one kernel per weight (`keras_drifa.optimizers.FusedAdam`):
  TensorFlow's `ResourceApplyAdam`, PyTorch's fused functional Adam.

The data-parallel engines themselves are set up in `keras_drifa.distributed.cluster`,
which keys them by backend. Private Keras attributes are used only in
`keras_drifa/_graph.py`, which lists them at its top.
"""
