"""Feature filters that follow scikit-learn's estimator contract, so that they are fitted inside
cross-validation on training folds only: a keep-list (the robustness filter's features), a
variance filter and a redundancy filter on Spearman correlation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["KeepColumns", "RedundancyFilter", "icc_1_1"]


class KeepColumns(TransformerMixin, BaseEstimator):
    """Keep the columns whose names are in ``keep`` (e.g. features with ICC above a threshold).

    Fitted on a DataFrame, it remembers the column positions; ``keep=None`` keeps everything.
    """

    def __init__(self, keep: Sequence[str] | None = None) -> None:
        self.keep = keep

    def fit(self, X, y=None):  # noqa: ANN001, ANN201, N803
        names = np.asarray(getattr(X, "columns", [f"x{i}" for i in range(np.shape(X)[1])]), str)
        self.feature_names_in_ = names
        wanted = names if self.keep is None else np.asarray(list(self.keep), str)
        self.support_ = np.isin(names, wanted)
        if not self.support_.any():
            msg = "KeepColumns: none of the requested features are among the input columns"
            raise ValueError(msg)
        self.n_features_in_ = len(names)
        return self

    def transform(self, X):  # noqa: ANN001, ANN201, N803
        check_is_fitted(self, "support_")
        if hasattr(X, "iloc"):
            return X.iloc[:, self.support_].to_numpy(dtype=float)
        return np.asarray(X)[:, self.support_].astype(float)

    def get_feature_names_out(self, input_features=None):  # noqa: ANN001, ANN201
        check_is_fitted(self, "support_")
        return self.feature_names_in_[self.support_]


class RedundancyFilter(TransformerMixin, BaseEstimator):
    """Drop near-duplicate features: of each pair with |Spearman ρ| > ``threshold`` on the
    training data, the one less associated with the outcome (|Mann–Whitney AUC − 0.5|, or
    lower variance when fitted without ``y``) is removed, greedily from the strongest feature
    down. Constant features are removed too."""

    def __init__(self, threshold: float = 0.9) -> None:
        self.threshold = threshold

    def fit(self, X, y=None):  # noqa: ANN001, ANN201, N803
        X = validate_data(self, X, dtype=float)  # noqa: N806
        spread = X.std(axis=0)
        if y is not None:
            y = np.asarray(y)
            ranks = stats.rankdata(X, axis=0)
            n1 = (y == 1).sum()
            auc = (ranks[y == 1].sum(axis=0) - n1 * (n1 + 1) / 2) / (n1 * (len(y) - n1))
            strength = np.abs(auc - 0.5)
        else:
            strength = spread
        order = np.argsort(-strength, kind="stable")
        order = order[spread[order] > 0]
        rho = np.atleast_2d(stats.spearmanr(X[:, order]).statistic) if len(order) > 1 else np.ones((1, 1))
        close = np.abs(rho) > self.threshold
        kept: list[int] = []
        for i in range(len(order)):
            if not close[i, kept].any():
                kept.append(i)
        self.support_ = np.zeros(X.shape[1], bool)
        self.support_[order[kept]] = True
        return self

    def transform(self, X):  # noqa: ANN001, ANN201, N803
        check_is_fitted(self, "support_")
        X = validate_data(self, X, dtype=float, reset=False)  # noqa: N806
        return X[:, self.support_]

    def get_feature_names_out(self, input_features=None):  # noqa: ANN001, ANN201
        check_is_fitted(self, "support_")
        names = (np.asarray(input_features, str) if input_features is not None
                 else np.array([f"x{i}" for i in range(len(self.support_))]))
        return names[self.support_]


def icc_1_1(values: np.ndarray) -> np.ndarray:
    """One-way random-effects, single-measurement ICC(1,1) (Shrout & Fleiss 1979) per feature.

    ``values`` has shape (subjects, repeats, features): each subject measured under each
    perturbation. ICC = (MSB − MSW) / (MSB + (k − 1)·MSW).
    """
    n, k, _ = values.shape
    subject_mean = values.mean(axis=1)
    grand = values.mean(axis=(0, 1))
    msb = k * ((subject_mean - grand) ** 2).sum(axis=0) / (n - 1)
    msw = ((values - subject_mean[:, None, :]) ** 2).sum(axis=(0, 1)) / (n * (k - 1))
    denom = msb + (k - 1) * msw
    with np.errstate(invalid="ignore", divide="ignore"):
        icc = (msb - msw) / denom
    return np.where(denom > 0, icc, np.nan)
