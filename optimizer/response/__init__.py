"""Response curves: pure curve math, scikit-learn transformers, fitting, and ``model.json``.

The public names are imported lazily (PEP 562), so ``from optimizer.response import curves`` stays
cheap for the allocator and the CLI: scikit-learn and joblib load only when fitting.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    # optimizer.response.model
    "Adstock": "model",
    "CurveSet": "model",
    "ResponseModel": "model",
    "Saturation": "model",
    "TouchpointResponse": "model",
    "model_from_dict": "model",
    "model_to_json": "model",
    "read_model": "model",
    "write_model": "model",
    # optimizer.response.transformers
    "GeometricAdstock": "transformers",
    "HillSaturation": "transformers",
    "ExponentialSaturation": "transformers",
    "LogisticSaturation": "transformers",
    # optimizer.response.estimator
    "ResponseFitter": "estimator",
    "FitDiagnostics": "estimator",
    # optimizer.response.fit
    "fit_model": "fit",
    "fit_all_kpis": "fit",
    "predict": "fit",
    "contributions": "fit",
}

__all__ = [
    "Adstock",
    "CurveSet",
    "ExponentialSaturation",
    "FitDiagnostics",
    "GeometricAdstock",
    "HillSaturation",
    "LogisticSaturation",
    "ResponseFitter",
    "ResponseModel",
    "Saturation",
    "TouchpointResponse",
    "contributions",
    "fit_all_kpis",
    "fit_model",
    "model_from_dict",
    "model_to_json",
    "predict",
    "read_model",
    "write_model",
]
assert sorted(__all__) == sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from optimizer.response.estimator import FitDiagnostics, ResponseFitter
    from optimizer.response.fit import contributions, fit_all_kpis, fit_model, predict
    from optimizer.response.model import (
        Adstock,
        CurveSet,
        ResponseModel,
        Saturation,
        TouchpointResponse,
        model_from_dict,
        model_to_json,
        read_model,
        write_model,
    )
    from optimizer.response.transformers import (
        ExponentialSaturation,
        GeometricAdstock,
        HillSaturation,
        LogisticSaturation,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
