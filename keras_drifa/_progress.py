"""Progress bars that suit where the output goes."""

import sys

import keras


def interactive():
    """Whether output goes to a terminal or a notebook (not a log file or a pipe)."""
    return (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()) or "ipykernel" in sys.modules


def progress_bar(target, verbose="auto", unit_name="step"):
    """A `keras.utils.Progbar`, or `None` for `verbose=0`.

    `"auto"` shows a live bar on a terminal or in a notebook and one plain summary line
    elsewhere: Keras's live bar writes terminal control codes, which fill log files.
    """
    if verbose == 0:
        return None
    if verbose == "auto":
        verbose = 1 if interactive() else 2
    return keras.utils.Progbar(target, verbose=verbose, unit_name=unit_name)
