"""The release artefacts: `python -m build` makes an sdist and a wheel that pass
`twine check`, hold what they should, and install into a fresh environment that has JAX
but neither TensorFlow nor PyTorch, where keras_drifa imports and builds a model.

This builds and installs real packages (about a minute, with pip's cache), so it runs
once per test run of the whole matrix: in the JAX leg, the backend that the fresh
environment gets.
"""

import email.parser
import os
import pathlib
import subprocess
import sys
import tarfile
import zipfile

import keras
import pytest

import keras_drifa

ROOT = pathlib.Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="builds the wheel and installs it with only JAX into a fresh virtual environment; "
    "that needs no current backend, so it runs once, in the KERAS_BACKEND=jax run",
)


def _run(*command, **kwargs):
    result = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, timeout=900, **kwargs
    )
    assert (
        result.returncode == 0
    ), f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """sdist and wheel from `python -m build` (the wheel is built from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    (sdist,), (wheel,) = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    return sdist, wheel


def test_twine_check_passes(dist):
    output = _run(sys.executable, "-m", "twine", "check", "--strict", *dist)
    assert output.count("PASSED") == 2


def test_wheel_holds_the_package_and_license_only(dist):
    _, wheel = dist
    version = keras_drifa.__version__
    assert wheel.name == f"keras_drifa-{version}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    package = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "keras_drifa").rglob("*.py"))
    assert sorted(n for n in names if n.startswith("keras_drifa/")) == package
    info = f"keras_drifa-{version}.dist-info/"
    assert f"{info}licenses/LICENSE" in names
    assert all(n.startswith(("keras_drifa/", info)) for n in names), names


def test_wheel_metadata(dist):
    _, wheel = dist
    text = (
        zipfile.ZipFile(wheel)
        .read(f"keras_drifa-{keras_drifa.__version__}.dist-info/METADATA")
        .decode()
    )
    metadata = email.parser.Parser().parsestr(text)
    assert metadata["Name"] == "keras-drifa" and metadata["License-Expression"] == "MIT"
    assert metadata["Requires-Python"] == ">=3.10"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "# keras-drifa" in metadata.get_payload()  # the README is the long description
    assert "Repository, https://github.com/keras-drifa/keras-drifa" in metadata.get_all(
        "Project-URL"
    )
    assert {"jax", "tensorflow", "torch", "data"} <= set(metadata.get_all("Provides-Extra"))
    assert any(
        c.startswith("Programming Language :: Python :: 3.1")
        for c in metadata.get_all("Classifier")
    )


def test_sdist_holds_the_sources_and_tests(dist):
    sdist, _ = dist
    prefix = sdist.name[: -len(".tar.gz")] + "/"
    names = {n[len(prefix) :] for n in tarfile.open(sdist).getnames()}
    for path in (
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "keras_drifa/__init__.py",
        "keras_drifa/data/synthetic.py",
        "tests/conftest.py",
        "tests/data/test_synthetic.py",
        "examples/paper_experiment.py",
        "requirements/constraints.txt",
    ):
        assert path in names, path
    assert not any(n.startswith(("outputs/", ".venv", ".git/", "dist/")) for n in names)


def test_wheel_installs_and_works_with_only_jax(dist, tmp_path):
    _, wheel = dist
    env_dir = tmp_path / "env"
    _run(sys.executable, "-m", "venv", env_dir)  # no system site packages
    python = env_dir / "bin" / "python"
    _run(
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        "--disable-pip-version-check",
        "-c",
        ROOT / "requirements" / "constraints.txt",
        f"{wheel}[jax]",
    )
    check = """
import importlib.util, keras, keras_drifa
from keras_drifa.data import make_synthetic
assert keras.backend.backend() == "jax"
missing = [m for m in ("tensorflow", "torch") if importlib.util.find_spec(m) is None]
data = make_synthetic(2, modalities=1, image_size=32, num_classes=3)
model = keras_drifa.build_model(modalities=data.modality_names, input_shape=data.input_shapes,
                                num_classes=data.num_classes, widths=(4, 4, 4, 4),
                                blocks_per_stage=(1, 1, 1, 1))
print(keras_drifa.__version__, keras_drifa.__file__, missing, tuple(model.outputs[0].shape))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["KERAS_BACKEND"] = "jax"
    output = _run(python, "-c", check, cwd=tmp_path, env=env).strip().splitlines()[-1]
    version, location, rest = output.split(" ", 2)
    assert version == keras_drifa.__version__
    assert location.startswith(str(env_dir))  # the installed wheel, not the source tree
    assert rest == "['tensorflow', 'torch'] (None, 3)"
