"""The study's models as scikit-learn estimators: the radiomics score (LASSO logistic
regression), the clinical model, the combined model (rad-score + clinical, the nomogram) and
two other learners (SVM, random forest) tuned by inner cross-validation.

Every model takes one DataFrame holding both the radiomics features and the clinical columns and
selects what it uses, so that the same cross-validation loop serves all of them and everything
learned (imputation, scaling, filters, selection, coefficients) is learned on training folds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted, validate_data

from .features import KeepColumns, RedundancyFilter

__all__ = ["CombinedModel", "L1LogisticCV", "clinical_model", "other_learners", "radscore_model"]


def _features_front(features: Sequence[str], redundancy: float) -> list[tuple[str, object]]:
    return [("keep", KeepColumns(list(features))),
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
            ("redundancy", RedundancyFilter(redundancy))]


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the Mann–Whitney rank sum (0.5 when a fold holds one class only)."""
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return 0.5
    ranks = stats.rankdata(score)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


class L1LogisticCV(ClassifierMixin, BaseEstimator):
    """L1-penalised logistic regression (liblinear) with C chosen by stratified CV on ROC AUC.

    ``Cs`` values are spread log-uniformly over ``10**c_range``; C is the smallest (the sparsest
    model) whose mean CV AUC lies within one standard error of the best mean (the one-SE rule).
    On z-scored features, C above about 3 keeps nearly every feature and makes liblinear slow,
    hence the default range.
    """

    def __init__(self, Cs: int = 12, c_range: tuple[float, float] = (-3.0, 0.5), folds: int = 5,
                 seed: int = 0, max_iter: int = 5000) -> None:
        self.Cs = Cs
        self.c_range = c_range
        self.folds = folds
        self.seed = seed
        self.max_iter = max_iter

    def _model(self, c: float) -> LogisticRegression:
        return LogisticRegression(C=c, l1_ratio=1.0, solver="liblinear", max_iter=self.max_iter,
                                  random_state=self.seed)

    def fit(self, X, y):  # noqa: ANN001, ANN201, N803
        X = validate_data(self, X, dtype=float)  # noqa: N806
        y = np.asarray(y).astype(int)
        cs = np.logspace(self.c_range[0], self.c_range[1], self.Cs)
        cv = StratifiedKFold(self.folds, shuffle=True, random_state=self.seed)
        scores = np.zeros((self.folds, len(cs)))
        for f, (tr, te) in enumerate(cv.split(X, y)):
            for j, c in enumerate(cs):
                model = self._model(c).fit(X[tr], y[tr])
                scores[f, j] = _auc(y[te], model.decision_function(X[te]))
        self.Cs_ = cs
        self.scores_ = scores
        # the one-standard-error rule (glmnet's lambda.1se): the smallest C whose mean CV AUC is
        # within one standard error of the best, so a small cohort does not buy a little CV AUC
        # with many features
        mean = scores.mean(axis=0)
        best = int(np.argmax(mean))
        se = scores[:, best].std(ddof=1) / np.sqrt(self.folds) if self.folds > 1 else 0.0
        self.C_ = float(cs[int(np.flatnonzero(mean >= mean[best] - se)[0])])
        final = self._model(self.C_).fit(X, y)
        self.coef_, self.intercept_, self.classes_ = final.coef_, final.intercept_, final.classes_
        return self

    def decision_function(self, X):  # noqa: ANN001, ANN201, N803
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, dtype=float, reset=False)  # noqa: N806
        return X @ self.coef_.ravel() + self.intercept_[0]

    def predict_proba(self, X):  # noqa: ANN001, ANN201, N803
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X):  # noqa: ANN001, ANN201, N803
        return self.classes_[(self.decision_function(X) >= 0).astype(int)]


def radscore_model(features: Sequence[str], *, redundancy: float = 0.9, n_cs: int = 12,
                   inner_folds: int = 5, seed: int = 0) -> Pipeline:
    """The radiomics score: features → median imputation → z-score → redundancy filter → L1
    logistic regression with its penalty chosen by inner stratified CV (ROC AUC). The rad-score
    is the model's linear predictor (``decision_function``)."""
    lasso = L1LogisticCV(Cs=n_cs, folds=inner_folds, seed=seed)
    return Pipeline([*_features_front(features, redundancy), ("lasso", lasso)])


def _clinical_encoder(numeric: Sequence[str], categorical: Sequence[str]) -> ColumnTransformer:
    parts: list[tuple[str, object, list[str]]] = []
    if numeric:
        parts.append(("num", Pipeline([("impute", SimpleImputer(strategy="median")),
                                       ("scale", StandardScaler())]), list(numeric)))
    if categorical:
        parts.append(("cat", Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(drop="first", handle_unknown="ignore",
                                     sparse_output=False))]), list(categorical)))
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)


def clinical_model(numeric: Sequence[str], categorical: Sequence[str]) -> Pipeline:
    """Unpenalised logistic regression on the clinical variables (numeric z-scored,
    categorical one-hot with the first level as reference)."""
    return Pipeline([("encode", _clinical_encoder(numeric, categorical)),
                     ("logistic", LogisticRegression(C=np.inf, max_iter=5000))])


class CombinedModel(ClassifierMixin, BaseEstimator):
    """Rad-score + clinical variables in one logistic regression (the nomogram).

    The rad-score that the logistic regression is fitted on is the **out-of-fold** rad-score of
    the training patients (``cv`` folds), so its coefficient is not inflated by the rad-score's
    own overfitting; the rad-score model used for prediction is then refitted on all training
    patients.
    """

    def __init__(self, radscore: Pipeline, numeric: Sequence[str] = (),
                 categorical: Sequence[str] = (), folds: int = 5, seed: int = 0) -> None:
        self.radscore = radscore
        self.numeric = numeric
        self.categorical = categorical
        self.folds = folds
        self.seed = seed

    def _design(self, X: pd.DataFrame, score: np.ndarray, fit: bool) -> np.ndarray:  # noqa: N803
        if fit:
            self.encoder_ = _clinical_encoder(self.numeric, self.categorical)
            clin = self.encoder_.fit_transform(X)
        else:
            clin = self.encoder_.transform(X)
        return np.column_stack([score, clin])

    def fit(self, X: pd.DataFrame, y: np.ndarray):  # noqa: ANN201, N803
        y = np.asarray(y)
        cv = StratifiedKFold(self.folds, shuffle=True, random_state=self.seed)
        oof = cross_val_predict(clone(self.radscore), X, y, cv=cv, method="decision_function")
        self.logistic_ = LogisticRegression(C=np.inf, max_iter=5000).fit(
            self._design(X, oof, fit=True), y)
        self.radscore_ = clone(self.radscore).fit(X, y)
        self.classes_ = self.logistic_.classes_
        self.design_names_ = ["rad_score", *self.encoder_.get_feature_names_out()]
        return self

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        check_is_fitted(self, "logistic_")
        score = self.radscore_.decision_function(X)
        return self.logistic_.decision_function(self._design(X, score, fit=False))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        check_is_fitted(self, "logistic_")
        score = self.radscore_.decision_function(X)
        return self.logistic_.predict_proba(self._design(X, score, fit=False))

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


def other_learners(features: Sequence[str], *, redundancy: float = 0.9, inner_folds: int = 3,
                   seed: int = 0, n_jobs: int = 1) -> dict[str, Pipeline]:
    """An RBF support-vector machine (probabilities by Platt scaling on internal folds) and a
    random forest, each after the same feature front end (fitted once per training set) and a
    univariate selection (ANOVA F, k features), with k (and the SVM's C) chosen by inner
    stratified CV on ROC AUC. Wrapped in the outer cross-validation of :func:`fit_study`, this is
    nested cross-validation: the outer out-of-fold predictions never see their own patients."""
    inner = StratifiedKFold(inner_folds, shuffle=True, random_state=seed)
    svm = Pipeline([("select", SelectKBest(f_classif)),
                    ("svm", CalibratedClassifierCV(SVC(kernel="rbf", class_weight="balanced"),
                                                   method="sigmoid", cv=3, ensemble=False))])
    forest = Pipeline([("select", SelectKBest(f_classif)),
                       ("forest", RandomForestClassifier(n_estimators=200, min_samples_leaf=5,
                                                         max_features="sqrt",
                                                         random_state=seed, n_jobs=1))])
    grids = {
        "svm": GridSearchCV(svm, {"select__k": [10, 30], "svm__estimator__C": [0.3, 1.0, 3.0]},
                            scoring="roc_auc", cv=inner, n_jobs=n_jobs),
        "random_forest": GridSearchCV(forest, {"select__k": [10, 30]}, scoring="roc_auc",
                                      cv=inner, n_jobs=n_jobs),
    }
    return {name: Pipeline([*_features_front(features, redundancy), ("tune", grid)])
            for name, grid in grids.items()}
