"""Walking a Keras model's layers and graph: the one module that touches Keras internals.

Private Keras attributes used here, because Keras 3 has no public equivalent:

- `Layer._flatten_layers(include_self=True)`: every layer inside a model, nested layers
  and models included (`Model.layers` lists only the top level).
"""


def all_layers(model):
    """Every layer of `model`, itself, nested layers and nested models included."""
    return list(model._flatten_layers(include_self=True))
