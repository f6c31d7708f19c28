"""The runnable examples in the docstrings of the NumPy modules run as written.

These modules are backend-independent NumPy post-processing, so their examples are cheap;
the examples of layers and models are run by their own tests and by tests/test_readme.py.
"""

import doctest

import pytest

from keras_drifa import calibration, conformal, evaluation, ood, referral, uncertainty
from keras_drifa.data import shifts
from keras_drifa.layers import probability_calibration


@pytest.mark.parametrize("module", [calibration, conformal, evaluation, ood,
                                    probability_calibration, referral, shifts, uncertainty],
                         ids=lambda m: m.__name__)
def test_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
