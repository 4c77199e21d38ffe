"""skgmmot.plotting: ellipse geometry, opacity by weight, projections, errors."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.patches import Ellipse
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture

from skgmmot import GMMOTBarycenter
from skgmmot.datasets import make_gmm_family, make_random_gmm
from skgmmot.plotting import plot_barycenter, plot_flow, plot_gmm, plot_loss


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def ax():
    _, ax = plt.subplots()
    return ax


def _ellipses(ax):
    return [p for p in ax.patches if isinstance(p, Ellipse)]


def _fitted_barycenter(K=3, k=3, **kwargs):
    mixtures = make_gmm_family(K, n_components=k, random_state=0)
    return GMMOTBarycenter(n_components=k, random_state=0, **kwargs).fit(mixtures)


@pytest.mark.parametrize("nstd", [1.0, (1, 2), [0.5, 1.0, 3.0]])
@pytest.mark.parametrize("k", [1, 4])
def test_one_ellipse_per_component_and_level(ax, k, nstd):
    out = plot_gmm(make_random_gmm(k, 2, random_state=0), ax, nstd=nstd)
    assert out is ax
    assert len(_ellipses(ax)) == k * len(np.atleast_1d(nstd))
    assert len(ax.collections) == 1  # the mean markers
    np.testing.assert_allclose(
        ax.collections[0].get_offsets(), make_random_gmm(k, 2, random_state=0)[0]
    )


def test_ellipse_geometry_matches_eigendecomposition(ax):
    # Eigenvalues 9 and 1, major axis at 30 degrees.
    theta = np.radians(30.0)
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    cov = R @ np.diag([9.0, 1.0]) @ R.T
    mixture = (np.array([[1.0, -2.0]]), cov[None], np.array([1.0]))
    plot_gmm(mixture, ax, nstd=(1.0, 2.0))
    big, small = _ellipses(ax)
    np.testing.assert_allclose(big.center, [1.0, -2.0])
    np.testing.assert_allclose([big.width, big.height], [2 * 2 * 3.0, 2 * 2 * 1.0])
    np.testing.assert_allclose([small.width, small.height], [2 * 3.0, 2 * 1.0])
    # An ellipse's angle is defined modulo 180 degrees.
    assert np.isclose(np.mod(big.angle, 180.0), 30.0)
    assert np.isclose(np.mod(small.angle, 180.0), 30.0)


def test_ellipse_geometry_random_covariance(ax, global_random_seed):
    means, covs, weights = make_random_gmm(3, 2, random_state=global_random_seed)
    plot_gmm((means, covs, weights), ax, nstd=1.5)
    for ell, cov in zip(_ellipses(ax), covs, strict=True):
        # The ellipse {x: x^T cov^-1 x = 1.5^2} has semi-axes 1.5 sqrt(eig).
        vals, vecs = np.linalg.eigh(cov)
        np.testing.assert_allclose(
            [ell.width, ell.height], 2 * 1.5 * np.sqrt(vals[::-1]), rtol=1e-12
        )
        t = np.radians(ell.angle)
        direction = np.array([np.cos(t), np.sin(t)])
        assert abs(abs(direction @ vecs[:, 1]) - 1.0) < 1e-10
        # A point on the drawn boundary has Mahalanobis radius 1.5.
        point = direction * ell.width / 2
        assert np.isclose(np.sqrt(point @ np.linalg.solve(cov, point)), 1.5)


def test_alpha_follows_weights(ax):
    means = np.array([[0.0, 0.0], [5.0, 0.0], [10.0, 0.0]])
    covs = np.stack([np.eye(2)] * 3)
    weights = np.array([0.2, 0.7, 0.1])
    plot_gmm((means, covs, weights), ax, color="C0")
    alphas = [e.get_edgecolor()[3] for e in _ellipses(ax)]
    assert alphas[1] > alphas[0] > alphas[2]
    np.testing.assert_allclose(alphas[1], 0.9)
    assert min(alphas) >= 0.15
    # Faces are as opaque as edges with one level of nstd.
    np.testing.assert_allclose([e.get_facecolor()[3] for e in _ellipses(ax)], alphas)


def test_zero_weight_components_are_hidden(ax):
    means = np.array([[0.0, 0.0], [5.0, 0.0]])
    plot_gmm((means, np.stack([np.eye(2)] * 2), np.array([1.0, 0.0])), ax)
    assert [e.get_edgecolor()[3] for e in _ellipses(ax)] == [0.9, 0.0]
    assert ax.collections[0].get_facecolors()[1][3] == 0.0


def test_explicit_alpha_and_per_component_alpha(ax):
    mixture = make_random_gmm(3, 2, random_state=0)
    plot_gmm(mixture, ax, alpha=0.3, nstd=(1, 2))
    edges = [e.get_edgecolor()[3] for e in _ellipses(ax)]
    faces = [e.get_facecolor()[3] for e in _ellipses(ax)]
    np.testing.assert_allclose(edges, 0.3)
    np.testing.assert_allclose(faces, 0.15)
    _, ax2 = plt.subplots()
    plot_gmm(mixture, ax2, alpha=[0.1, 0.5, 1.0])
    np.testing.assert_allclose(
        [e.get_edgecolor()[3] for e in _ellipses(ax2)], [0.1, 0.5, 1.0]
    )


def test_colour_cycle_and_label(ax):
    a = make_random_gmm(2, 2, random_state=0)
    b = make_random_gmm(3, 2, random_state=1)
    plot_gmm(a, ax, label="a")
    plot_gmm(b, ax, label="b")
    plot_gmm(b, ax, color="red")
    colours = [matplotlib.colors.to_hex(e.get_edgecolor()) for e in _ellipses(ax)]
    c0, c1 = (matplotlib.colors.to_hex(c) for c in ("C0", "C1"))
    assert colours == [c0] * 2 + [c1] * 3 + ["#ff0000"] * 3
    handles, labels = ax.get_legend_handles_labels()
    assert labels == ["a", "b"]
    # The label sits on the heaviest component.
    heaviest = int(np.argmax(b[2]))
    assert handles[1] is _ellipses(ax)[2 + heaviest]


def test_kwargs_reach_the_ellipses(ax):
    plot_gmm(make_random_gmm(2, 2, random_state=0), ax, fill=False, linewidth=3)
    for ell in _ellipses(ax):
        assert not ell.get_fill()
        assert ell.get_linewidth() == 3


def test_means_false_draws_no_markers(ax):
    plot_gmm(make_random_gmm(2, 2, random_state=0), ax, means=False)
    assert len(ax.collections) == 0


def test_limits_contain_the_ellipses(ax):
    means = np.array([[100.0, -50.0]])
    covs = np.diag([4.0, 1.0])[None]
    plot_gmm((means, covs, np.ones(1)), ax, nstd=3.0, means=False)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    assert x0 <= 100 - 6 and x1 >= 100 + 6
    assert y0 <= -50 - 3 and y1 >= -50 + 3


def test_projection_from_three_dimensions(ax):
    means = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    base = np.array([[4.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 9.0]])
    covs = np.stack([base, 2.0 * base])
    plot_gmm((means, covs, np.array([0.5, 0.5])), ax, dims=(2, 0), nstd=1.0)
    first, second = _ellipses(ax)
    np.testing.assert_allclose(first.center, [3.0, 1.0])
    np.testing.assert_allclose(second.center, [6.0, 4.0])
    sub = base[np.ix_([2, 0], [2, 0])]  # [[9, 1], [1, 4]]
    vals = np.linalg.eigvalsh(sub)
    np.testing.assert_allclose([first.width, first.height], 2 * np.sqrt(vals[::-1]))
    np.testing.assert_allclose(
        [second.width, second.height], 2 * np.sqrt(2 * vals[::-1])
    )
    assert ax.get_xlabel() == "feature 2" and ax.get_ylabel() == "feature 0"


def test_one_feature_is_refused(ax):
    mixture = (np.zeros((2, 1)), np.ones((2, 1, 1)), np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="at least 2 features"):
        plot_gmm(mixture, ax)


@pytest.mark.parametrize("dims", [(0, 0), (0, 3), (-1, 0), (0,), (0, 1, 2), "xy", 1])
def test_bad_dims(ax, dims):
    with pytest.raises(ValueError, match="dims"):
        plot_gmm(make_random_gmm(2, 3, random_state=0), ax, dims=dims)


@pytest.mark.parametrize("nstd", [0, -1, [], [1, 0], "two", np.nan])
def test_bad_nstd(ax, nstd):
    with pytest.raises(ValueError, match="nstd"):
        plot_gmm(make_random_gmm(2, 2, random_state=0), ax, nstd=nstd)


@pytest.mark.parametrize("alpha", [1.5, -0.1, [0.5, 0.5], "half"])
def test_bad_alpha(ax, alpha):
    with pytest.raises(ValueError, match="alpha"):
        plot_gmm(make_random_gmm(3, 2, random_state=0), ax, alpha=alpha)


def test_malformed_mixture_is_refused(ax):
    means, covs, weights = make_random_gmm(2, 2, random_state=0)
    with pytest.raises(ValueError, match="weights"):
        plot_gmm((means, covs, 2 * weights), ax)
    with pytest.raises(ValueError, match="mixture must be"):
        plot_gmm("gmm", ax)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_all_covariance_types(ax, covariance_type):
    rng = np.random.RandomState(0)
    X = np.vstack(
        [rng.randn(100, 2) * [2.0, 0.5], rng.randn(100, 2) + np.array([6.0, 0.0])]
    )
    gmm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    plot_gmm(gmm, ax, nstd=1.0)
    ells = _ellipses(ax)
    assert len(ells) == 2
    full = gmm.covariances_
    if covariance_type == "tied":
        full = np.stack([full] * 2)
    elif covariance_type == "diag":
        full = np.stack([np.diag(c) for c in full])
    elif covariance_type == "spherical":
        full = np.stack([c * np.eye(2) for c in full])
    for ell, cov, mean in zip(ells, full, gmm.means_, strict=True):
        np.testing.assert_allclose(ell.center, mean)
        vals = np.linalg.eigvalsh(cov)[::-1]
        np.testing.assert_allclose([ell.width, ell.height], 2 * np.sqrt(vals))


def test_unfitted_estimators_raise(ax):
    with pytest.raises(NotFittedError):
        plot_gmm(GaussianMixture(2), ax)
    with pytest.raises(NotFittedError):
        plot_gmm(GMMOTBarycenter(), ax)


def test_fitted_estimator_as_mixture(ax):
    bary = _fitted_barycenter()
    plot_gmm(bary, ax)
    centres = np.array([e.center for e in _ellipses(ax)])
    np.testing.assert_allclose(centres, bary.means_)


def test_inputs_not_modified(ax):
    means, covs, weights = make_random_gmm(3, 3, random_state=0)
    copies = [a.copy() for a in (means, covs, weights)]
    alpha = np.array([0.2, 0.4, 0.6])
    plot_gmm((means, covs, weights), ax, dims=(1, 2), alpha=alpha, nstd=[2, 1])
    for arr, copy in zip((means, covs, weights), copies, strict=True):
        np.testing.assert_array_equal(arr, copy)
    np.testing.assert_array_equal(alpha, [0.2, 0.4, 0.6])
    bary = _fitted_barycenter()
    before = [m.copy() for mixture in bary.mixtures_ for m in mixture]
    means_before = bary.means_.copy()
    plot_barycenter(bary, ax)
    after = [m for mixture in bary.mixtures_ for m in mixture]
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(bary.means_, means_before)


def test_uses_current_axes_when_none_given():
    fig, ax = plt.subplots()
    assert plot_gmm(make_random_gmm(2, 2, random_state=0)) is ax
    assert plot_loss(_fitted_barycenter()) is ax
    assert fig.axes == [ax]


def test_plot_barycenter(ax):
    bary = _fitted_barycenter(K=3, k=2)
    assert plot_barycenter(bary, ax, nstd=(1, 2)) is ax
    ells = _ellipses(ax)
    sizes = [m.shape[0] for m, _, _ in bary.mixtures_]
    assert len(ells) == 2 * (sum(sizes) + bary.n_components)
    hexes = [matplotlib.colors.to_hex(e.get_edgecolor()) for e in ells]
    expected = []
    for k, size in enumerate(sizes):
        expected += [matplotlib.colors.to_hex(f"C{k}")] * (2 * size)
    expected += ["#000000"] * (2 * bary.n_components)
    assert hexes == expected
    # Inputs faded and filled, barycenter outlined on top.
    bary_ells = ells[-2 * bary.n_components :]
    assert all(not e.get_fill() and e.get_zorder() > 1 for e in bary_ells)
    assert max(e.get_edgecolor()[3] for e in ells[: -len(bary_ells)]) <= 0.45
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["input 0", "input 1", "input 2", "barycenter"]
    assert ax.get_aspect() == 1.0


def test_plot_barycenter_colours_dims_and_sample_mode(ax):
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(80, 3), rng.randn(80, 3) + 3.0])
    groups = np.repeat([7, 9], 80)
    bary = GMMOTBarycenter(n_components=2, random_state=0).fit(X, sample_domain=groups)
    plot_barycenter(bary, ax, colors=["red", "blue"], dims=(2, 1))
    hexes = {matplotlib.colors.to_hex(e.get_edgecolor()) for e in _ellipses(ax)}
    assert hexes == {"#ff0000", "#0000ff", "#000000"}
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["input 7", "input 9", "barycenter"]
    centres = np.array([e.center for e in _ellipses(ax)])[-2:]
    np.testing.assert_allclose(centres, bary.means_[:, [2, 1]])


def test_plot_barycenter_errors(ax):
    with pytest.raises(NotFittedError):
        plot_barycenter(GMMOTBarycenter(), ax)
    bary = _fitted_barycenter()
    with pytest.raises(ValueError, match="colors"):
        plot_barycenter(bary, ax, colors=["red"])
    with pytest.raises(ValueError, match="dims"):
        plot_barycenter(bary, ax, dims=(0, 2))


def test_plot_loss_draws_cost_curve(ax):
    bary = _fitted_barycenter(init="random")
    assert plot_loss(bary, ax) is ax
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_ydata(), bary.cost_curve_)
    np.testing.assert_array_equal(line.get_xdata(), np.arange(bary.n_iter_ + 1))
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "iteration" and "objective" in ax.get_ylabel()


class _Flow:
    """Stands in for a fitted flow estimator (it records ``loss_curve_``)."""

    def __init__(self, curve):
        self.loss_curve_ = np.asarray(curve)

    def fit(self, X):
        return self


def test_plot_loss_draws_loss_curve_and_linear_scale_at_zero(ax):
    plot_loss(_Flow([4.0, 1.0, 0.0]), ax)
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_ydata(), [4.0, 1.0, 0.0])
    assert ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "step"


def test_plot_loss_errors(ax):
    with pytest.raises(NotFittedError):
        plot_loss(GMMOTBarycenter(), ax)
    gmm = GaussianMixture(1).fit(np.random.RandomState(0).randn(20, 2))
    with pytest.raises(ValueError, match="cost_curve_"):
        plot_loss(gmm, ax)


# ----------------------------------------------------------------- plot_flow


class _FakeFlow(BaseEstimator):
    """A fitted flow's attributes: straight lines between two mixtures.

    Component ``i`` moves from source component ``i`` to another mixture's
    component ``i`` in ``n_steps`` equal steps (means, covariances and weights
    interpolated linearly), so the state recorded at step ``s`` is known.
    """

    def fit(self, X=None):
        return self


def _fake_flow(k=3, d=2, n_steps=10, seed=0, target=True):
    flow = _FakeFlow()
    flow.source_ = make_random_gmm(k, d, random_state=seed)
    end = make_random_gmm(k, d, center=5.0, random_state=seed + 1)
    t = np.linspace(0.0, 1.0, n_steps + 1)
    flow.means_path_, flow.covariances_path_, flow.weights_path_ = (
        (1 - t.reshape((-1,) + (1,) * a.ndim)) * a
        + t.reshape((-1,) + (1,) * a.ndim) * b
        for a, b in zip(flow.source_, end, strict=True)
    )
    if target:
        flow.target_ = make_random_gmm(2, d, center=5.0, random_state=seed + 2)
    return flow


def _colorbar_axes(fig, ax):
    return [other for other in fig.axes if other is not ax]


def test_plot_flow_artists(ax):
    flow = _fake_flow(k=3, n_steps=10)
    assert plot_flow(flow, ax, steps=4, nstd=(1, 2)) is ax
    ells = _ellipses(ax)
    # 4 steps x 3 components x 2 levels, then 2 target components x 2 levels.
    assert len(ells) == 4 * 3 * 2 + 2 * 2
    assert all(not e.get_fill() for e in ells)
    target = ells[-4:]
    assert all(matplotlib.colors.to_hex(e.get_edgecolor()) == "#000000" for e in target)
    assert all(e.get_linestyle() == "--" for e in target)
    assert all(e.get_linestyle() in ("-", "solid") for e in ells[:-4])
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(lines.get_segments()) == 3 * 10  # every step of every component
    (cbar_ax,) = _colorbar_axes(ax.figure, ax)
    assert cbar_ax.get_ylabel() == "t"
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["target", "mean paths"]
    assert ax.get_aspect() == 1.0


def test_plot_flow_default_steps_and_geometry(ax):
    flow = _fake_flow(k=2, n_steps=50)
    plot_flow(flow, ax, nstd=1.0)
    ells = _ellipses(ax)[:-2]  # without the target
    assert len(ells) == 6 * 2
    expected_steps = [0, 10, 20, 30, 40, 50]
    centres = np.array([e.center for e in ells]).reshape(6, 2, 2)
    np.testing.assert_allclose(centres, flow.means_path_[expected_steps])
    covs = flow.covariances_path_[expected_steps].reshape(-1, 2, 2)
    for ell, cov in zip(ells, covs, strict=True):
        vals = np.linalg.eigvalsh(cov)[::-1]
        np.testing.assert_allclose([ell.width, ell.height], 2 * np.sqrt(vals))


def test_plot_flow_colours_increase_with_time(ax):
    flow = _fake_flow(k=2, n_steps=20)
    plot_flow(flow, ax, steps=[0, 5, 10, 20], cmap="viridis")
    cmap = matplotlib.colormaps["viridis"]
    lut = cmap(np.linspace(0.0, 1.0, cmap.N))[:, :3]

    def time_of(rgba):  # position of a colour in the colormap
        return np.argmin(np.sum((lut - np.asarray(rgba)[:3]) ** 2, axis=1)) / (
            cmap.N - 1
        )

    ells = _ellipses(ax)[:-2]
    t = np.array([time_of(e.get_edgecolor()) for e in ells]).reshape(4, 2)
    np.testing.assert_allclose(
        t, np.repeat([[0.0], [0.25], [0.5], [1.0]], 2, 1), atol=0.01
    )
    # The mean paths get later colours further along.
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    seg_t = [time_of(c) for c in lines.get_colors()[:20]]  # component 0
    assert np.all(np.diff(seg_t) >= 0) and seg_t[-1] > seg_t[0]


def test_plot_flow_opacity_follows_weights_at_each_step(ax):
    flow = _fake_flow(k=3, n_steps=4)
    plot_flow(flow, ax, steps=[0, 4], nstd=1.0)
    alphas = np.array([e.get_edgecolor()[3] for e in _ellipses(ax)[:-2]]).reshape(2, 3)
    for row, w in zip(alphas, flow.weights_path_[[0, 4]], strict=True):
        assert np.argmax(row) == np.argmax(w) and np.argmin(row) == np.argmin(w)
        np.testing.assert_allclose(row.max(), 1.0)


def test_plot_flow_projects_three_dimensions(ax):
    flow = _fake_flow(k=2, d=3, n_steps=6)
    plot_flow(flow, ax, steps=[1, -1], dims=(2, 0), nstd=1.0)
    ells = _ellipses(ax)
    centres = np.array([e.center for e in ells[:4]]).reshape(2, 2, 2)
    np.testing.assert_allclose(centres, flow.means_path_[[1, 6]][:, :, [2, 0]])
    sub = flow.covariances_path_[6, 1][np.ix_([2, 0], [2, 0])]
    np.testing.assert_allclose(
        [ells[3].width, ells[3].height], 2 * np.sqrt(np.linalg.eigvalsh(sub)[::-1])
    )
    np.testing.assert_allclose([e.center for e in ells[4:]], flow.target_[0][:, [2, 0]])
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    np.testing.assert_allclose(
        lines.get_segments()[0], flow.means_path_[[0, 1], 0][:, [2, 0]]
    )
    assert ax.get_xlabel() == "feature 2" and ax.get_ylabel() == "feature 0"


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (1, [10]),
        (2, [0, 10]),
        (3, [0, 5, 10]),
        (50, list(range(11))),
        ([-1, 0, 0], [0, 10]),
    ],
)
def test_plot_flow_step_selection(ax, steps, expected):
    flow = _fake_flow(k=1, n_steps=10, target=False)
    plot_flow(flow, ax, steps=steps, nstd=1.0)
    centres = np.array([e.center for e in _ellipses(ax)])
    np.testing.assert_allclose(centres, flow.means_path_[expected, 0])
    # Without target_, only the mean paths are in the legend.
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["mean paths"]


@pytest.mark.parametrize(
    "steps", [0, -2, [], [0, 11], [-12], [1.5], [True], 2.0, "all", [[0, 1]]]
)
def test_plot_flow_bad_steps(ax, steps):
    with pytest.raises(ValueError, match="steps"):
        plot_flow(_fake_flow(n_steps=10), ax, steps=steps)


def test_plot_flow_bad_arguments(ax):
    flow = _fake_flow(d=3)
    with pytest.raises(ValueError, match="dims"):
        plot_flow(flow, ax, dims=(0, 3))
    with pytest.raises(ValueError, match="nstd"):
        plot_flow(flow, ax, nstd=0)
    with pytest.raises(ValueError):
        plot_flow(flow, ax, cmap="not-a-colormap")
    flow.weights_path_ = flow.weights_path_[:, :2]
    with pytest.raises(ValueError, match="weights_path_"):
        plot_flow(flow, ax)
    del flow.covariances_path_
    with pytest.raises(ValueError, match="covariances_path_"):
        plot_flow(flow, ax)


def test_plot_flow_not_fitted(ax):
    with pytest.raises(NotFittedError):
        plot_flow(_FakeFlow(), ax)
    with pytest.raises(NotFittedError):
        plot_flow(GMMOTBarycenter(), ax)


def test_plot_flow_does_not_modify_the_estimator(ax):
    flow = _fake_flow(k=2, n_steps=5)
    fields = ("means_path_", "covariances_path_", "weights_path_")
    before = [np.copy(getattr(flow, f)) for f in fields]
    target = [a.copy() for a in flow.target_]
    plot_flow(flow, ax)
    for f, b in zip(fields, before, strict=True):
        np.testing.assert_array_equal(getattr(flow, f), b)
    for a, b in zip(flow.target_, target, strict=True):
        np.testing.assert_array_equal(a, b)


def test_plot_flow_uses_current_axes():
    fig, ax = plt.subplots()
    assert plot_flow(_fake_flow()) is ax
    assert len(fig.axes) == 2  # the Axes and its colorbar
