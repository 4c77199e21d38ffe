"""skgmmot.datasets: valid mixtures, reproducible draws, the POT/OTT recipes."""

import numpy as np
import pytest

from skgmmot._validation import check_mixture
from skgmmot.datasets import (
    make_batch_effect_samples,
    make_gmm_family,
    make_random_gmm,
)

STYLES = ["default", "pot", "ott"]


def _assert_valid_mixture(mixture, k, d):
    means, covs, weights = mixture
    assert means.shape == (k, d) and covs.shape == (k, d, d) and weights.shape == (k,)
    for arr in mixture:
        assert arr.dtype == np.float64
        assert arr.flags.c_contiguous
        assert np.all(np.isfinite(arr))
    np.testing.assert_array_equal(covs, covs.transpose(0, 2, 1))
    assert np.all(np.linalg.eigvalsh(covs) > 0)
    assert np.all(weights > 0)
    assert abs(weights.sum() - 1.0) < 1e-12
    check_mixture(mixture, positive_definite=True)  # the library accepts it


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(("k", "d"), [(1, 1), (1, 3), (4, 2), (6, 5)])
def test_random_gmm_is_a_valid_mixture(style, k, d, global_random_seed):
    mixture = make_random_gmm(k, d, style=style, random_state=global_random_seed)
    _assert_valid_mixture(mixture, k, d)


@pytest.mark.parametrize("style", STYLES)
def test_random_state_reproduces_and_seeds_differ(style):
    a = make_random_gmm(3, 2, style=style, random_state=5)
    b = make_random_gmm(3, 2, style=style, random_state=5)
    c = make_random_gmm(3, 2, style=style, random_state=6)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.allclose(a[0], c[0])
    assert not np.allclose(a[1], c[1])
    # A RandomState instance is consumed, so two calls differ.
    rng = np.random.RandomState(0)
    first, second = (
        make_random_gmm(3, 2, random_state=rng),
        make_random_gmm(3, 2, random_state=rng),
    )
    assert not np.allclose(first[0], second[0])


def _pot_reference(k, d, seed, min_cov_eig, cov_scale):
    """POT's example recipe, written out from its description."""
    rng = np.random.RandomState(seed=seed)
    means = rng.randn(k, d)
    P = rng.randn(k, d, d) * cov_scale
    covs = np.einsum("kab,kcb->kac", P, P) + min_cov_eig * np.eye(d)
    weights = rng.random_sample(k)
    return means, covs, weights / weights.sum()


# POT's example: sizes 5/6/7, means / 2 + offset, min_cov_eig 0.25, cov_scale 0.5.
POT_EXAMPLE = {
    "n_components": [5, 6, 7],
    "centers": [[-3.0, 0.0], [2.0, 0.0], [0.0, 4.0]],
    "spread": 0.5,
    "min_eigenvalue": 0.25,
    "covariance_scale": 0.5,
}


def test_pot_style_reproduces_pot_example():
    family = make_gmm_family(3, style="pot", random_state=0, **POT_EXAMPLE)
    offsets = np.asarray(POT_EXAMPLE["centers"])
    for k, (means, covs, weights) in enumerate(family):
        ref_m, ref_C, ref_w = _pot_reference([5, 6, 7][k], 2, k, 0.25, 0.5)
        np.testing.assert_allclose(
            means, ref_m / 2 + offsets[k], rtol=1e-13, atol=1e-15
        )
        np.testing.assert_allclose(covs, ref_C, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(weights, ref_w, rtol=1e-13, atol=1e-15)


def test_pot_style_defaults_are_pot_get_random_gmm_defaults():
    means, covs, weights = make_random_gmm(6, 2, style="pot", random_state=0)
    ref_m, ref_C, ref_w = _pot_reference(6, 2, 0, 1.0, 1e-2)
    np.testing.assert_allclose(means, ref_m, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(covs, ref_C, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(weights, ref_w, rtol=1e-13, atol=1e-15)


def test_ott_style_eigenvalue_law():
    """Eigenvalues are scale * exp(N(0, 1)): log-eigenvalues centred at log s."""
    _, covs, weights = make_random_gmm(
        400, 2, style="ott", covariance_scale=4.0, random_state=0
    )
    log_eig = np.log(np.linalg.eigvalsh(covs)).ravel()
    assert abs(log_eig.mean() - np.log(4.0)) < 0.15
    assert 0.85 < log_eig.std() < 1.15
    # Weights are a softmax of 0.1 * N(0, 1) logits: close to uniform.
    assert weights.max() / weights.min() < np.exp(1.0)


def test_center_and_spread_place_the_means():
    means, _, _ = make_random_gmm(
        2000, 3, center=[10.0, -5.0, 1.0], spread=0.5, random_state=0
    )
    np.testing.assert_allclose(means.mean(axis=0), [10.0, -5.0, 1.0], atol=0.05)
    np.testing.assert_allclose(means.std(axis=0), 0.5, rtol=0.1)
    flat, _, _ = make_random_gmm(5, 2, spread=0.0, center=7.0, random_state=0)
    np.testing.assert_array_equal(flat, 7.0)


def test_covariance_scale_and_floor():
    _, covs, _ = make_random_gmm(50, 3, covariance_scale=2.0, random_state=0)
    # default style: 2 * (B B^T / d + 0.1 I) has eigenvalues >= 0.2
    assert np.linalg.eigvalsh(covs).min() >= 0.2 - 1e-12
    _, covs, _ = make_random_gmm(50, 3, style="pot", min_eigenvalue=0.7, random_state=0)
    assert np.linalg.eigvalsh(covs).min() >= 0.7 - 1e-12


@pytest.mark.parametrize("style", STYLES)
def test_uniform_weights(style):
    _, _, weights = make_random_gmm(
        5, 2, style=style, weights="uniform", random_state=0
    )
    np.testing.assert_allclose(weights, 0.2, rtol=0, atol=1e-15)


def test_family_sizes_shapes_and_per_mixture_parameters():
    family = make_gmm_family(
        3,
        n_components=[2, 3, 5],
        n_features=2,
        style="ott",
        centers=[[-20, -15], [60, -15], [50, 65]],
        spread=[1.75, 2.25, 5.75],
        covariance_scale=[4, 3, 5],
        random_state=0,
    )
    assert [m.shape[0] for m, _, _ in family] == [2, 3, 5]
    for mixture, k in zip(family, [2, 3, 5], strict=True):
        _assert_valid_mixture(mixture, k, 2)
    centroids = np.array([m.mean(axis=0) for m, _, _ in family])
    assert np.all(np.abs(centroids - [[-20, -15], [60, -15], [50, 65]]) < 25)


def test_family_seeds_follow_random_state():
    family = make_gmm_family(4, n_components=2, n_features=3, random_state=10)
    assert len(family) == 4
    for i, mixture in enumerate(family):
        single = make_random_gmm(2, 3, random_state=10 + i)
        for x, y in zip(mixture, single, strict=True):
            np.testing.assert_array_equal(x, y)
    again = make_gmm_family(4, n_components=2, n_features=3, random_state=10)
    np.testing.assert_array_equal(family[3][1], again[3][1])
    other = make_gmm_family(4, n_components=2, n_features=3, random_state=11)
    assert not np.allclose(family[0][0], other[0][0])
    # Mixtures of one family differ from each other.
    assert not np.allclose(family[0][0], family[1][0])


def test_family_with_randomstate_instance():
    family = make_gmm_family(3, random_state=np.random.RandomState(0))
    assert len({m.tobytes() for m, _, _ in family}) == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_components": 0}, "n_components"),
        ({"n_components": 2.5}, "n_components"),
        ({"n_components": True}, "n_components"),
        ({"n_features": 0}, "n_features"),
        ({"style": "sklearn"}, "style"),
        ({"weights": "dirichlet"}, "weights"),
        ({"spread": -1.0}, "spread"),
        ({"spread": np.nan}, "spread"),
        ({"covariance_scale": 0.0}, "covariance_scale"),
        ({"min_eigenvalue": -0.1}, "min_eigenvalue"),
        ({"center": [1.0, 2.0, 3.0]}, "center"),
        ({"center": "middle"}, "center"),
        ({"center": [np.inf, 0.0]}, "center"),
    ],
)
def test_random_gmm_bad_arguments(kwargs, match):
    params = {"n_components": 3, "n_features": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        make_random_gmm(**params)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_mixtures": 0}, "n_mixtures"),
        ({"n_components": [2, 3]}, "n_components"),
        ({"n_components": [2, 0, 3]}, r"n_components\[1\]"),
        ({"n_components": "three"}, "n_components"),
        ({"centers": np.zeros((2, 2))}, "centers"),
        ({"spread": [1.0, 2.0]}, "spread"),
        ({"covariance_scale": [1.0, -1.0, 1.0]}, "covariance_scale"),
        ({"min_eigenvalue": [0.1] * 4}, "min_eigenvalue"),
        ({"style": "jax"}, "style"),
    ],
)
def test_family_bad_arguments(kwargs, match):
    params = {"n_mixtures": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        make_gmm_family(**params)


def test_inputs_not_modified():
    center = np.array([1.0, 2.0])
    centers = np.array([[0.0, 0.0], [5.0, 5.0]])
    spreads = [1.0, 2.0]
    sizes = [2, 3]
    make_random_gmm(3, 2, center=center, random_state=0)
    make_gmm_family(2, n_components=sizes, centers=centers, spread=spreads)
    np.testing.assert_array_equal(center, [1.0, 2.0])
    np.testing.assert_array_equal(centers, [[0.0, 0.0], [5.0, 5.0]])
    assert spreads == [1.0, 2.0] and sizes == [2, 3]


# ------------------------------------------------- make_batch_effect_samples


def test_batch_effect_samples_shapes_labels_and_determinism():
    X, groups, clusters = make_batch_effect_samples(5, 40, random_state=3)
    assert X.shape == (200, 2) and X.dtype == np.float64
    np.testing.assert_array_equal(groups, np.repeat(np.arange(5), 40))
    assert set(np.unique(clusters)) <= {0, 1, 2}
    again = make_batch_effect_samples(5, 40, random_state=3)
    for a, b in zip((X, groups, clusters), again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_batch_effect_samples_are_affine_images_of_the_clusters():
    # Without noise every group is exactly A_g c + b_g on its cluster labels:
    # three distinct points per group, related to the centres by one affine map.
    centers = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 3.0]])
    X, groups, clusters = make_batch_effect_samples(
        3, 60, centers=centers, cluster_std=0.0, random_state=0
    )
    for g in range(3):
        rows = groups == g
        Z = centers[clusters[rows]]
        lifted = np.hstack([Z, np.ones((Z.shape[0], 1))])
        coef, *_ = np.linalg.lstsq(lifted, X[rows], rcond=None)
        np.testing.assert_allclose(lifted @ coef, X[rows], atol=1e-12)
        assert not np.allclose(coef[:2], np.eye(2))  # a real batch effect


def test_batch_effect_samples_without_effects_are_the_clusters():
    X, _, clusters = make_batch_effect_samples(
        2, 500, effect_scale=0.0, shift_scale=0.0, random_state=1
    )
    centers = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 3.0]])
    for c in range(3):
        np.testing.assert_allclose(X[clusters == c].mean(axis=0), centers[c], atol=0.1)
        np.testing.assert_allclose(X[clusters == c].std(axis=0), 0.5, atol=0.06)


def test_batch_effect_samples_follow_proportions():
    _, _, clusters = make_batch_effect_samples(
        2, 5000, proportions=[0.6, 0.3, 0.1], random_state=2
    )
    np.testing.assert_allclose(
        np.bincount(clusters) / clusters.size, [0.6, 0.3, 0.1], atol=0.02
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"proportions": [0.5, 0.5]}, "proportions must be 3"),
        ({"proportions": [0.5, 0.6, -0.1]}, "proportions must be 3"),
        ({"centers": np.zeros((0, 2))}, "centers must be"),
        ({"cluster_std": -1.0}, "cluster_std"),
        ({"effect_scale": np.nan}, "effect_scale"),
        ({"n_groups": 0}, "n_groups"),
    ],
)
def test_batch_effect_samples_reject_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_batch_effect_samples(**kwargs)
