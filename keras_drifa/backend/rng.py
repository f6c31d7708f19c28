"""PyTorch's global random generator, which unseeded dropout draws from on that backend.

The other backends draw unseeded masks from Keras seed states (variables of the model),
so every function here is a no-op there.
"""

import contextlib

import keras
import numpy as np


def _torch():
    if keras.backend.backend() != "torch":
        return None
    import torch

    return torch


def seed_global_rng(seed):
    """Seeds the generator that unseeded dropout draws from (PyTorch's global one)."""
    torch = _torch()
    if torch is not None:
        torch.manual_seed(seed)


def isolated_rng():
    """A context that restores PyTorch's global generators afterwards (a no-op elsewhere);
    `torch.random.fork_rng`, which forks every CUDA device's generator too."""
    torch = _torch()
    if torch is not None:
        return torch.random.fork_rng()
    return contextlib.nullcontext()


@contextlib.contextmanager
def preserved_global_rng():
    """A context that restores PyTorch's global CPU generator afterwards, and every CUDA
    device's where CUDA is already initialised (a no-op elsewhere). Unlike
    `isolated_rng`, it never initialises CUDA itself."""
    torch = _torch()
    if torch is None:
        yield
        return
    cpu_state = torch.random.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        torch.random.set_rng_state(cpu_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


def global_rng_state():
    """The state of the generator that unseeded dropout draws from, as a uint8 array:
    PyTorch's global CPU generator (and, where CUDA is in use, the current device's);
    `None` on the other backends, whose masks come from Keras seed states."""
    torch = _torch()
    if torch is None:
        return None
    states = [torch.get_rng_state()]
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states.append(torch.cuda.get_rng_state())
    return np.concatenate([s.numpy() for s in states])


def set_global_rng_state(state):
    """Restores a `global_rng_state()` (a no-op for `None` or on other backends)."""
    torch = _torch()
    if state is None or torch is None:
        return
    cpu = torch.get_rng_state().numel()
    torch.set_rng_state(torch.from_numpy(np.asarray(state[:cpu], dtype=np.uint8)))
    if len(state) > cpu and torch.cuda.is_available():
        torch.cuda.set_rng_state(torch.from_numpy(np.asarray(state[cpu:], dtype=np.uint8)))
