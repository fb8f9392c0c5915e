"""Neck CT-like volumes in Hounsfield units with an irregular tumour made of three habitats.

Habitats (label map values): 1 enhancing viable tumour, 2 hypo-enhancing/necrotic core,
3 infiltrative rim: a hyper-enhancing, heterogeneous invasive front on one side of the tumour.
Each is a contiguous region several voxels across (the necrotic core by depth below the surface,
the front as a cap along a random direction), so a scanner's blur mixes only their borders. The
latent aggressiveness sets the tumour size, margin irregularity, habitat fractions and texture;
the scanner sets spacing, HU offset, noise and blur.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ._scales import VOLUME_SHAPE, Scanner

HABITATS = {1: "enhancing", 2: "necrotic", 3: "rim"}
#: mean HU and texture SD of each habitat before scanner effects
HABITAT_HU = {1: (90.0, 8.0), 2: (20.0, 6.0), 3: (160.0, 18.0)}


@dataclass(frozen=True)
class Tumour:
    """What the latent value asks the CT to show."""

    radius_mm: float
    irregularity: float
    necrotic_fraction: float
    rim_fraction: float
    heterogeneity: float


def tumour_phenotype(z: float, rng: np.random.Generator) -> Tumour:
    """Map the latent aggressiveness (and noise) onto the tumour's appearance."""

    def sig(x: float) -> float:
        return float(1.0 / (1.0 + np.exp(-x)))

    return Tumour(
        radius_mm=float(10.0 * np.exp(0.16 * z + 0.12 * rng.normal())),
        irregularity=0.08 + 0.22 * sig(1.1 * z + 0.6 * rng.normal()),
        necrotic_fraction=0.03 + 0.40 * sig(1.3 * z - 0.4 + 0.5 * rng.normal()),
        rim_fraction=0.06 + 0.44 * sig(1.6 * z + 0.8 * rng.normal()),
        heterogeneity=0.7 + 0.8 * sig(1.2 * z + 0.5 * rng.normal()),
    )


def _smooth_noise(shape: tuple[int, ...], sigma: tuple[float, ...], rng: np.random.Generator) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.normal(size=shape), sigma, mode="wrap", truncate=3.0)
    sd = field.std()
    return field / sd if sd > 0 else field


def render_case(
    z: float, scanner: Scanner, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Tumour]:
    """Render one patient.

    Returns
    -------
    image
        int16 HU volume, numpy order (z, y, x).
    mask
        uint8 tumour mask (1 inside).
    habitats
        uint8 habitat label map (0 outside the tumour).
    tumour
        the phenotype that was rendered.
    """
    shape = VOLUME_SHAPE
    sx, sy, sz = scanner.spacing
    zz, yy, xx = np.meshgrid(
        (np.arange(shape[0]) - (shape[0] - 1) / 2) * sz,
        (np.arange(shape[1]) - (shape[1] - 1) / 2) * sy,
        (np.arange(shape[2]) - (shape[2] - 1) / 2) * sx,
        indexing="ij",
    )
    half_x, half_y = shape[2] * sx / 2, shape[1] * sy / 2
    # neck outline, subcutaneous fat, muscle with fat planes
    a, b = half_x * rng.uniform(0.88, 0.97), half_y * rng.uniform(0.80, 0.92)
    r_neck = (xx / a) ** 2 + ((yy - 0.02 * half_y) / b) ** 2
    image = np.full(shape, -1000.0)
    image[r_neck < 1.0] = -95.0
    muscle = r_neck < rng.uniform(0.70, 0.80)
    image[muscle] = 48.0
    fat_planes = _smooth_noise(shape, (1.0, 3.0, 3.0), rng) > 1.3
    image[muscle & fat_planes] = -85.0
    # airway with a cartilage ring (anterior) and a vertebral body (posterior)
    ax, ay = rng.normal(0, 1.5), -0.45 * b
    r_air = np.hypot(xx - ax, yy - ay)
    air_r = rng.uniform(5.0, 7.0)
    image[(r_air >= air_r) & (r_air < air_r + 1.8)] = 240.0
    airway = r_air < air_r
    image[airway] = -1000.0
    vx, vy = rng.normal(0, 1.0), 0.62 * b
    r_vert = np.hypot(xx - vx, (yy - vy) * 1.3)
    image[r_vert < 7.0] = 900.0
    image[r_vert < 5.8] = 300.0

    tumour = tumour_phenotype(z, rng)
    side = rng.choice([-1.0, 1.0])
    cx, cy, cz = side * rng.uniform(10.0, 14.0), rng.normal(-4.0, 2.0), rng.normal(0, 3.0)
    # work in a box around the tumour: everything below is local to it
    reach = tumour.radius_mm * (1.0 + 4.0 * tumour.irregularity) * 1.15 + 2.0
    box = tuple(
        slice(max(0, int(np.searchsorted(axis, c - reach))),
              min(n, int(np.searchsorted(axis, c + reach)) + 1))
        for axis, c, n in (
            (zz[:, 0, 0], cz, shape[0]), (yy[0, :, 0], cy, shape[1]), (xx[0, 0, :], cx, shape[2])
        )
    )
    bz, by, bx = zz[box], yy[box], xx[box]
    local = bz.shape
    r = np.sqrt((bx - cx) ** 2 + ((by - cy) / 0.88) ** 2 + ((bz - cz) / 1.1) ** 2)
    wobble = _smooth_noise(local, (4.5 / sz, 4.0 / sy, 4.0 / sx), rng)
    drawn = (r < tumour.radius_mm * (1.0 + tumour.irregularity * wobble)) & ~airway[box]
    drawn &= r_neck[box] < 0.95
    tmask = ndimage.binary_opening(drawn, iterations=1)
    if not tmask.any():  # a tumour thinner than the opening (rare, small radii): keep it unopened
        tmask = drawn if drawn.any() else (r < max(tumour.radius_mm, 3.0)) & ~airway[box]
    labels, n = ndimage.label(tmask)
    if n > 1:  # keep the main component: one tumour per patient
        sizes = ndimage.sum_labels(tmask, labels, index=np.arange(1, n + 1))
        tmask = labels == (1 + int(np.argmax(sizes)))

    # habitats by rank, so fractions are exact: the necrotic core is the deepest voxels below
    # the tumour surface (perturbed), the infiltrative front the voxels furthest along a random
    # direction among the rest (a cap with a perturbed border), the remainder enhancing tumour
    depth = ndimage.distance_transform_edt(np.pad(tmask, 1), sampling=(sz, sy, sx))[
        1:-1, 1:-1, 1:-1
    ]
    depth = depth + 1.2 * _smooth_noise(local, (1.0, 2.5, 2.5), rng)
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    front = direction[0] * (bz - cz) + direction[1] * (by - cy) + direction[2] * (bx - cx)
    front = front + _smooth_noise(local, (1.0, 2.5, 2.5), rng)
    hab = np.zeros(local, dtype=np.uint8)
    inside = np.flatnonzero(tmask.ravel())
    if inside.size:
        order = inside[np.argsort(depth.ravel()[inside], kind="stable")]
        n_nec = int(round(tumour.necrotic_fraction * order.size))
        n_rim = min(int(round(tumour.rim_fraction * order.size)), order.size - n_nec)
        flat = hab.ravel()
        flat[order] = 1
        rest = order[: order.size - n_nec]
        if n_nec:
            flat[order[order.size - n_nec:]] = 2
        if n_rim:
            flat[rest[np.argsort(-front.ravel()[rest], kind="stable")[:n_rim]]] = 3
    texture = _smooth_noise(local, (0.6, 1.0, 1.0), rng)
    coarse = _smooth_noise(local, (1.0, 2.5, 2.5), rng)
    patch = image[box]
    for label, (mean, sd) in HABITAT_HU.items():
        region = hab == label
        scale = sd * tumour.heterogeneity
        patch[region] = mean + scale * (0.9 * texture[region] + 0.3 * coarse[region])
    mask = np.zeros(shape, dtype=bool)
    mask[box] = tmask
    habitats = np.zeros(shape, dtype=np.uint8)
    habitats[box] = hab

    # scanner: reconstruction blur, noise, HU offset
    blur = scanner.blur_sigma_mm
    image = ndimage.gaussian_filter(image, (0.5 * blur / sz, blur / sy, blur / sx))
    noise = ndimage.gaussian_filter(rng.normal(size=shape), 0.5)  # slightly correlated noise
    image = image + scanner.hu_offset + scanner.noise_sd * noise / noise.std()
    image = np.clip(np.round(image), -1024, 3071).astype(np.int16)
    return image, mask.astype(np.uint8), habitats, tumour
