"""The figure plumbing of the plots: a pyplot-free figure, PNG saving."""


def new_axes(ax, figsize):
    """`(figure, ax)`: the given axes, or a new figure not attached to pyplot."""
    if ax is not None:
        return ax.figure, ax
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "keras_drifa.viz needs matplotlib: pip install 'keras-drifa[viz]'."
        ) from None
    figure = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def save(figure, save_path, fn):
    if save_path is None:
        return
    if not str(save_path).lower().endswith(".png"):
        raise ValueError(f"{fn}: save_path must end in '.png'; received {str(save_path)!r}.")
    figure.savefig(save_path, format="png", bbox_inches="tight")
