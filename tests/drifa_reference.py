"""A NumPy implementation of the equations in shared/design/architecture.md.

The layer tests compare each Keras layer with these functions on random weights, which is
how we know the layers compute DRIFA and not only the right shapes. Everything here is
written from the spec, independently of the layer code.
"""

import numpy as np


def to_numpy(x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float64)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def conv1x1_sigmoid(x, weights):
    """`Conv1x1_U`: a 1x1 convolution with bias and sigmoid; `weights` is `(kernel, bias)`."""
    kernel, bias = weights
    return sigmoid(x @ kernel + bias)


# Where each layer keeps the weights of the spec's convolutions, as its docstring states:
# `(kernel, bias)` per named convolution, as float64 NumPy arrays.
def _dense_kernel(k_p1, k_p2):
    """HIFA's dense kernel `(2U, U)` from its halves for p1 and p2."""
    return np.concatenate([k_p1, k_p2], axis=0)


def hifa_weights(layer):
    k, b = to_numpy(layer.kernels), to_numpy(layer.biases)
    return {
        "conv_1": (to_numpy(layer.input_kernel), b[0]),
        "conv_2": (k[0], b[1]),
        "conv_3": (k[1], b[2]),
        "conv_4": (k[2], b[3]),
        "dense": (_dense_kernel(k[3], k[4]), b[4]),
    }


def clia_weights(layer):
    b = to_numpy(layer.biases)
    return {
        "conv_1": (to_numpy(layer.input_kernel), b[0]),
        "conv_2": (to_numpy(layer.kernel), b[1]),
    }


def mfa_weights(layer):
    """MFA's stacked weights split into HIFA's and CLIA's convolutions."""
    u = layer.units
    k_in = to_numpy(layer.input_kernel)
    k, b = to_numpy(layer.kernels), to_numpy(layer.biases)
    hifa_w = {
        "conv_1": (k_in[:, :u], b[0]),
        "conv_2": (k[0], b[2]),
        "conv_3": (k[1], b[3]),
        "conv_4": (k[2], b[4]),
        "dense": (_dense_kernel(k[3], k[4]), b[5]),
    }
    clia_w = {"conv_1": (k_in[:, u:], b[1]), "conv_2": (k[5], b[6])}
    return hifa_w, clia_w


def hifa(x, layer=None, weights=None):
    w = weights if weights is not None else hifa_weights(layer)
    g1 = conv1x1_sigmoid(x, w["conv_1"])
    g2 = conv1x1_sigmoid(g1, w["conv_2"])
    p1 = g1.mean(axis=(1, 2)) + g2.max(axis=(1, 2))
    g3 = conv1x1_sigmoid(g1 + g2, w["conv_3"])
    g4 = conv1x1_sigmoid(g3, w["conv_4"])
    p2 = g3.mean(axis=(1, 2)) + g4.max(axis=(1, 2))
    g = conv1x1_sigmoid(np.concatenate([p1, p2], axis=-1), w["dense"])
    return g[:, None, None, :]


def clia(x, layer=None, weights=None):
    w = weights if weights is not None else clia_weights(layer)
    l1 = conv1x1_sigmoid(x, w["conv_1"]).mean(axis=(1, 2), keepdims=True)
    l2 = conv1x1_sigmoid(l1, w["conv_2"]).mean(axis=(1, 2), keepdims=True)
    return l1 + l2


def mfa(x, layer):
    hifa_w, clia_w = mfa_weights(layer)
    a = sigmoid(
        to_numpy(layer.gamma_g) * hifa(x, weights=hifa_w)
        + to_numpy(layer.gamma_l) * clia(x, weights=clia_w)
    )
    return x * a * to_numpy(layer.alpha)


def mgifa(xs, layer):
    v_min = sum(x.min(axis=(1, 2)) for x in xs)
    v_avg = sum(x.mean(axis=(1, 2)) for x in xs)
    v_max = sum(x.max(axis=(1, 2)) for x in xs)
    d = (to_numpy(layer.dense_kernel), to_numpy(layer.dense_bias))
    g = conv1x1_sigmoid(v_min, d) + conv1x1_sigmoid(v_avg, d) + conv1x1_sigmoid(v_max, d)
    return g[:, None, None, :]


def mlifa(xs, layer):
    kernels, biases = to_numpy(layer.kernels), to_numpy(layer.biases)
    total = 0.0
    for m, x in enumerate(xs):
        c = conv1x1_sigmoid(x, (kernels[m], biases[m]))
        total = total + (
            c.min(axis=(1, 2), keepdims=True)
            + c.mean(axis=(1, 2), keepdims=True)
            + c.max(axis=(1, 2), keepdims=True)
        )
    return total


def mifa(xs, layer):
    a = sigmoid(
        to_numpy(layer.gamma_g) * mgifa(xs, layer.mgifa)
        + to_numpy(layer.gamma_l) * mlifa(xs, layer.mlifa)
    )
    alphas = to_numpy(layer.alphas)
    return [x * a * alphas[m] for m, x in enumerate(xs)]


def conv2d_same(x, kernel, bias, stride):
    """Keras `Conv2D(padding="same")` for channels-last input (direct loops over taps)."""
    batch, height, width, _ = x.shape
    k = kernel.shape[0]
    out_h, out_w = -(-height // stride), -(-width // stride)
    pad_h = max((out_h - 1) * stride + k - height, 0)
    pad_w = max((out_w - 1) * stride + k - width, 0)
    padded = np.pad(
        x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0))
    )
    out = np.zeros((batch, out_h, out_w, kernel.shape[-1]))
    for i in range(k):
        for j in range(k):
            patch = padded[:, i : i + stride * out_h : stride, j : j + stride * out_w : stride, :]
            out += patch @ kernel[i, j]
    return out + bias


def batch_norm_inference(x, layer):
    mean, var = to_numpy(layer.moving_mean), to_numpy(layer.moving_variance)
    gamma, beta = to_numpy(layer.gamma), to_numpy(layer.beta)
    return (x - mean) / np.sqrt(var + layer.epsilon) * gamma + beta


def conv(x, layer, stride):
    return conv2d_same(x, to_numpy(layer.kernel), to_numpy(layer.bias), stride)


def rra_block(x, layer):
    """The RRA block in inference mode (batch norm with its moving statistics)."""
    y = conv(x, layer.conv_1, layer.strides)
    if layer.use_mfa:
        y = mfa(y, layer.mfa_1)
    y = np.maximum(batch_norm_inference(y, layer.bn_1), 0)
    y = conv(y, layer.conv_2, 1)
    if layer.use_mfa:
        y = mfa(y, layer.mfa_2)
    y = batch_norm_inference(y, layer.bn_2)
    shortcut = x
    if layer.shortcut_conv is not None:
        shortcut = batch_norm_inference(conv(x, layer.shortcut_conv, layer.strides), layer.shortcut_bn)
    return np.maximum(y + shortcut, 0)


# Parameter counts, straight from the spec's formulas.
def mfa_params(c):
    return 6 * (c * c + c) + 2 * c * c + c + 1 + 2 * c


def mifa_params(c, m):
    return (c * c + c) + m * (c * c + c) + 1 + c + m * c


def drifa_net_params(
    channels=(3, 3), widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2), classes=(5, 7),
    use_mfa=True, use_mifa=True, use_block_mfa=True,
):
    """Total parameters of DRIFA-Net, counted layer by layer from the architecture table."""
    m = len(channels)
    conv_p = lambda k, cin, cout: k * k * cin * cout + cout  # noqa: E731
    bn = lambda c: 4 * c  # noqa: E731
    attn = mfa_params if use_mfa else (lambda c: 0)
    total = 0
    num_blocks = sum(blocks)
    for cin in channels:
        total += conv_p(7, cin, widths[0]) + attn(widths[0]) + bn(widths[0])
        c, k = widths[0], 0
        for stage, (f, n) in enumerate(zip(widths, blocks)):
            for b in range(n):
                k += 1
                stride = 2 if stage > 0 and b == 0 else 1
                total += conv_p(3, c, f) + attn(f) + bn(f) + conv_p(3, f, f) + attn(f) + bn(f)
                if stride != 1 or c != f:
                    total += conv_p(1, c, f) + bn(f)
                c = f
                if k < num_blocks and use_block_mfa:
                    total += attn(f)
    if use_mifa:
        for f, n in zip(widths, blocks):
            total += n * mifa_params(f, m)
    fused = m * widths[-1]
    total += sum(fused * n + n for n in classes)
    return total


def drifa_net_non_trainable(num_modalities=2, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2)):
    """BatchNorm moving mean and variance: 2 per BN channel."""
    per_branch = widths[0]
    c = widths[0]
    for stage, (f, n) in enumerate(zip(widths, blocks)):
        for b in range(n):
            stride = 2 if stage > 0 and b == 0 else 1
            per_branch += 2 * f + (f if (stride != 1 or c != f) else 0)
            c = f
    return 2 * per_branch * num_modalities


def _attention_params(units, query_tokens_dim, heads):
    """`keras.layers.MultiHeadAttention(heads, key_dim=max(1, units // heads))` on width
    `units`: query, key and value projections with biases, and the output projection."""
    inner = heads * max(1, units // heads)
    return 3 * (units * inner + inner) + inner * units + units


def fusion_head_params(fusion, channels, units, token_counts, heads=4, layers=2, mlp_ratio=2):
    """Parameters of a baseline fusion head, from the formulas in its layer's docstring.

    `channels`: the branches' last channels (one per modality); `token_counts`: the pixels
    of each modality's last map. Returns `(head parameters, width of the fused vector)`.
    """
    m = len(channels)
    if fusion == "mlp":
        return sum(channels) * units + units, units
    projections = sum(c * units + units for c in channels)
    if fusion == "gated":
        return projections + (units * units + units) + (units + 1), m * units
    tokens = projections + sum(token_counts) * units
    if fusion == "cross_attention":
        return tokens + m * (_attention_params(units, units, heads) + 2 * units), m * units
    encoder = (
        _attention_params(units, units, heads) + 2 * units  # attention, its layer norm
        + units * mlp_ratio * units + mlp_ratio * units        # MLP hidden
        + mlp_ratio * units * units + units + 2 * units        # MLP output, its layer norm
    )
    return tokens + m * units + layers * encoder, m * units
