"""The fitter as a scikit-learn estimator: ``ResponseFitter(...).fit(history).model_``.

Its steps, each a module of its own:

1. ``prepare``: checks of the history (identifiability, lock-step groups), the design matrix
   (baseline with seasonality scaled by the level when the data prefer it, grid columns, lift
   tests);
2. ``search``: the grid search of every touchpoint's transforms by rolling-origin
   cross-validation (the start of the MAP fit, the whole answer of ``method="grid"``);
3. ``mapfit`` + ``joint`` (default, ``method="map"``): the continuous joint MAP fit of every
   touchpoint's transforms with betas and baseline solved inside (variable projection), the family
   by Laplace marginal likelihood, the pooling of marginal ROIs by empirical Bayes, Laplace draws
   (a bootstrap of the MAP fit with lift tests); or ``bootstrap`` (``method="grid"``):
   fixed-strength pooling and moving-block bootstrap refits on the grid;
4. ``report``: curves, draws and diagnostics as a ``ResponseModel`` (``model.json``).

``fit_model(history, ...)`` is ``ResponseFitter(...).fit(history).model_``. The fitted estimator
also gives each touchpoint's media transformation as a ``Pipeline`` of the package's transformers
(``pipelines``), and ``transform`` / ``predict`` on a history through them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sklearn.base import BaseEstimator

from optimizer.data import History
from optimizer.defaults import SEASONAL_EFFECTIVENESS
from optimizer.response.bootstrap import refit_grid
from optimizer.response.decayprior import DECAY_PRIORS
from optimizer.response.joint import POOL_EVIDENCE as POOL_EVIDENCE_OPTIONS
from optimizer.response.joint import PRIOR_REL_CENTRES
from optimizer.response.logpool import POOL_SPACES
from optimizer.response.mapfit import refit_map
from optimizer.response.model import ResponseModel
from optimizer.response.poolpost import POOL_DRAWS as POOL_DRAWS_CHOICES
from optimizer.response.prepare import prepare
from optimizer.response.relprior import REL_PRIORS
from optimizer.response.report import build_model
from optimizer.response.search import grid_search

#: Families the fit considers unless told otherwise: every family ``model.json`` knows.
DEFAULT_FAMILIES: tuple[str, ...] = ("hill", "exponential", "logistic")
METHODS = ("map", "grid")
UNCERTAINTY = ("auto", "laplace", "bootstrap")
POINTS = ("mean", "map")
DECAY_POSTERIORS = ("laplace", "grid")
#: Spread of the Laplace draws relative to the posterior's own. The Gaussian approximation at the
#: MAP ignores the family choice and any misspecification; measured on simulated worlds (dev runs
#: of benchmarks/fit_recovery.py's worlds, docs/response-models.md) its 80% intervals of marginal
#: ROI held the truth for 69% of touchpoints on high-information worlds (61% on low) at 1.0, 79%
#: (71%) at 1.7. The point curves (``point="mean"``) average the posterior itself, not these.
UNCERTAINTY_INFLATE = 2.0
#: Average the point curves and draws over the saturation families by their posterior weights
#: (``mapfit.family_mixture``) instead of using the chosen family alone.
AVERAGE_FAMILIES = False
#: How the pooling weight comes from its evidence (``joint.POOL_EVIDENCE``, ``joint.pooling_weight``):
#: the maximum ("argmax") or the posterior mean of the shrinkage factor ("shrinkage").
POOL_EVIDENCE = "argmax"
POOL_EVIDENCE_CHOICES = POOL_EVIDENCE_OPTIONS
#: The coordinates of the Laplace draws' Gaussian: the transforms and the betas ("beta") or the
#: transforms and each touchpoint's marginal response at its mean spend ("marginal";
#: ``mapfit.laplace_draws``).
LAPLACE_SPACE = "beta"
LAPLACE_SPACE_CHOICES = ("beta", "marginal")
#: The scale of the intervals' Laplace draws of each touchpoint's marginal response: Gaussian
#: ("linear") or log-normal ("log"; ``joint.in_marginal_space``).
INTERVAL_SCALE = "linear"
INTERVAL_SCALE_CHOICES = ("linear", "log")
#: The coordinates of the draws the printed intervals are read from (model.json ``interval_draws``
#: where they differ from the plans' ``draws``; ``drawsets.py``): as ``LAPLACE_SPACE_CHOICES`` or
#: "conditional", or None (the same as the plans' draws). "marginal": the 80% intervals of
#: marginal ROI hold the truth for 83-89% of touchpoints on the simulated worlds (69-74% drawn in
#: the betas), and the plans keep their draws in the betas (docs/response-models-measured.md,
#: "Two draw sets").
INTERVAL_SPACE: str | None = "marginal"
INTERVAL_SPACE_CHOICES = (None, "beta", "marginal", "conditional", "fixed")
#: The coordinates of the plans' Laplace draws (model.json ``draws``: ``--robust``, ``optimize
#: --uncertainty``): as ``INTERVAL_SPACE_CHOICES``, None the same as ``laplace_space``. Where the
#: intervals' coordinates differ, their draws are written apart as ``interval_draws``
#: (``drawsets.py``).
PLAN_SPACE: str | None = None
#: How many interval draws (None: ``n_bootstrap``, as many as the plan draws)
N_INTERVAL_DRAWS: int | None = None
#: The plan draws' spread factor (None: ``uncertainty_inflate``, as the interval draws')
PLAN_INFLATE: float | None = None
#: Where the point curves' marginal ROIs at the mean spend are pooled: the joint fit's linear
#: pooling alone ("linear"), or then a hierarchical prior in their log ("log"; ``logpool.py``).
POOL_SPACE = "linear"
#: Which Laplace draw sets carry the pooling weight's uncertainty (``poolpost.POOL_DRAWS``): each
#: draw at the evidence's best weight ("none"), or the intervals' draws (``interval_draws``) or
#: every set with each draw's weight from the weight's posterior ("intervals", "all").
#: "intervals" is the default since 2026-12-07: the 80% intervals of marginal ROI then hold the
#: truth for 82-95% of touchpoints on all eight sets of simulated worlds (64-91% before: the
#: worlds pooled at full pooling), every plan unchanged (docs/response-models-measured.md, "The
#: pooling weight's uncertainty in the interval draws").
POOL_DRAWS = "intervals"
#: Weeks at the start of the history left out of the MAP fit's likelihood (``startup``)
BURN_IN_WEEKS = 0
INITIAL_CARRYOVER = "fitted"  # optimizer.response.startup
#: Where the half-saturation prior is centred (``joint.prior_of``): "mean" or "operating" (the
#: default since 2026-12-06: docs/response-models.md, "Where the half-saturation prior is centred")
PRIOR_CENTRE = "operating"
#: How the decay prior's sd is chosen (``decayprior``): "fixed" (``joint.PRIOR_DECAY_SD``), or by
#: the evidence: "shared" (one sd) or "touchpoint" (one each). Measured in
#: docs/response-models-measured.md ("The decay prior's width from the evidence")
DECAY_PRIOR = "fixed"
#: How the half-saturation prior's sd is chosen (``relprior``): "fixed"
#: (``joint.PRIOR_LOG_REL_SD``) or "shared" (one sd, by the evidence). Measured in
#: docs/response-models-measured.md ("The half-saturation prior's width from the evidence")
REL_PRIOR = "fixed"


@dataclass(frozen=True)
class FitDiagnostics:
    """The fit's headline diagnostics, typed (the full set is ``model_.diagnostics``)."""

    r2: float
    mape_holdout: float | None
    nrmse_holdout: float | None
    cv_rmse: float | None
    n_weeks: int
    holdout_weeks: int
    noise_sd: float | None
    pooled_marginal_roi: float | None
    pooling: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @classmethod
    def of(cls, model: ResponseModel) -> FitDiagnostics:
        d = model.diagnostics or {}
        return cls(
            r2=float(d["r2"]),
            mape_holdout=d.get("mape_holdout"),
            nrmse_holdout=d.get("nrmse_holdout"),
            cv_rmse=d.get("cv_rmse"),
            n_weeks=int(d["n_weeks"]),
            holdout_weeks=int(d["holdout_weeks"]),
            noise_sd=d.get("noise_sd"),
            pooled_marginal_roi=(model.fit or {}).get("pooled_marginal_roi"),
            pooling=dict(d.get("pooling") or {}),
            warnings=tuple(d.get("warnings") or ()),
        )


class ResponseFitter(BaseEstimator):
    """Fit one KPI's response curves (see ``fit_model`` for every parameter).

    ``random_state`` seeds the draws (the curves do not depend on it); ``fit(history)`` sets
    ``model_`` (a ``ResponseModel``) and ``diagnostics_`` (``FitDiagnostics``).
    """

    def __init__(
        self,
        *,
        kpi: str | None = None,
        random_state: int = 0,
        method: str = "map",
        n_bootstrap: int = 20,
        holdout_weeks: int = 13,
        families: Sequence[str] | None = None,
        allow_s_curves: bool = False,
        fourier_pairs: int = 3,
        seasonal_trend: bool | None = None,
        prior_weight: float = 1.0,
        uncertainty_inflate: float = UNCERTAINTY_INFLATE,
        uncertainty: str = "auto",
        point: str = "mean",
        average_families: bool = AVERAGE_FAMILIES,
        decay_posterior: str = "laplace",
        ridge: float = 0.003,
        baseline_ridge: float = 0.001,
        cv_splits: int | None = None,
        cv_test_weeks: int = 13,
        sweeps: int | None = None,
        block_weeks: int = 8,
        bootstrap_search: bool = True,
        bootstrap_perturb: bool = True,
        shape_prior: float = 3.0,
        pool_marginal: float = 0.1,
        n_jobs: int = 1,
        record_time: bool = False,
        executor: Any = None,
        calibration: Any = None,
        progress: Callable[[str, int, int], None] | None = None,
        seasonal_effectiveness: bool = SEASONAL_EFFECTIVENESS,
        pool_evidence: str = POOL_EVIDENCE,
        laplace_space: str = LAPLACE_SPACE,
        interval_scale: str = INTERVAL_SCALE,
        interval_space: str | None = INTERVAL_SPACE,
        plan_space: str | None = PLAN_SPACE,
        n_interval_draws: int | None = N_INTERVAL_DRAWS,
        plan_inflate: float | None = PLAN_INFLATE,
        pool_space: str = POOL_SPACE,
        burn_in_weeks: int = BURN_IN_WEEKS,
        initial_carryover: str = INITIAL_CARRYOVER,
        prior_centre: str = PRIOR_CENTRE,
        pool_draws: str = POOL_DRAWS,
        decay_prior: str = DECAY_PRIOR,
        decay_priors: Mapping[str, tuple[float, float]] | None = None,
        decay_profile: bool = False,
        rel_prior: str = REL_PRIOR,
    ) -> None:
        self.kpi = kpi
        self.random_state = random_state
        self.method = method
        self.n_bootstrap = n_bootstrap
        self.holdout_weeks = holdout_weeks
        self.families = families
        self.allow_s_curves = allow_s_curves
        self.fourier_pairs = fourier_pairs
        self.seasonal_trend = seasonal_trend
        self.prior_weight = prior_weight
        self.uncertainty_inflate = uncertainty_inflate
        self.uncertainty = uncertainty
        self.point = point
        self.average_families = average_families
        self.decay_posterior = decay_posterior
        self.ridge = ridge
        self.baseline_ridge = baseline_ridge
        self.cv_splits = cv_splits
        self.cv_test_weeks = cv_test_weeks
        self.sweeps = sweeps
        self.block_weeks = block_weeks
        self.bootstrap_search = bootstrap_search
        self.bootstrap_perturb = bootstrap_perturb
        self.shape_prior = shape_prior
        self.pool_marginal = pool_marginal
        self.n_jobs = n_jobs
        self.record_time = record_time
        self.executor = executor
        self.calibration = calibration
        self.progress = progress
        self.seasonal_effectiveness = seasonal_effectiveness
        self.pool_evidence = pool_evidence
        self.laplace_space = laplace_space
        self.interval_scale = interval_scale
        self.interval_space = interval_space
        self.plan_space = plan_space
        self.n_interval_draws = n_interval_draws
        self.plan_inflate = plan_inflate
        self.pool_space = pool_space
        self.burn_in_weeks = burn_in_weeks
        self.initial_carryover = initial_carryover
        self.prior_centre = prior_centre
        self.pool_draws = pool_draws
        self.decay_prior = decay_prior
        self.decay_priors = decay_priors
        self.decay_profile = decay_profile
        self.rel_prior = rel_prior

    def fit(self, history: History, y: Any = None) -> ResponseFitter:
        # one BLAS thread: the fit's matrices are small (weeks x touchpoints), where threaded
        # BLAS spends more CPU than it saves (measured: 15 touchpoints x 156 weeks, 3.6 s of CPU
        # threaded against 1.2 s), and a fit gives the same bits in any process or worker
        from optimizer.threads import one_blas_thread

        with one_blas_thread():
            return self._fit(history)

    def _fit(self, history: History) -> ResponseFitter:
        t0 = time.perf_counter()
        if self.method not in METHODS:
            raise ValueError(
                f"The 'method' parameter of fit_model must be one of {', '.join(METHODS)}. "
                f"Got {self.method!r} instead."
            )
        if self.uncertainty not in UNCERTAINTY:
            raise ValueError(
                f"The 'uncertainty' parameter of fit_model must be one of "
                f"{', '.join(UNCERTAINTY)}. Got {self.uncertainty!r} instead."
            )
        if self.point not in POINTS:
            raise ValueError(
                f"The 'point' parameter of fit_model must be one of {', '.join(POINTS)}. "
                f"Got {self.point!r} instead."
            )
        if self.pool_evidence not in POOL_EVIDENCE_CHOICES:
            raise ValueError(
                f"The 'pool_evidence' parameter of fit_model must be one of "
                f"{', '.join(POOL_EVIDENCE_CHOICES)}. Got {self.pool_evidence!r} instead."
            )
        if self.decay_posterior not in DECAY_POSTERIORS:
            raise ValueError(
                f"The 'decay_posterior' parameter of fit_model must be one of "
                f"{', '.join(DECAY_POSTERIORS)}. Got {self.decay_posterior!r} instead."
            )
        if self.laplace_space not in LAPLACE_SPACE_CHOICES:
            raise ValueError(
                f"The 'laplace_space' parameter of fit_model must be one of "
                f"{', '.join(LAPLACE_SPACE_CHOICES)}. Got {self.laplace_space!r} instead."
            )
        if (
            isinstance(self.burn_in_weeks, bool)
            or not isinstance(self.burn_in_weeks, int)
            or (self.burn_in_weeks < 0)
        ):
            raise ValueError(
                "The 'burn_in_weeks' parameter of fit_model must be an int >= 0. "
                f"Got {self.burn_in_weeks!r} instead."
            )
        if self.initial_carryover not in ("zero", "fitted"):
            raise ValueError(
                "The 'initial_carryover' parameter of fit_model must be one of zero, fitted. "
                f"Got {self.initial_carryover!r} instead."
            )
        if self.prior_centre not in PRIOR_REL_CENTRES:
            raise ValueError(
                "The 'prior_centre' parameter of fit_model must be one of "
                f"{', '.join(PRIOR_REL_CENTRES)}. Got {self.prior_centre!r} instead."
            )
        if self.pool_draws not in POOL_DRAWS_CHOICES:
            raise ValueError(
                "The 'pool_draws' parameter of fit_model must be one of "
                f"{', '.join(POOL_DRAWS_CHOICES)}. Got {self.pool_draws!r} instead."
            )
        if self.decay_prior not in DECAY_PRIORS:
            raise ValueError(
                "The 'decay_prior' parameter of fit_model must be one of "
                f"{', '.join(DECAY_PRIORS)}. Got {self.decay_prior!r} instead."
            )
        if self.rel_prior not in REL_PRIORS:
            raise ValueError(
                "The 'rel_prior' parameter of fit_model must be one of "
                f"{', '.join(REL_PRIORS)}. Got {self.rel_prior!r} instead."
            )
        if self.interval_scale not in INTERVAL_SCALE_CHOICES:
            raise ValueError(
                f"The 'interval_scale' parameter of fit_model must be one of "
                f"{', '.join(INTERVAL_SCALE_CHOICES)}. Got {self.interval_scale!r} instead."
            )
        if self.interval_space not in INTERVAL_SPACE_CHOICES:
            raise ValueError(
                "The 'interval_space' parameter of fit_model must be one of beta, marginal, "
                "conditional, fixed or "
                f"None (as plan_space). Got {self.interval_space!r} instead."
            )
        if self.plan_space not in INTERVAL_SPACE_CHOICES:
            raise ValueError(
                "The 'plan_space' parameter of fit_model must be one of beta, marginal, "
                f"conditional, fixed or None (as laplace_space). Got {self.plan_space!r} instead."
            )
        if self.average_families and "fixed" in (self.plan_space, self.interval_space):
            raise ValueError(
                "fit_model's 'fixed' draws hold the transforms at the point curves'; the family "
                "mixture (average_families=True) draws other families' transforms: choose one."
            )
        n_int = self.n_interval_draws
        if n_int is not None and (
            isinstance(n_int, bool) or not isinstance(n_int, int) or n_int < 2
        ):
            raise ValueError(
                "The 'n_interval_draws' parameter of fit_model must be an int >= 2 or None (as "
                f"n_bootstrap). Got {n_int!r} instead."
            )
        if self.pool_space not in POOL_SPACES:
            raise ValueError(
                f"The 'pool_space' parameter of fit_model must be one of "
                f"{', '.join(POOL_SPACES)}. Got {self.pool_space!r} instead."
            )
        for name in ("prior_weight", "uncertainty_inflate"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                raise ValueError(
                    f"The {name!r} parameter of fit_model must be a number >= 0. Got {v!r} instead."
                )
        k = self.plan_inflate
        if k is not None and (isinstance(k, bool) or not isinstance(k, (int, float)) or not k >= 0):
            raise ValueError(
                "The 'plan_inflate' parameter of fit_model must be a number >= 0 or None (as "
                f"uncertainty_inflate). Got {k!r} instead."
            )
        report = self.progress or (lambda stage, done, total: None)
        # the grid search only starts the MAP fit, which refines every transform: one sweep
        sweeps = (1 if self.method == "map" else 3) if self.sweeps is None else self.sweeps
        families = DEFAULT_FAMILIES if self.families is None else self.families
        if self.families is None:
            # the grid (the MAP fit's start, the whole answer of method="grid") searches hill and
            # exponential; the MAP fit's family choice tries every family
            families = ("hill", "exponential")
        d = prepare(
            history,
            self.kpi,
            families=families,
            allow_s_curves=self.allow_s_curves,
            fourier_pairs=self.fourier_pairs,
            ridge=self.ridge,
            baseline_ridge=self.baseline_ridge,
            holdout_weeks=self.holdout_weeks,
            calibration=self.calibration,
            seasonal_trend=self.seasonal_trend if self.method == "map" else False,
            shape_prior=self.shape_prior,
            pool_marginal=self.pool_marginal,
            n_bootstrap=self.n_bootstrap,
            cv_test_weeks=self.cv_test_weeks,
            sweeps=sweeps,
            block_weeks=self.block_weeks,
        )
        sr = grid_search(
            d,
            sweeps=sweeps,
            cv_splits=self.cv_splits,
            cv_test_weeks=self.cv_test_weeks,
            shape_prior=self.shape_prior,
            n_jobs=self.n_jobs,
            report=report,
        )
        if self.method == "map":
            fitted = refit_map(
                d,
                sr,
                seed=int(self.random_state),
                n_bootstrap=int(self.n_bootstrap),
                prior_weight=float(self.prior_weight),
                allow_s_curves=bool(self.allow_s_curves),
                report=report,
                inflate=float(self.uncertainty_inflate),
                families=DEFAULT_FAMILIES if self.families is None else tuple(self.families),
                uncertainty=self.uncertainty,
                point=self.point,
                average_families=bool(self.average_families),
                decay_posterior=self.decay_posterior,
                perturb=bool(self.bootstrap_perturb),
                pool_evidence=str(self.pool_evidence),
                laplace_space=str(self.laplace_space),
                interval_scale=str(self.interval_scale),
                interval_space=None if self.interval_space is None else str(self.interval_space),
                plan_space=None if self.plan_space is None else str(self.plan_space),
                n_interval_draws=None if n_int is None else int(n_int),
                plan_inflate=None if self.plan_inflate is None else float(self.plan_inflate),
                pool_space=str(self.pool_space),
                burn_in=int(self.burn_in_weeks),
                initial_carryover=str(self.initial_carryover),
                prior_centre=str(self.prior_centre),
                pool_draws=str(self.pool_draws),
                decay_prior=str(self.decay_prior),
                decay_priors=dict(self.decay_priors or {}),
                decay_profile=bool(self.decay_profile),
                rel_prior=str(self.rel_prior),
                block_weeks=int(self.block_weeks),
                executor=self.executor,
            )
        else:
            fitted = refit_grid(
                d,
                sr,
                seed=int(self.random_state),
                n_bootstrap=int(self.n_bootstrap),
                block_weeks=int(self.block_weeks),
                bootstrap_search=bool(self.bootstrap_search),
                bootstrap_perturb=bool(self.bootstrap_perturb),
                shape_prior=float(self.shape_prior),
                pool_marginal=float(self.pool_marginal),
                executor=self.executor,
                report=report,
            )
        fitted.options.update(
            {
                "allow_s_curves": bool(self.allow_s_curves),
                "cv_splits": sr.n_splits,
                "cv_test_weeks": sr.test_size,
                "sweeps": sweeps,
                "sweeps_run": sr.sweeps_run,
                "shape_prior": float(self.shape_prior),
            }
        )
        self.model_ = build_model(
            d,
            fitted,
            seed=int(self.random_state),
            n_bootstrap=int(self.n_bootstrap),
            t0=t0,
            record_time=bool(self.record_time),
        )
        if self.seasonal_effectiveness:  # contract 7: a season of the media effect, if any
            from optimizer.response.design import _resolve_kpi
            from optimizer.response.seasonal_effect import with_seasonal_effectiveness

            column = _resolve_kpi(history, self.kpi).column
            self.model_ = with_seasonal_effectiveness(self.model_, history, column)
        else:  # switched off: flat, and the diagnostics say it was not tested
            from optimizer.response.seasonal_effect import not_tested

            self.model_ = not_tested(self.model_)
        self.diagnostics_ = FitDiagnostics.of(self.model_)
        return self

    # --- the fitted model as scikit-learn pipelines of the package's transformers -------------
    def pipelines(self) -> dict[str, Any]:
        """Per touchpoint, its fitted media transformation as a scikit-learn ``Pipeline`` of the
        package's own transformers (``GeometricAdstock`` then the family's saturation, unit
        beta); ``model_`` holds the betas."""
        from sklearn.pipeline import make_pipeline

        from optimizer.response.transformers import (
            ExponentialSaturation,
            GeometricAdstock,
            HillSaturation,
            LogisticSaturation,
        )

        families = {
            "hill": HillSaturation,
            "exponential": ExponentialSaturation,
            "logistic": LogisticSaturation,
        }
        out: dict[str, Any] = {}
        for tid, tp in self.model_.touchpoints.items():
            params = {k: v for k, v in tp.curve.params.items() if k != "beta"}
            steps = []
            if tp.adstock is not None:
                steps.append(
                    GeometricAdstock(
                        decay=tp.adstock.decay,
                        normalize=tp.adstock.normalize,
                        max_lag=tp.adstock.max_lag,
                    )
                )
            steps.append(families[tp.curve.family](**params))
            out[tid] = make_pipeline(*steps)
        return out

    def transform(self, history: History) -> Any:
        """The media design of ``history``: one column per touchpoint, its weekly response with
        unit beta (``pipelines()`` applied to its spend column), as a DataFrame."""
        import pandas as pd

        frame = history.frame
        cols = {
            tid: pipe.fit_transform(frame[[tid]].to_numpy(dtype=float)).ravel()
            for tid, pipe in self.pipelines().items()
        }
        return pd.DataFrame(cols, index=frame.index)

    def predict(self, history: History) -> Any:
        """The fitted KPI of each week of ``history``: the betas times ``transform(history)``,
        plus the lock-step groups' nuisance columns and the fitted baseline (as
        ``optimizer.response.fit.predict``)."""
        import numpy as np

        from optimizer.response.fit import contributions

        media = self.transform(history)
        beta = np.array([tp.curve.beta for tp in self.model_.touchpoints.values()])
        parts = contributions(self.model_, history)
        rest = parts.drop(columns=list(self.model_.touchpoints)).sum(axis=1).to_numpy()
        return media.to_numpy() @ beta + rest
