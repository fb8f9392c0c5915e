"""Habitat radiomics: intratumoral subregions of similar voxel characteristics.

Two levels, as in the habitat literature (HABIT, MISA): each tumour is over-segmented into
supervoxels (k-means on voxel features and position, per patient), then the supervoxels of the
**training cohort only** are clustered into K population habitats. The scaler and centroids are
fitted once (:class:`HabitatModel`) and applied unchanged to every other cohort.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from .._files import atomic_write_text, json_dumps
from ..errors import UserError

#: the voxel features available to the habitats (column order of :func:`voxel_features`)
VOXEL_FEATURES = ("hu", "local_entropy", "local_sd")
#: the default clustering features; the local entropy (25-HU bins over 27 voxels) is opt-in:
#: clustering on it as well made the habitats follow the scanner more than the tumour (the
#: README's habitat notes give the measurement)
CLUSTER_FEATURES = ("hu", "local_sd")
Criterion = Literal["calinski_harabasz", "silhouette", "bic"]


def _crop(mask: np.ndarray, pad: int) -> tuple[slice, ...]:
    idx = np.argwhere(mask)
    lo = np.maximum(idx.min(axis=0) - pad, 0)
    hi = np.minimum(idx.max(axis=0) + pad + 1, mask.shape)
    return tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))


def check_features(features: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The clustering features in canonical order; HU must be among them (habitats are ordered
    and matched by their mean HU)."""
    unknown = [f for f in features if f not in VOXEL_FEATURES]
    if unknown or "hu" not in features:
        msg = (f"habitat features {list(features)}: must include 'hu' and be taken from "
               f"{list(VOXEL_FEATURES)}" + (f" (unknown: {unknown})" if unknown else ""))
        raise UserError(msg)
    return tuple(f for f in VOXEL_FEATURES if f in features)


def voxel_features(image: np.ndarray, mask: np.ndarray, *, window: int = 3,
                   bin_width: float = 25.0, hu_window: tuple[float, float] = (-150.0, 250.0),
                   features: tuple[str, ...] | list[str] = VOXEL_FEATURES) -> np.ndarray:
    """Per tumour voxel: HU, local entropy of binned HU and local SD (those named in
    ``features``, in the order of :data:`VOXEL_FEATURES`).

    HU is clipped to a soft-tissue window first (partial volume with air or bone at the tumour
    edge would otherwise form its own "habitat"); the local statistics use only tumour voxels
    of the ``window``^3 neighbourhood, so the surrounding fat and air do not leak in.

    Returns an array of shape (n_voxels, len(features)) in the order of ``np.flatnonzero(mask)``.
    """
    features = check_features(features)
    box = _crop(mask, window)
    img = np.clip(image[box].astype(np.float64), *hu_window)
    inside = mask[box] > 0
    w = inside.astype(np.float64)
    count = ndimage.uniform_filter(w, window)
    safe = np.where(count > 0, count, 1.0)
    mean = ndimage.uniform_filter(img * w, window) / safe
    sq = ndimage.uniform_filter(img * img * w, window) / safe
    sd = np.sqrt(np.maximum(sq - mean * mean, 0.0))
    columns = {"hu": img, "local_sd": sd}
    if "local_entropy" in features:
        bins = np.floor(img / bin_width).astype(int)
        entropy = np.zeros_like(img)
        for b in np.unique(bins[inside]):
            p = ndimage.uniform_filter(((bins == b) & inside).astype(np.float64), window) / safe
            with np.errstate(divide="ignore", invalid="ignore"):
                entropy -= np.where(p > 0, p * np.log2(p), 0.0)
        columns["local_entropy"] = entropy
    # boolean indexing of the crop visits voxels in the same C order as np.flatnonzero(mask)
    return np.column_stack([columns[f][inside] for f in features])


def supervoxels(features: np.ndarray, coords_mm: np.ndarray, *, n_supervoxels: int = 50,
                spatial_weight: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Over-segment one tumour: k-means on standardised voxel features plus position.

    Returns the supervoxel label of each voxel and each supervoxel's mean voxel features.
    """
    from sklearn.cluster import KMeans

    n = len(features)
    k = int(max(1, min(n_supervoxels, n // 10)))
    feats = (features - features.mean(axis=0)) / np.where(features.std(axis=0) > 0, features.std(axis=0), 1)
    pos = (coords_mm - coords_mm.mean(axis=0)) / max(float(coords_mm.std()), 1e-6)
    data = np.hstack([feats, spatial_weight * pos])
    labels = KMeans(k, n_init=1, random_state=seed, max_iter=100).fit_predict(data) if k > 1 else np.zeros(n, int)
    means = np.vstack([features[labels == j].mean(axis=0) for j in range(k)])
    # relabel by order of first appearance so labels do not depend on k-means internals
    used = np.unique(labels)
    return np.searchsorted(used, labels), means[used]


@dataclass
class HabitatModel:
    """Population habitats fitted on training supervoxels: a scaler and K ordered centroids.

    Habitat 1 has the lowest mean HU, K the highest. Saved as JSON (:meth:`save`), applied
    unchanged (:meth:`predict`) to any cohort; ``features`` names the descriptor columns, so
    whoever applies the model computes the same voxel features.
    """

    mean_: np.ndarray
    scale_: np.ndarray
    centroids_: np.ndarray  # in scaled space, ordered by HU
    k_: int
    criterion: str
    scores_: dict[int, float]
    features: tuple[str, ...] = CLUSTER_FEATURES

    @classmethod
    def fit(cls, descriptors: np.ndarray, *, k: int | None = None,
            k_range: tuple[int, int] = (2, 6), criterion: Criterion = "calinski_harabasz",
            seed: int = 0, features: tuple[str, ...] | list[str] = CLUSTER_FEATURES) -> HabitatModel:
        """Fit on training supervoxel descriptors (rows: supervoxels; columns: ``features``,
        HU first)."""
        features = check_features(features)
        if descriptors.ndim != 2 or descriptors.shape[1] != len(features):
            msg = (f"habitat descriptors have {descriptors.shape[-1]} columns but the features "
                   f"are {list(features)}")
            raise ValueError(msg)
        mean = descriptors.mean(axis=0)
        scale = np.where(descriptors.std(axis=0) > 0, descriptors.std(axis=0), 1.0)
        z = (descriptors - mean) / scale
        candidates = [k] if k is not None else list(range(k_range[0], k_range[1] + 1))
        if len(z) < max(candidates) * 5:
            msg = (f"too few training supervoxels ({len(z)}) for {max(candidates)} habitats; "
                   "lower habitats.k or add training patients")
            raise UserError(msg)
        scores: dict[int, float] = {}
        fits: dict[int, np.ndarray] = {}
        for kk in candidates:
            centroids, score = _cluster(z, kk, criterion, seed)
            fits[kk], scores[kk] = centroids, score
        best = k if k is not None else max(scores, key=lambda kk: scores[kk])
        centroids = fits[best]
        order = np.argsort(centroids[:, 0], kind="stable")  # by HU (scaled, monotone)
        return cls(mean, scale, centroids[order], best, criterion, scores, features)

    def predict(self, descriptors: np.ndarray) -> np.ndarray:
        """Habitat (1..K) of each supervoxel: the nearest centroid in the training scale."""
        z = (descriptors - self.mean_) / self.scale_
        d = ((z[:, None, :] - self.centroids_[None, :, :]) ** 2).sum(axis=2)
        return np.argmin(d, axis=1) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "scaler_mean": self.mean_.round(12).tolist(),
            "scaler_scale": self.scale_.round(12).tolist(),
            "centroids_scaled": self.centroids_.round(12).tolist(),
            "centroids_hu": (self.centroids_ * self.scale_ + self.mean_)[:, 0].round(6).tolist(),
            "k": int(self.k_),
            "criterion": self.criterion,
            "scores": {str(k): round(v, 9) for k, v in sorted(self.scores_.items())},
        }

    def save(self, path: Path) -> None:
        atomic_write_text(path, json_dumps(self.to_dict()))

    @classmethod
    def load(cls, path: Path) -> HabitatModel:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(np.array(d["scaler_mean"]), np.array(d["scaler_scale"]),
                   np.array(d["centroids_scaled"]), int(d["k"]), d["criterion"],
                   {int(k): float(v) for k, v in d["scores"].items()},
                   check_features(d.get("features", VOXEL_FEATURES)))


def _cluster(z: np.ndarray, k: int, criterion: Criterion, seed: int) -> tuple[np.ndarray, float]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import calinski_harabasz_score, silhouette_score
    from sklearn.mixture import GaussianMixture

    if criterion == "bic":
        gmm = GaussianMixture(k, covariance_type="full", random_state=seed, n_init=2).fit(z)
        return gmm.means_, -float(gmm.bic(z))
    km = KMeans(k, n_init=4, random_state=seed).fit(z)
    if criterion == "silhouette":
        sample = np.random.default_rng(seed).choice(len(z), size=min(len(z), 5000), replace=False)
        return km.cluster_centers_, float(silhouette_score(z[sample], km.labels_[sample]))
    return km.cluster_centers_, float(calinski_harabasz_score(z, km.labels_))


def bootstrap_ari(descriptors_by_patient: list[np.ndarray], model: HabitatModel, *,
                  n_boot: int = 20, seed: int = 0) -> np.ndarray:
    """Stability: refit on bootstrap resamples of training patients (K fixed) and compare the
    habitat assignment of every training supervoxel with the full fit (adjusted Rand index)."""
    from sklearn.metrics import adjusted_rand_score

    allv = np.vstack(descriptors_by_patient)
    reference = model.predict(allv)
    rng = np.random.default_rng(seed)
    out = []
    for b in range(n_boot):
        pick = rng.integers(0, len(descriptors_by_patient), size=len(descriptors_by_patient))
        sample = np.vstack([descriptors_by_patient[i] for i in pick])
        refit = HabitatModel.fit(sample, k=model.k_, criterion=model.criterion, seed=seed + b + 1,
                                 features=model.features)
        out.append(adjusted_rand_score(reference, refit.predict(allv)))
    return np.array(out)


def spatial_measures(habitat_map: np.ndarray, k: int) -> dict[str, float]:
    """Connected components per habitat and habitat-to-habitat contact fractions.

    Contacts are face-adjacent voxel pairs inside the tumour; ``contact_i_j`` is the share of
    all such pairs that join habitat i and j (i < j), ``mixing`` the share joining different
    habitats.
    """
    out: dict[str, float] = {}
    structure = ndimage.generate_binary_structure(3, 3)
    for h in range(1, k + 1):
        out[f"components_H{h}"] = float(ndimage.label(habitat_map == h, structure)[1])
    pairs = np.zeros((k + 1, k + 1))
    for axis in range(3):
        a = np.moveaxis(habitat_map, axis, 0)
        left, right = a[:-1].ravel(), a[1:].ravel()
        both = (left > 0) & (right > 0)
        np.add.at(pairs, (left[both], right[both]), 1)
    pairs = pairs + pairs.T - np.diag(np.diag(pairs))
    total = np.triu(pairs[1:, 1:]).sum()
    for i in range(1, k + 1):
        for j in range(i + 1, k + 1):
            out[f"contact_H{i}_H{j}"] = float(pairs[i, j] / total) if total else 0.0
    out["mixing"] = float((np.triu(pairs[1:, 1:], 1).sum()) / total) if total else 0.0
    return out
