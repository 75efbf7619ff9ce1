"""Open-ended founder sources (see base.py for the contract) and their registry.

``dysts`` founders live in data_gen/founders.py; the sources here draw new families of their
own. Each module holds one source class; ``get_source(name)`` returns its (stateless) instance.
"""

from __future__ import annotations

import functools
import importlib

from .base import IntegrationSettings, Source, estimate_period, family_name, is_held_out_family

# source name -> "module:Class" (imported on first use)
REGISTRY: dict[str, str] = {
    "polynomial": "polynomial:PolynomialSource",
    "nonpolynomial": "nonpolynomial:NonPolynomialSource",
    "piecewise": "nonpolynomial:PiecewiseLinearSource",
    "neural": "nonpolynomial:NeuralSource",
    "forced": "oscillators:ForcedOscillatorSource",
    "network": "oscillators:OscillatorNetworkSource",
    "delay": "delay:DelaySource",
    "spatiotemporal": "spatiotemporal:SpatiotemporalSource",
}

SOURCE_NAMES: tuple[str, ...] = tuple(REGISTRY)


@functools.cache
def get_source(name: str) -> Source:
    """The source called ``name``; ValueError listing the known ones otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown founder source {name!r}; known: dysts, {', '.join(SOURCE_NAMES)}")
    module, cls = REGISTRY[name].split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)()


__all__ = [
    "REGISTRY",
    "SOURCE_NAMES",
    "IntegrationSettings",
    "Source",
    "estimate_period",
    "family_name",
    "get_source",
    "is_held_out_family",
]
