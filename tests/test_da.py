"""GMM-OTDA adapters (skgmmot.da), with and without skada."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from skgmmot.da import GMMOTLabelPropAdapter, GMMOTMappingAdapter


@pytest.fixture(autouse=True)
def _restore_metadata_routing():
    """Importing skada turns metadata routing on for the process; undo it."""
    import sklearn

    before = sklearn.get_config()["enable_metadata_routing"]
    yield
    sklearn.set_config(enable_metadata_routing=before)


@pytest.fixture
def skada_routing():
    """skada, with scikit-learn's metadata routing on (as importing skada does)."""
    import sklearn

    skada = pytest.importorskip("skada")
    sklearn.set_config(enable_metadata_routing=True)
    return skada


def _domains(seed=0, n=150, proportions=(0.5, 0.5), target_proportions=None):
    """Two classes of two clusters each; the target is an affine image.

    The batch effect (rotation, anisotropic scaling, a shift of 6) is as large
    as the clusters' separation.
    """
    rng = np.random.RandomState(seed)
    centres = {0: [[0.0, 0.0], [0.0, 5.0]], 1: [[5.0, 0.0], [5.0, 5.0]]}

    def draw(props, m):
        X, y = [], []
        for label, p in enumerate(props):
            count = round(p * m)
            which = rng.randint(2, size=count)
            pts = np.asarray(centres[label])[which] + 0.7 * rng.randn(count, 2)
            X.append(pts)
            y.append(np.full(count, label))
        return np.vstack(X), np.concatenate(y)

    Xs, ys = draw(proportions, 2 * n)
    Xt, yt = draw(target_proportions or proportions, 2 * n)
    angle = 0.6
    A = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    Xt = Xt @ (A * [1.3, 0.8]).T + [6.0, -6.0]
    X = np.vstack([Xs, Xt])
    y_true = np.concatenate([ys, yt])
    y = y_true.copy()
    y[len(ys) :] = -1
    domain = np.concatenate([np.ones(len(ys), int), -2 * np.ones(len(yt), int)])
    return X, y, domain, y_true


def _target_accuracy(X_train, y_train, X, domain, y_true):
    clf = SVC().fit(X_train, y_train)
    target = domain < 0
    return float(np.mean(clf.predict(X[target]) == y_true[target]))


def test_mapping_aligns_the_classes():
    X, y, domain, y_true = _domains()
    adapter = GMMOTMappingAdapter(2, random_state=0)
    X_adapted = adapter.fit_transform(X, y, sample_domain=domain)
    source, target = domain >= 0, domain < 0
    np.testing.assert_array_equal(X_adapted[target], X[target])
    # Source-only training fails under this shift; the mapped source works.
    assert _target_accuracy(X[source], y[source], X, domain, y_true) < 0.8
    mapped = _target_accuracy(X_adapted[source], y[source], X, domain, y_true)
    assert mapped > 0.95
    for label in (0, 1):
        moved = X_adapted[source & (y_true == label)].mean(axis=0)
        truth = X[target & (y_true == label)].mean(axis=0)
        # (the clusters are 5 apart, the batch effect moves them by 8)
        assert np.linalg.norm(moved - truth) < 1.5
    assert adapter.plan_.shape == (4, 4)
    np.testing.assert_allclose(adapter.plan_.sum(), 1.0)


def test_transform_moves_source_and_passes_target():
    X, y, domain, _ = _domains(1)
    adapter = GMMOTMappingAdapter(2, random_state=0).fit(X, y, sample_domain=domain)
    target = domain < 0
    np.testing.assert_array_equal(adapter.transform(X[target]), X[target])
    with pytest.raises(ValueError, match="allow_source=True"):
        adapter.transform(X, sample_domain=domain)
    moved = adapter.transform(X, sample_domain=domain, allow_source=True)
    assert not np.allclose(moved[~target], X[~target])
    np.testing.assert_array_equal(moved[target], X[target])


def test_label_propagation_labels_the_target():
    X, y, domain, y_true = _domains(2)
    adapter = GMMOTLabelPropAdapter(2, random_state=0)
    X_out, y_out, params = adapter.fit_transform(X, y, sample_domain=domain)
    target = domain < 0
    np.testing.assert_array_equal(X_out, X)
    assert np.all(y_out[~target] == -1) and params == {}
    assert np.mean(y_out[target] == y_true[target]) > 0.95
    proba = adapter.predict_proba(X[target])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(adapter.target_class_proba_.sum(axis=1), 1.0)
    np.testing.assert_array_equal(adapter.predict(X[target]), y_out[target])


def test_unbalanced_plans_help_under_target_shift():
    """Class proportions 0.8 / 0.2 in the source and 0.2 / 0.8 in the target."""
    accuracies = {"balanced": [], "unbalanced": []}
    for seed in range(3):
        X, y, domain, y_true = _domains(
            seed, proportions=(0.8, 0.2), target_proportions=(0.2, 0.8)
        )
        target = domain < 0
        for name, kwargs in (
            ("balanced", {}),
            ("unbalanced", {"reg": 0.05, "reg_m": 0.5}),
        ):
            adapter = GMMOTLabelPropAdapter(2, random_state=0, **kwargs)
            adapter.fit(X, y, sample_domain=domain)
            predicted = adapter.predict(X[target])
            accuracies[name].append(np.mean(predicted == y_true[target]))
    assert np.mean(accuracies["unbalanced"]) > np.mean(accuracies["balanced"]) + 0.1


def test_sample_domain_inferred_from_masked_labels():
    X, y, domain, _ = _domains(3)
    a = GMMOTMappingAdapter(2, random_state=0).fit_transform(X, y, sample_domain=domain)
    b = GMMOTMappingAdapter(2, random_state=0).fit_transform(X, y)
    np.testing.assert_array_equal(a, b)


def test_bad_inputs_and_state():
    X, y, domain, _ = _domains(4)
    adapter = GMMOTMappingAdapter(random_state=0)
    with pytest.raises(NotFittedError):
        adapter.transform(X)
    with pytest.raises(ValueError, match="source samples"):
        adapter.fit(X, y, sample_domain=np.full(len(y), -1))
    with pytest.raises(ValueError, match="needs the source labels"):
        adapter.fit(X, None, sample_domain=domain)
    with pytest.raises(ValueError, match="sample_domain is required"):
        adapter.fit(X)
    with pytest.raises(ValueError, match="reg_m"):
        GMMOTMappingAdapter(reg_m=1.0).fit(X, y, sample_domain=domain)
    fitted = GMMOTMappingAdapter(random_state=0).fit(X, y, sample_domain=domain)
    with pytest.raises(ValueError, match="features"):
        fitted.transform(X[:, :1])
    assert clone(fitted).get_params() == fitted.get_params()


def test_inputs_are_not_modified():
    X, y, domain, _ = _domains(5)
    copies = X.copy(), y.copy(), domain.copy()
    GMMOTMappingAdapter(random_state=0).fit_transform(X, y, sample_domain=domain)
    GMMOTLabelPropAdapter(random_state=0).fit_transform(X, y, sample_domain=domain)
    for a, b in zip((X, y, domain), copies, strict=True):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ skada


def test_skada_pipelines(skada_routing):
    skada = skada_routing
    from sklearn.model_selection import GridSearchCV

    from skgmmot.da import GMMOTLabelProp, GMMOTMapping

    X, y, domain, y_true = _domains(6)
    target = domain < 0
    for factory in (GMMOTMapping, GMMOTLabelProp):
        pipe = factory(n_components_per_class=2, random_state=0)
        pipe.fit(X, y, sample_domain=domain)
        predicted = pipe.predict(X[target], sample_domain=domain[target])
        assert np.mean(predicted == y_true[target]) > 0.95
    search = GridSearchCV(
        GMMOTMapping(LogisticRegression(), random_state=0),
        {"gmmotmappingadapter__n_components_per_class": [1, 2]},
        cv=skada.model_selection.SourceTargetShuffleSplit(n_splits=2, random_state=0),
        scoring=skada.metrics.PredictionEntropyScorer(),
    )
    search.fit(X, y, sample_domain=domain)
    assert search.best_params_["gmmotmappingadapter__n_components_per_class"] in (1, 2)


def test_without_skada_the_adapters_work_and_the_factories_explain():
    code = textwrap.dedent(
        """
        import sys
        import importlib.util
        real = importlib.util.find_spec
        importlib.util.find_spec = lambda name, *a: (
            None if name == "skada" else real(name, *a)
        )
        sys.modules["skada"] = None  # as if skada were not installed
        import numpy as np
        from skgmmot import da
        assert not da.HAS_SKADA
        rng = np.random.RandomState(0)
        X = np.vstack([rng.randn(60, 2), rng.randn(60, 2) + [4, 0]])
        X = np.vstack([X, X + [0, 3]])
        y = np.concatenate([np.repeat([0, 1], 60), -np.ones(120, int)])
        domain = np.repeat([1, -2], 120)
        out = da.GMMOTMappingAdapter(1, random_state=0).fit_transform(
            X, y, sample_domain=domain
        )
        assert out.shape == X.shape
        try:
            da.GMMOTMapping()
        except ImportError as exc:
            print(exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'skgmmot[da]'" in result.stdout


def test_importing_the_module_leaves_sklearn_config_alone():
    code = textwrap.dedent(
        """
        import sklearn
        import skgmmot.da
        print(sklearn.get_config()["enable_metadata_routing"])
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# --------------------------------------------------------- multi-source WBT


def _sources_and_target(seed, n_sources=3, n=150):
    """Source domains under random affine effects; the target under a larger one."""
    rng = np.random.RandomState(seed)
    centres = {0: [[0.0, 0.0], [0.0, 5.0]], 1: [[5.0, 0.0], [5.0, 5.0]]}

    def domain(A, b):
        X, y = [], []
        for label in (0, 1):
            which = rng.randint(2, size=n)
            X.append(np.asarray(centres[label])[which] + 0.7 * rng.randn(n, 2))
            y.append(np.full(n, label))
        return np.vstack(X) @ A.T + b, np.concatenate(y)

    def rotation(angle):
        return np.array(
            [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
        )

    Xs, ys, ds = [], [], []
    for k in range(n_sources):
        A = rotation(rng.uniform(-0.5, 0.5)) * rng.uniform(0.8, 1.2, 2)
        X, y = domain(A, 3.0 * rng.randn(2))
        Xs.append(X)
        ys.append(y)
        ds.append(np.full(len(y), k))
    Xt, yt = domain(rotation(0.6) * [1.3, 0.8], np.array([4.0, -4.0]))
    X = np.vstack([*Xs, Xt])
    y = np.concatenate([*ys, -np.ones(len(yt), int)])
    domain_labels = np.concatenate([*ds, np.full(len(yt), -1)])
    return X, y, domain_labels, yt


def test_wbt_beats_merging_the_sources():
    from skgmmot.da import GMMWBTAdapter

    wbt, merged = [], []
    for seed in range(4):
        X, y, domain, yt = _sources_and_target(seed)
        target = domain < 0
        adapter = GMMWBTAdapter(2, random_state=0).fit(X, y, sample_domain=domain)
        wbt.append(np.mean(adapter.predict(X[target]) == yt))
        single = GMMOTLabelPropAdapter(2, random_state=0)
        single.fit(X, y, sample_domain=domain)
        merged.append(np.mean(single.predict(X[target]) == yt))
        bar = adapter.barycenter_
        np.testing.assert_allclose(bar.labels_.sum(axis=1), 1.0)
        assert len(adapter.source_mixtures_) == 3
    assert np.mean(wbt) > 0.9
    assert np.mean(wbt) > np.mean(merged)


def test_wbt_output_and_errors():
    from skgmmot.da import GMMWBTAdapter

    X, y, domain, yt = _sources_and_target(6, n_sources=2)
    target = domain < 0
    X_out, y_out, params = GMMWBTAdapter(2, random_state=0).fit_transform(
        X, y, sample_domain=domain, sample_weight=None
    )
    assert np.all(y_out[~target] == -1)
    assert np.mean(y_out[target] == yt) > 0.8
    assert params == {"sample_weight": None}
    np.testing.assert_array_equal(X_out, X)
    with pytest.raises(ValueError, match="needs the source labels"):
        GMMWBTAdapter().fit(X, None, sample_domain=domain)


def test_wbt_pipeline_with_skada(skada_routing):
    from skgmmot.da import GMMWBT

    X, y, domain, yt = _sources_and_target(1)
    target = domain < 0
    pipe = GMMWBT(n_components_per_class=2, random_state=0)
    pipe.fit(X, y, sample_domain=domain)
    assert np.mean(pipe.predict(X[target], sample_domain=domain[target]) == yt) > 0.9


def test_wbt_without_label_cost_carries_labels_through_the_plans():
    from skgmmot.da import GMMWBTAdapter

    X, y, domain, yt = _sources_and_target(1)
    target = domain < 0
    adapter = GMMWBTAdapter(2, label_cost=0.0, random_state=0)
    adapter.fit(X, y, sample_domain=domain)
    assert adapter.barycenter_.labels_ is None
    np.testing.assert_allclose(adapter.target_class_proba_.sum(axis=1), 1.0)
    assert np.mean(adapter.predict(X[target]) == yt) > 0.9
