"""Matplotlib views of Gaussian mixtures, barycenters, flows and objective curves.

Not imported by ``import skgmmot``; matplotlib is imported only when a
function is called. Ellipses show every component at a few standard
deviations, more opaque for heavier components. For mixtures in more than two
dimensions, ``dims`` picks the two features to show (the ellipses are then
the exact marginals of the components on those features).
"""

import numbers

import numpy as np

from skgmmot._validation import _is_sklearn_mixture, check_mixture

__all__ = ["plot_barycenter", "plot_flow", "plot_gmm", "plot_loss"]

#: Opacity range of ``plot_gmm`` ellipses: lightest and heaviest component.
ALPHA_RANGE = (0.15, 0.9)
#: Opacity range of the input mixtures drawn by ``plot_barycenter``.
INPUT_ALPHA_RANGE = (0.08, 0.45)
#: Opacity range of the barycenter's outlines drawn by ``plot_barycenter``.
BARYCENTER_ALPHA_RANGE = (0.4, 1.0)
#: Opacity range of the flow's outlines drawn by ``plot_flow`` (at every step).
FLOW_ALPHA_RANGE = (0.3, 1.0)
#: Number of steps ``plot_flow`` draws by default (first and last included).
FLOW_DEFAULT_STEPS = 6


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
    plot_flow : A fitted GMMOTFlow, step by step.

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

    from skgmmot._base import check_fitted

    # Unfitted (or fitted with other parameters): NotFittedError. Fitted but
    # not a barycenter (a GaussianMixture, a flow): ValueError, rather than
    # calling it unfitted.
    check_fitted(estimator)
    required = ["means_", "covariances_", "weights_", "mixtures_", "domains_"]
    missing = [name for name in required if not hasattr(estimator, name)]
    if missing:
        raise ValueError(
            f"{type(estimator).__name__} has no {', '.join(missing)}; "
            "plot_barycenter needs a fitted GMMOTBarycenter."
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


_PATH_FIELDS = ("means_path_", "covariances_path_", "weights_path_")


def _flow_paths(estimator):
    """Return the recorded (means, covariances, weights) paths of a flow."""
    from skgmmot._base import check_fitted

    check_fitted(estimator)
    missing = [f for f in _PATH_FIELDS if not hasattr(estimator, f)]
    if missing:
        raise ValueError(
            f"{type(estimator).__name__} has no {', '.join(missing)}; plot_flow "
            "needs the recorded paths of a fitted flow."
        )
    means, covs, weights = (
        np.asarray(getattr(estimator, f), dtype=np.float64) for f in _PATH_FIELDS
    )
    ok = means.ndim == 3 and means.shape[0] >= 1
    if ok:
        n_rec, k, d = means.shape
        ok = covs.shape == (n_rec, k, d, d) and weights.shape == (n_rec, k)
    if not ok:
        raise ValueError(
            "means_path_, covariances_path_ and weights_path_ must have shapes "
            "(S+1, k, d), (S+1, k, d, d) and (S+1, k), got "
            f"{means.shape}, {covs.shape} and {weights.shape}."
        )
    return means, covs, weights


def _check_steps(steps, n_recorded):
    """Sorted distinct step indices in [0, n_recorded) chosen by ``steps``."""
    last = n_recorded - 1
    if steps is None:
        steps = FLOW_DEFAULT_STEPS
    if isinstance(steps, numbers.Integral) and not isinstance(steps, bool):
        if steps < 1:
            raise ValueError(f"steps must be a count >= 1, got {steps}.")
        if steps == 1:
            return np.array([last])
        return np.unique(np.round(np.linspace(0, last, steps)).astype(np.intp))
    try:
        values = list(steps)
    except TypeError:
        values = None
    ok = (
        values is not None
        and len(values) > 0
        and all(
            isinstance(v, numbers.Integral)
            and not isinstance(v, bool)
            and -n_recorded <= v <= last
            for v in values
        )
    )
    if not ok:
        raise ValueError(
            "steps must be None, a count >= 1 or a non-empty sequence of step "
            f"indices in [-{n_recorded}, {last}] (the flow recorded "
            f"{n_recorded} states), got {steps!r}."
        )
    return np.unique(np.mod(np.asarray(values, dtype=np.intp), n_recorded))


def plot_flow(estimator, ax=None, *, steps=None, dims=(0, 1), cmap="viridis", nstd=2.0):
    """Draw a fitted flow: the mixture at several steps, coloured by time.

    The mixture recorded at each selected step is drawn as ellipse outlines
    in the colour of its time ``t = step / S`` (``S + 1`` recorded states, so
    ``t = 1`` is the final state, the one ``transform(X, t=1)`` reaches),
    more opaque for heavier components at that step. The target mixture
    (``estimator.target_``, when present) is drawn as dashed black outlines,
    the path of every component's mean over all recorded steps as a line
    coloured by time, and a colorbar labelled "t" maps colours to times.
    The aspect ratio is set equal so that shapes are true.

    Only the recorded paths are used (``means_path_``, ``covariances_path_``,
    ``weights_path_``), so any estimator with these attributes can be drawn.
    For ``method="geodesic"`` the components are the pairs of the optimal
    plan's support.

    Parameters
    ----------
    estimator : GMMOTFlow
        A fitted :class:`skgmmot.GMMOTFlow`, or any fitted scikit-learn
        estimator with the path attributes, of shapes (S+1, k, d),
        (S+1, k, d, d) and (S+1, k), and optionally ``target_`` (a mixture).
    ax : matplotlib.axes.Axes, default=None
        Where to draw; None uses ``plt.gca()``.
    steps : int or sequence of int, default=None
        Which recorded steps to draw: a count (evenly spaced, first and last
        included; at most the ``S + 1`` recorded states; 1 draws the final
        state only) or a sequence of step indices (negative indices count
        from the end, as in Python). None draws 6 evenly spaced steps.
    dims : pair of int, default=(0, 1)
        The two features shown (x, y), for flows of more than 2 features.
    cmap : str or matplotlib.colors.Colormap, default="viridis"
        The colormap of times, from ``t = 0`` (source) to ``t = 1``.
    nstd : float or sequence of float, default=2.0
        Ellipse size(s) in standard deviations, as in :func:`plot_gmm`.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on (the colorbar gets an Axes of its own). Its aspect
        is equal with adjustable data limits; to impose limits, call
        ``ax.set_adjustable("box")`` before ``ax.set_xlim`` and
        ``ax.set_ylim``.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        If ``steps``, ``dims``, ``nstd`` or ``cmap`` are invalid, or the path
        attributes are missing or of inconsistent shapes.

    See Also
    --------
    plot_gmm : One mixture.
    plot_loss : The flow's loss per step (``loss_curve_``).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skgmmot import GMMOTFlow
    >>> from skgmmot.datasets import make_random_gmm
    >>> from skgmmot.plotting import plot_flow
    >>> source = make_random_gmm(3, 2, random_state=0)
    >>> target = make_random_gmm(2, 2, center=4.0, random_state=1)
    >>> flow = GMMOTFlow(target, n_steps=50, tol=1e-2).fit(source)
    >>> fig, ax = plt.subplots()
    >>> ax = plot_flow(flow, ax, steps=4)
    >>> len(ax.patches)  # 4 steps x 3 components + 2 target components
    14
    >>> fig.axes[-1].get_ylabel()  # the colorbar
    't'
    >>> plt.close(fig)
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    means, covs, weights = _flow_paths(estimator)
    n_recorded = means.shape[0]
    pair = _check_dims(dims, means.shape[2])
    levels = _check_nstd(nstd)
    chosen = _check_steps(steps, n_recorded)
    mappable = ScalarMappable(norm=Normalize(0.0, 1.0), cmap=cmap)
    times = np.arange(n_recorded) / max(n_recorded - 1, 1)
    ax = _get_axes(ax)

    for s in chosen:
        plot_gmm(
            (means[s], covs[s], weights[s]),
            ax,
            color=mappable.to_rgba(times[s]),
            nstd=levels,
            dims=pair,
            alpha=_weight_alphas(weights[s], *FLOW_ALPHA_RANGE),
            means=False,
            fill=False,
            linewidth=1.5,
            zorder=2,
        )
    handles = []
    target = getattr(estimator, "target_", None)
    if target is not None:
        plot_gmm(
            target,
            ax,
            color="black",
            nstd=levels,
            dims=pair,
            alpha=_weight_alphas(np.asarray(target[2]), *BARYCENTER_ALPHA_RANGE),
            fill=False,
            linestyle="--",
            linewidth=1.5,
            zorder=3,
        )
        handles.append(Line2D([], [], color="black", linestyle="--", label="target"))

    # Mean trajectories over every recorded step: one segment per step,
    # coloured by the time at its middle.
    xy = means[:, :, pair]
    if n_recorded > 1:
        segments = np.stack([xy[:-1], xy[1:]], axis=2)  # (S, k, 2, 2)
        mid = 0.5 * (times[:-1] + times[1:])
        lines = LineCollection(
            segments.transpose(1, 0, 2, 3).reshape(-1, 2, 2),
            colors=mappable.to_rgba(np.tile(mid, xy.shape[1])),
            linewidths=1.5,
            zorder=2.5,
        )
        ax.add_collection(lines)
        handles.append(Line2D([], [], color=mappable.to_rgba(0.0), label="mean paths"))
    shown = xy[chosen].reshape(-1, 2)
    ax.scatter(
        shown[:, 0],
        shown[:, 1],
        c=mappable.to_rgba(np.repeat(times[chosen], xy.shape[1])),
        s=12,
        zorder=2.6,
    )

    ax.figure.colorbar(mappable, ax=ax, label="t")
    if handles:
        ax.legend(handles=handles, loc="best")
    ax.set_aspect("equal", adjustable="datalim")
    ax.autoscale_view()
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
    plot_flow : The mixtures of a flow, step by step.

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
