"""Fit options as the benchmarks' command lines give them (``fit_recovery.py --fit-option`` /
``--baseline-option``, ``fit_dev.py --variant``), and a fit that applies them.

An option is ``name=json``: a keyword of ``fit_model`` (``average_families=true``,
``decay_posterior='"grid"'``), or ``@module.NAME=json``, a module constant of
``optimizer.response`` (``@decay_profile.PROFILE_SHIFT='"all"'``, ``@joint.PRIOR_DECAY_SD=0.45``)
that :func:`fit_with_options` sets for that one fit and restores after it (also when the fit
raises), so another fit in the same process (the baseline, another variant) runs with the module's
own value.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from optimizer.response.fit import fit_model
from optimizer.response.model import ResponseModel

PACKAGE = "optimizer.response"


def _constant(name: str) -> tuple[ModuleType, str]:
    """The module and attribute of ``module.NAME`` (a constant of ``optimizer.response``)."""
    mod, _, attr = name.rpartition(".")
    try:
        m = importlib.import_module(f"{PACKAGE}.{mod}") if mod else None
    except ImportError:
        m = None
    if m is None:
        raise ValueError(f"@{name}: no module {PACKAGE}.{mod or '?'} (expected @module.NAME=json)")
    if not hasattr(m, attr):
        raise ValueError(f"@{name}: {PACKAGE}.{mod} has no constant {attr}")
    return m, attr


def parse_option(item: str) -> tuple[str, Any]:
    """``name=json`` -> (name, value); an ``@module.NAME`` must name an existing constant."""
    name, eq, text = item.partition("=")
    if not name or not eq:
        raise ValueError(f"option {item!r}: expected name=json (e.g. sweeps=1)")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"option {item!r}: the value {text!r} is not JSON ({exc.msg}; a string needs "
            "its quotes: name='\"text\"')"
        ) from None
    if name.startswith("@"):
        _constant(name[1:])
    return name, value


def parse_options(items: Iterable[str]) -> dict[str, Any]:
    """Repeated ``--fit-option name=json`` -> {name: value} (later ones win)."""
    return dict(parse_option(it) for it in items)


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """``label:opt=json,opt=json`` (``label:`` alone: the defaults) -> (label, options)."""
    label, _, rest = text.partition(":")
    return label, parse_options(filter(None, rest.split(",")))


def split(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(keywords of ``fit_model``, {``module.NAME``: value} constants)."""
    kw = {k: v for k, v in options.items() if not k.startswith("@")}
    consts = {k[1:]: v for k, v in options.items() if k.startswith("@")}
    return kw, consts


@contextmanager
def module_constants(consts: dict[str, Any]) -> Iterator[None]:
    """Set ``optimizer.response`` module constants ({``module.NAME``: value}) inside the block,
    restored after it."""
    saved = []
    try:
        for name, value in consts.items():
            m, attr = _constant(name)
            saved.append((m, attr, getattr(m, attr)))
            setattr(m, attr, value)
        yield
    finally:
        for m, attr, value in reversed(saved):
            setattr(m, attr, value)


def fit_with_options(history: Any, options: dict[str, Any]) -> ResponseModel:
    """``fit_model(history, **keywords)`` with the options' ``@module.NAME`` constants set for
    this fit alone."""
    kw, consts = split(options)
    with module_constants(consts):
        return fit_model(history, **kw)
