"""Atomic `.keras` saving: a failed `save` leaves the previous file as it was.

Keras opens the target file for writing before it serialises the model, so an error half
way (a layer whose config cannot be serialised, a full disk, an interrupt) leaves a
truncated file in place of the last good one. Saving goes to a temporary file in the
same folder instead, which then replaces the target in one `os.replace`.
"""

import os
import secrets
import shutil


def save_atomically(save, filepath, overwrite=True, zipped=None, **kwargs):
    """Calls `save(path, overwrite=..., zipped=..., **kwargs)` so that `filepath` is
    replaced only by a complete file.

    `save` is a `keras.Model.save`. Local `.keras` archives are written to
    `.{name}.tmp-{random}.keras` next to `filepath` (Keras requires the suffix) and moved
    onto it; on any error the temporary file is removed and the error re-raised. Other
    targets (`.h5`, `zipped=False` directories, remote or file-object paths, an existing
    file with `overwrite=False`, which Keras asks about) go to `save` unchanged.
    """
    path = os.fspath(filepath) if isinstance(filepath, (str, os.PathLike)) else None
    if (
        not isinstance(path, str)
        or not path.endswith(".keras")
        or zipped is False
        or "://" in path
        or (not overwrite and os.path.exists(path))
    ):
        return save(filepath, overwrite=overwrite, zipped=zipped, **kwargs)
    target = os.path.realpath(path)  # through a symbolic link, as writing in place does
    folder, name = os.path.split(target)
    if not os.path.isdir(folder) or os.path.isdir(target):
        return save(filepath, overwrite=overwrite, zipped=zipped, **kwargs)  # Keras's error
    temporary = os.path.join(folder, f".{name}.tmp-{secrets.token_hex(4)}.keras")
    try:
        save(temporary, overwrite=True, zipped=zipped, **kwargs)
        if os.path.exists(target):
            shutil.copymode(target, temporary)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
