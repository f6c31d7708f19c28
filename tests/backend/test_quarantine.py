"""Backend branches live in keras_drifa/backend/ only (and the data-parallel engines'
setup in keras_drifa/distributed/cluster.py, which is keyed by backend)."""

import pathlib

import keras_drifa

PACKAGE = pathlib.Path(keras_drifa.__file__).parent
ALLOWED = {"backend", "distributed/cluster.py"}


def test_only_the_backend_package_asks_for_the_backend():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.split("/")[0] in ALLOWED or relative in ALLOWED:
            continue
        if "keras.backend.backend()" in path.read_text():
            found.append(relative)
    assert found == []
