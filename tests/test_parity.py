from __future__ import annotations

import numpy as np
import pytest

from vgg_deploy.export import compare_logits


def test_tolerance_scales_with_the_logits():
    rng = np.random.default_rng(0)
    small = rng.standard_normal((4, 10)).astype(np.float32) * 0.3  # random-weight logits
    large = small / 0.3 * 20  # trained-checkpoint logits
    assert compare_logits(small, small + 5e-5).passed
    assert not compare_logits(small, small + 2e-4).passed  # 2e-4 > 1e-4 x max(1, 0.9)
    assert compare_logits(large, large + 2e-3).passed  # 2e-3 < 1e-4 x ~60
    assert not compare_logits(large, large + 2e-2).passed


def test_figures_are_computed_from_the_outputs():
    ref = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    out = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])  # second sample: orthogonal, top-1 differs
    parity = compare_logits(ref, out)
    assert parity.max_abs_diff == pytest.approx(2.0)
    assert parity.cosine == pytest.approx(0.0)  # the worst sample's cosine
    assert parity.top1_agreement == pytest.approx(0.5)
    assert parity.tolerance == pytest.approx(2e-4)
    assert not parity.passed


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_either_output_fails(bad):
    ref = np.ones((2, 3))
    out = ref.copy()
    out[1, 2] = bad
    assert compare_logits(ref, out).nonfinite == 1 and not compare_logits(ref, out).passed
    assert not compare_logits(out, ref).passed


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="shape mismatch"):
        compare_logits(np.zeros((2, 3)), np.zeros((2, 4)))


def test_conversion_gates_are_optional_and_independent():
    ref = np.array([[3.0, 1.0, 0.0, -1.0, -2.0, -3.0], [0.0, 2.0, 1.0, -1.0, -2.0, -3.0]])
    out = ref.copy()
    out[1] = [2.0, 1.9, 1.0, -1.0, -2.0, -3.0]  # top-1 flips, but the reference top-1 stays in the top 5
    ungated = compare_logits(ref, out, max_rel_diff=None, min_cosine=None)
    assert ungated.passed and ungated.tolerance is None
    assert ungated.top1_agreement == pytest.approx(0.5) and ungated.top5_containment == pytest.approx(1.0)
    assert not compare_logits(ref, out, max_rel_diff=None, min_cosine=None, min_top1=0.9).passed
    assert compare_logits(ref, out, max_rel_diff=None, min_cosine=None, min_top1=0.5).passed
    assert not compare_logits(ref, out, max_rel_diff=None, min_cosine=0.999).passed
    assert "x the logit scale" in ungated.summary() and "PASS" in ungated.summary()
