"""The embedded simulated world: a whole radiogenomics study in the real file formats, with
the truth it planted recorded beside it under ``truth/``.

>>> from radiogenomics.simulate import world
>>> summary = world("worlds/tiny", scale="tiny", seed=1)  # doctest: +SKIP
"""

from __future__ import annotations

from .world import world

__all__ = ["world"]
