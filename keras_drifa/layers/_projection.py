"""The sigmoid 1x1 convolution used throughout DRIFA attention, as a matrix product."""

from keras import ops


def sigmoid_projection(x, kernel, bias):
    """`sigmoid(conv1x1(x))` for a `(..., channels)` tensor and a `(channels, units)` kernel.

    A 1x1 convolution is a matrix product over the channel axis, so it is computed as one
    on a feature map `(batch, height, width, channels)` or a vector `(batch, channels)`:
    the same parameters and numbers as `Conv2D(units, 1)`, with no layer object per
    projection (`benchmarks/pointwise_projection.py` times both forms).
    """
    return ops.sigmoid(ops.matmul(x, kernel) + bias)


def unstack(variable):
    """The entries of a stacked weight along its first axis, read in one op.

    The attention layers hold their kernels and biases stacked in few variables: the
    optimizer's work and the traced graph grow with the number of variables (see
    docs/performance.md). Indexing a variable entry by entry would add one op, and one
    gradient op, per entry to traced graphs.
    """
    return ops.unstack(variable.value)
