"""Matplotlib views of Gaussian mixtures, barycenters and objective curves.

Not imported by ``import skgmmot``; matplotlib is imported only when a
function is called. Ellipses show every component at a few standard
deviations, more opaque for heavier components. For mixtures in more than two
dimensions, ``dims`` picks the two features to show (the ellipses are then
the exact marginals of the components on those features).
"""

import numbers

import numpy as np

from skgmmot._validation import _is_sklearn_mixture, check_mixture

__all__ = ["plot_barycenter", "plot_gmm", "plot_loss"]

#: Opacity range of ``plot_gmm`` ellipses: lightest and heaviest component.
ALPHA_RANGE = (0.15, 0.9)
#: Opacity range of the input mixtures drawn by ``plot_barycenter``.
INPUT_ALPHA_RANGE = (0.08, 0.45)
#: Opacity range of the barycenter's outlines drawn by ``plot_barycenter``.
BARYCENTER_ALPHA_RANGE = (0.4, 1.0)


def _get_axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    return ax


def _mixture_arrays(mixture):
    """(means, covariances, weights) of a mixture, tuple or fitted estimator."""
    if _is_sklearn_mixture(mixture) or isinstance(mixture, tuple | list):
        return check_mixture(mixture, "mixture")
    fields = ("means_", "covariances_", "weights_")
    if hasattr(mixture, "fit"):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(mixture, list(fields))
        return check_mixture(tuple(getattr(mixture, f) for f in fields), "mixture")
    raise ValueError(
        "mixture must be a fitted GaussianMixture, a (means, covariances, "
        "weights) tuple or a fitted estimator with means_, covariances_ and "
        f"weights_, got {type(mixture).__name__}."
    )


def _check_dims(dims, n_features):
    """Two distinct feature indices in [0, n_features)."""
    if n_features < 2:
        raise ValueError(
            f"Plotting needs at least 2 features; the mixture has {n_features}."
        )
    try:
        pair = tuple(dims)
    except TypeError:
        pair = ()
    ok = (
        len(pair) == 2
        and all(
            isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in pair
        )
        and pair[0] != pair[1]
        and all(0 <= i < n_features for i in pair)
    )
    if not ok:
        raise ValueError(
            "dims must be two distinct feature indices in [0, "
            f"{n_features}), got {dims!r}."
        )
    return [int(i) for i in pair]


def _check_nstd(nstd):
    """Positive numbers of standard deviations, as a tuple (largest first)."""
    values = np.atleast_1d(np.asarray(nstd, dtype=object))
    ok = values.ndim == 1 and values.size > 0
    ok = ok and all(
        isinstance(v, numbers.Real)
        and not isinstance(v, bool)
        and np.isfinite(v)
        and v > 0
        for v in values
    )
    if not ok:
        raise ValueError(
            f"nstd must be a positive number or a sequence of them, got {nstd!r}."
        )
    return tuple(sorted((float(v) for v in values), reverse=True))


def _weight_alphas(weights, low, high):
    """Opacity of every component: ``low`` to ``high`` by weight / max weight.

    Components of weight zero (possible with learned weights) are not part of
    the mixture: they get opacity 0.
    """
    top = weights.max()
    relative = weights / top if top > 0 else np.ones_like(weights)
    return np.where(relative > 0, low + (high - low) * relative, 0.0)


def _check_alpha(alpha, weights):
    if alpha is None:
        return _weight_alphas(weights, *ALPHA_RANGE)
    try:
        values = np.asarray(alpha, dtype=np.float64)
    except (TypeError, ValueError):
        values = np.array(np.nan)
    if values.ndim == 0:
        values = np.full(weights.shape, float(values))
    if values.shape != weights.shape or not np.all((values >= 0) & (values <= 1)):
        raise ValueError(
            "alpha must be None, a number in [0, 1] or one such number per "
            f"component ({weights.size}), got {alpha!r}."
        )
    return values


def _ellipse_geometry(cov, nstd):
    """Width, height and angle (degrees) of the ``nstd`` ellipse of a 2x2 cov.

    The width lies along the eigenvector of the largest eigenvalue; the angle
    is that eigenvector's direction from the x axis.
    """
    vals, vecs = np.linalg.eigh(cov)
    vals = np.clip(vals, 0.0, None)
    major = vecs[:, 1]
    angle = float(np.degrees(np.arctan2(major[1], major[0])))
    return 2.0 * nstd * np.sqrt(vals[1]), 2.0 * nstd * np.sqrt(vals[0]), angle


def plot_gmm(
    mixture,
    ax=None,
    *,
    color=None,
    nstd=2.0,
    alpha=None,
    dims=(0, 1),
    label=None,
    means=True,
    **kwargs,
):
    """Draw a Gaussian mixture as one covariance ellipse per component.

    Parameters
    ----------
    mixture : GaussianMixture, tuple or fitted estimator
        A fitted :class:`sklearn.mixture.GaussianMixture` (any
        ``covariance_type``), a tuple ``(means, covariances, weights)``, or a
        fitted estimator with ``means_``, full ``covariances_`` and
        ``weights_`` (e.g. :class:`skgmmot.GMMOTBarycenter`).
    ax : matplotlib.axes.Axes, default=None
        Where to draw; None uses ``plt.gca()``.
    color : color, default=None
        Colour of all components; None takes the next colour of the property
        cycle (one per ``plot_gmm`` call on the same Axes).
    nstd : float or sequence of float, default=2.0
        Size of the ellipses in standard deviations; a sequence, e.g.
        ``(1, 2)``, draws nested ellipses per component.
    alpha : float or array-like of shape (n_components,), default=None
        Opacity of each component; None scales ``weight / max(weights)`` into
        ``ALPHA_RANGE`` (0.15 to 0.9), so heavy components stand out, and
        hides components of weight zero. Edges get this opacity, faces
        ``alpha / len(nstd)`` (nested faces add up).
    dims : pair of int, default=(0, 1)
        The two features shown (x, y), for mixtures of more than 2 features.
    label : str, default=None
        Legend label, attached to the heaviest component's outer ellipse.
    means : bool, default=True
        Mark every component's mean with a "+".
    **kwargs
        Passed to :class:`matplotlib.patches.Ellipse` (e.g. ``fill=False``,
        ``linewidth=2``, ``zorder=3``); they take precedence over the colours
        set here.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on. Its data limits include the ellipses; call
        ``ax.set_aspect("equal")`` to see their true shapes.

    Raises
    ------
    ValueError
        If the mixture is malformed, has a single feature, or ``dims``,
        ``nstd`` or ``alpha`` are invalid.
    sklearn.exceptions.NotFittedError
        If ``mixture`` is an unfitted estimator.

    See Also
    --------
    plot_barycenter : Inputs and barycenter of a fitted GMMOTBarycenter.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from skgmmot.plotting import plot_gmm
    >>> means = np.array([[0.0, 0.0], [3.0, 1.0]])
    >>> covs = np.array([np.eye(2), [[2.0, 0.5], [0.5, 1.0]]])
    >>> fig, ax = plt.subplots()
    >>> ax = plot_gmm((means, covs, np.array([0.3, 0.7])), ax, nstd=(1, 2))
    >>> len(ax.patches)  # 2 components x 2 ellipses
    4
    >>> plt.close(fig)
    """
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Ellipse

    ax = _get_axes(ax)
    m, C, w = _mixture_arrays(mixture)
    pair = _check_dims(dims, m.shape[1])
    levels = _check_nstd(nstd)
    alphas = _check_alpha(alpha, w)
    m2 = m[:, pair]
    C2 = C[:, pair][:, :, pair]
    calls = _count_gmm_calls(ax)
    if color is None:
        color = f"C{calls}"
    gid = f"skgmmot.plot_gmm:{calls}"
    heaviest = int(np.argmax(w))
    for i in range(m2.shape[0]):
        for j, level in enumerate(levels):
            width, height, angle = _ellipse_geometry(C2[i], level)
            props = {
                "facecolor": to_rgba(color, alphas[i] / len(levels)),
                "edgecolor": to_rgba(color, alphas[i]),
                "linewidth": 1.0,
            }
            props.update(kwargs)
            patch = Ellipse(
                xy=(m2[i, 0], m2[i, 1]),
                width=width,
                height=height,
                angle=angle,
                label=label if (i == heaviest and j == 0) else None,
                **props,
            )
            patch.set_gid(gid)
            ax.add_patch(patch)
    if means:
        ax.scatter(
            m2[:, 0],
            m2[:, 1],
            marker="+",
            s=60,
            c=[to_rgba(color, min(1.0, a + 0.1) if a > 0 else 0.0) for a in alphas],
            zorder=kwargs.get("zorder", 2) + 0.5,
        )
    if not ax.get_xlabel() and not ax.get_ylabel():
        ax.set_xlabel(f"feature {pair[0]}")
        ax.set_ylabel(f"feature {pair[1]}")
    ax.autoscale_view()
    return ax


def _count_gmm_calls(ax):
    """How many ``plot_gmm`` calls have drawn on ``ax`` (by their patch gids)."""
    gids = {p.get_gid() for p in ax.patches}
    return sum(1 for g in gids if g and g.startswith("skgmmot.plot_gmm:"))


def plot_barycenter(estimator, ax=None, *, dims=(0, 1), colors=None, nstd=2.0):
    """Draw the inputs of a fitted GMMOTBarycenter and the barycenter on top.

    Every input mixture (``estimator.mixtures_``) is drawn as filled, faded
    ellipses in its own colour; the barycenter as black outlines, opacity by
    weight. A legend names the inputs by their labels (``domains_``) and the
    barycenter. The aspect ratio is set equal so that shapes are true.

    Parameters
    ----------
    estimator : GMMOTBarycenter
        A fitted estimator (``mixtures_``, ``domains_``, ``means_``,
        ``covariances_``, ``weights_``).
    ax : matplotlib.axes.Axes, default=None
        Where to draw; None uses ``plt.gca()``.
    dims : pair of int, default=(0, 1)
        The two features shown.
    colors : sequence of colors, default=None
        One colour per input mixture; None uses the property cycle
        ("C0", "C1", ...).
    nstd : float or sequence of float, default=2.0
        Ellipse size(s) in standard deviations, as in :func:`plot_gmm`.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        If ``colors`` does not have one colour per input, or ``dims`` or
        ``nstd`` are invalid.

    See Also
    --------
    plot_gmm : One mixture.
    plot_loss : The objective per iteration.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skgmmot import GMMOTBarycenter
    >>> from skgmmot.datasets import make_gmm_family
    >>> from skgmmot.plotting import plot_barycenter
    >>> mixtures = make_gmm_family(2, n_components=2, random_state=0)
    >>> bary = GMMOTBarycenter(n_components=2, random_state=0).fit(mixtures)
    >>> fig, ax = plt.subplots()
    >>> ax = plot_barycenter(bary, ax)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['input 0', 'input 1', 'barycenter']
    >>> plt.close(fig)
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(
        estimator, ["means_", "covariances_", "weights_", "mixtures_", "domains_"]
    )
    mixtures = estimator.mixtures_
    K = len(mixtures)
    if colors is None:
        colors = [f"C{k}" for k in range(K)]
    else:
        colors = list(colors)
        if len(colors) != K:
            raise ValueError(
                f"colors must have one colour per input mixture ({K}), got "
                f"{len(colors)}."
            )
    ax = _get_axes(ax)
    handles = []
    for k, mixture in enumerate(mixtures):
        weights = np.asarray(mixture[2])
        plot_gmm(
            mixture,
            ax,
            color=colors[k],
            nstd=nstd,
            dims=dims,
            alpha=_weight_alphas(weights, *INPUT_ALPHA_RANGE),
        )
        handles.append(
            Patch(
                facecolor=colors[k],
                edgecolor=colors[k],
                alpha=INPUT_ALPHA_RANGE[1],
                label=f"input {estimator.domains_[k]}",
            )
        )
    plot_gmm(
        estimator,
        ax,
        color="black",
        nstd=nstd,
        dims=dims,
        alpha=_weight_alphas(np.asarray(estimator.weights_), *BARYCENTER_ALPHA_RANGE),
        fill=False,
        linewidth=2.0,
        zorder=3,
    )
    handles.append(Line2D([], [], color="black", linewidth=2.0, label="barycenter"))
    ax.legend(handles=handles, loc="best")
    ax.set_aspect("equal", adjustable="datalim")
    return ax


_CURVES = {
    "cost_curve_": ("iteration", r"objective $\Sigma_k\, \lambda_k\, MW_2^2$"),
    "loss_curve_": ("step", r"$MW_2^2$ to the target"),
}


def plot_loss(estimator, ax=None):
    r"""Plot an estimator's objective per iteration.

    Uses ``cost_curve_`` (:class:`skgmmot.GMMOTBarycenter`: the objective
    :math:`\sum_k \lambda_k MW_2^2` at the start and after every iteration) or
    ``loss_curve_`` (a flow: :math:`MW_2^2` to the target at every step). The
    y axis is logarithmic when every value is positive.

    Parameters
    ----------
    estimator : estimator
        A fitted estimator with ``cost_curve_`` or ``loss_curve_``.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; None uses ``plt.gca()``.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on; the curve is its last line.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        If the fitted estimator has neither attribute.

    See Also
    --------
    plot_barycenter : The mixtures themselves.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skgmmot import GMMOTBarycenter
    >>> from skgmmot.datasets import make_gmm_family
    >>> from skgmmot.plotting import plot_loss
    >>> bary = GMMOTBarycenter(n_components=3, random_state=0)
    >>> ax = plot_loss(bary.fit(make_gmm_family(3, random_state=0)))
    >>> ax.get_xlabel(), ax.get_yscale()
    ('iteration', 'log')
    >>> plt.close("all")
    """
    name = next((n for n in _CURVES if hasattr(estimator, n)), None)
    if name is None:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(estimator)
        raise ValueError(
            f"{type(estimator).__name__} has neither cost_curve_ nor loss_curve_; "
            "plot_loss needs an estimator that records its objective."
        )
    from matplotlib.ticker import LogFormatter, MaxNLocator

    xlabel, ylabel = _CURVES[name]
    curve = np.asarray(getattr(estimator, name), dtype=np.float64)
    ax = _get_axes(ax)
    ax.plot(np.arange(curve.size), curve, marker="o" if curve.size <= 50 else None)
    if curve.size and np.all(curve > 0):
        ax.set_yscale("log")
        if curve.max() < 10 * curve.min():
            # Within a decade: plain numbers ("9", "12") rather than "9x10^0".
            ax.yaxis.set_major_formatter(LogFormatter())
            ax.yaxis.set_minor_formatter(
                LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5))
            )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax
