"""Systems as JSON specs: a founder with parameters, or a skew product of two such systems.

A spec is plain JSON, so a system can be stored in its genealogy and rebuilt exactly:

    {"kind": "founder", "name": "Lorenz", "params": {"beta": 2.667, ...}}
    {"kind": "founder", "source": "polynomial", "name": "polynomial:3f2a1c0b", ...}
    {"kind": "skew", "driver": <founder spec>, "response": <founder spec>,
     "coupling": {"map": [...], "driver_rms": [...], "response_rms": [...],
                  "strength": [...], "time_scale": tau}}

The skew product's state is [driver (Cd), response (Cr)]; only the response is observed:

    dx/dt = tau f_D(x)
    dy/dt = f_R(y) + strength * response_rms * f_D(x)[map] / driver_rms[map]

tau = period_D / period_R runs the driver on the response's time scale, and each coupling
term is normalised by the RMS of the driver's field along a reference trajectory, then scaled
to the RMS of the response's own field, so neither side dominates.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from .founders import HELD_OUT_FOUNDERS, Founder, get_founder, signature_of
from .sources import Source, get_source, is_held_out_family


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces); floats round-trip exactly."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def founder_spec(founder: Founder, params: dict[str, Any] | None = None) -> dict:
    """Spec of a founder with its default or the given parameters."""
    return {"kind": "founder", "name": founder.name, "params": params if params is not None else founder.params}


def _check(spec: dict) -> str:
    kind = spec.get("kind")
    if kind not in ("founder", "skew"):
        raise ValueError(f"spec kind must be 'founder' or 'skew', got {kind!r}")
    return kind


def generated_source(spec: dict) -> Source | None:
    """The open-ended source of a founder spec, or None for a dysts founder (no "source" key)."""
    name = spec.get("source", "dysts")
    return None if name == "dysts" else get_source(name)


def is_held_out(family: str) -> bool:
    """True when a founder family belongs to the test split: a held-out dysts family, or a
    generated family in the held-out hash bucket."""
    return family in HELD_OUT_FOUNDERS if ":" not in family else is_held_out_family(family)


def source_names(spec: dict) -> list[str]:
    """Sorted founder sources a system descends from ("dysts", "polynomial", ...)."""
    if _check(spec) == "founder":
        return [spec.get("source", "dysts")]
    return sorted(set(source_names(spec["driver"])) | set(source_names(spec["response"])))


def founders_of(spec: dict) -> list[str]:
    """Sorted dysts founders a system descends from."""
    if _check(spec) == "founder":
        return [spec["name"]]
    return sorted(set(founders_of(spec["driver"])) | set(founders_of(spec["response"])))


def dimension(spec: dict) -> int:
    """Integrated state dimension (driver + response for a skew product)."""
    if _check(spec) == "founder":
        source = generated_source(spec)
        return get_founder(spec["name"]).dimension if source is None else source.dimension(spec)
    return dimension(spec["driver"]) + dimension(spec["response"])


def observed_dimension(spec: dict) -> int:
    """Number of saved channels C (the response only, for a skew product)."""
    if _check(spec) == "skew":
        return observed_dimension(spec["response"])
    source = generated_source(spec)
    return get_founder(spec["name"]).dimension if source is None else source.observed_dimension(spec)


def period(spec: dict) -> float:
    """Characteristic period (time units) from dysts metadata; the response's for a skew."""
    if _check(spec) == "skew":
        return period(spec["response"])
    source = generated_source(spec)
    return get_founder(spec["name"]).period if source is None else source.period(spec)


def bounded_mask(spec: dict) -> np.ndarray:
    """(state dim,) bool: coordinates that must stay bounded (dysts' phase variables need not)."""
    if _check(spec) == "founder":
        source = generated_source(spec)
        if source is not None:
            return source.bounded_mask(spec)
        founder = get_founder(spec["name"])
        mask = np.ones(founder.dimension, dtype=bool)
        mask[list(founder.unbounded_indices)] = False
        return mask
    return np.concatenate([bounded_mask(spec["driver"]), bounded_mask(spec["response"])])


def observe(spec: dict, states: np.ndarray) -> np.ndarray:
    """Saved channels from integrated states (..., state dim) -> (..., C): the response part of
    a skew product, with dysts' postprocessing of unbounded phases (e.g. angle -> cos)."""
    if _check(spec) == "skew":
        return observe(spec["response"], states[..., dimension(spec["driver"]) :])
    source = generated_source(spec)
    return get_founder(spec["name"]).postprocess(states) if source is None else source.observe(spec, states)


def build_field(spec: dict, member_params: list[dict] | None = None):
    """The ensemble vector field of a spec: ``field(t (E,), y (C, E)) -> (C, E)``.

    ``member_params`` optionally gives one parameter dict per member (founder specs only).
    """
    if _check(spec) == "founder":
        source = generated_source(spec)
        if source is not None:
            if member_params is not None:
                return source.vector_field([{**spec, "params": p} for p in member_params])
            return source.vector_field([spec])
        return get_founder(spec["name"]).vector_field(member_params if member_params is not None else spec["params"])
    if member_params is not None:
        raise ValueError("per-member parameters are only supported for founder specs")
    return SkewField(
        build_field(spec["driver"]), build_field(spec["response"]), spec["coupling"], dimension(spec["driver"])
    )


class SkewField:
    """Driver -> response skew product (see the module docstring)."""

    def __init__(self, driver, response, coupling: dict, driver_dim: int):
        self.driver, self.response, self.driver_dim = driver, response, driver_dim
        self.tau = float(coupling["time_scale"])
        self.map = np.asarray(coupling["map"], dtype=np.int64)
        gain = (
            np.asarray(coupling["strength"])
            * np.asarray(coupling["response_rms"])
            / np.asarray(coupling["driver_rms"])[self.map]
        )
        self.gain = gain[:, None]

    def __call__(self, t: np.ndarray, y: np.ndarray) -> np.ndarray:
        """dy/dt; t: (E,), y: (Cd + Cr, E) -> (Cd + Cr, E)."""
        f_driver = self.driver(self.tau * t, y[: self.driver_dim])
        f_response = self.response(t, y[self.driver_dim :]) + self.gain * f_driver[self.map]
        return np.concatenate([self.tau * f_driver, f_response])

    def subset(self, keep: np.ndarray) -> SkewField:
        """The same field restricted to ensemble members ``keep``."""
        new = object.__new__(SkewField)
        new.__dict__.update(self.__dict__)
        new.driver, new.response = self.driver.subset(keep), self.response.subset(keep)
        return new


def short_hash(obj: Any, n: int = 6) -> str:
    """First n hex digits of the SHA-1 of the canonical JSON of obj."""
    return hashlib.sha1(canonical_json(obj).encode()).hexdigest()[:n]


def system_id(spec: dict, mutated: bool) -> str:
    """ "Lorenz" (a dysts founder as is), "Lorenz~m3f2a1" (mutant), "Rossler->Lorenz~9c1d0e"
    (skew); a generated founder always carries its hash: "polynomial:3f2a1c0b~5e0d7a"."""
    if _check(spec) == "skew":
        return f"{spec['driver']['name']}->{spec['response']['name']}~{short_hash(spec)}"
    if mutated:
        return f"{spec['name']}~m{short_hash(spec)}"
    return spec["name"] if generated_source(spec) is None else f"{spec['name']}~{short_hash(spec)}"


def describe(spec: dict) -> str:
    """Human-readable equations of the system."""
    if _check(spec) == "founder":
        source = generated_source(spec)
        return signature_of(spec["name"]) if source is None else source.describe(spec)
    c = spec["coupling"]
    return (
        f"skew product, state [x (driver), y (response)]: dx/dt = {c['time_scale']:.6g} f_D(x); "
        f"dy/dt = f_R(y) + g * f_D(x)[{c['map']}], g = strength*response_rms/driver_rms[map]; "
        f"driver {describe(spec['driver'])} || response {describe(spec['response'])}"
    )
