"""The win model: LightGBM on the organisation's own closed deals, calibrated on later deals and
evaluated on the latest ones (a time-ordered split), explained per deal by its SHAP values
(`pred_contrib=True`) turned into sentences. Files are written with skops (never pickle) and
loaded trusting only the few types a model file holds.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TRUSTED_TYPES = frozenset({"collections.OrderedDict", "lightgbm.basic.Booster", "lightgbm.sklearn.LGBMClassifier",
                           "sklearn.isotonic.IsotonicRegression", "sklearn.linear_model._logistic.LogisticRegression",
                           "numpy.dtype", "numpy.ndarray", "builtins.slice"})

SPLIT = (0.70, 0.15, 0.15)  # in order of close date: the last part is the test set (the first two are fit on together)
FOLDS = 3  # time-ordered folds whose out-of-fold scores calibrate the model
FOLD_MAX_ROWS = 200_000  # rows a fold model is fit on at most (sampled): bounds training time on big histories
# One thread by default: on a shared machine OpenMP threads that wait for a busy core spin, and two
# threads trained 10x slower than one in our measurements (DEALPILOT_WIN_MODEL_THREADS overrides).
LGBM_PARAMS = {"n_estimators": 200, "learning_rate": 0.07, "num_leaves": 15, "min_child_samples": 20,
               "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "reg_lambda": 1.0,
               "max_cat_to_onehot": 8, "cat_smooth": 10, "verbose": -1,
               "n_jobs": int(os.environ.get("DEALPILOT_WIN_MODEL_THREADS", "1"))}
ISOTONIC_MIN_ROWS = 400  # fewer calibration rows than this: Platt scaling (a logistic curve) instead


class ModelFileError(ValueError):
    """A model file that is missing, unreadable or holds types a model file never holds."""


@dataclass
class Encoder:
    """Columns to a float matrix: numbers as they are, categories as codes learnt in training
    (an unseen category reads as missing)."""

    columns: list[str]
    categorical: list[str]
    vocab: dict[str, list[str]] = field(default_factory=dict)

    def fit(self, rows: list[dict]) -> Encoder:
        for c in self.categorical:
            counts: dict[str, int] = {}
            for r in rows:
                v = str(r.get(c, ""))
                counts[v] = counts.get(v, 0) + 1
            self.vocab[c] = sorted(counts, key=lambda v: (-counts[v], v))[:200]
        return self

    def transform(self, rows: list[dict]) -> np.ndarray:
        x = np.full((len(rows), len(self.columns)), np.nan, dtype=np.float64)
        lookups = {c: {v: i for i, v in enumerate(self.vocab.get(c, []))} for c in self.categorical}
        for j, c in enumerate(self.columns):
            if c in lookups:
                table = lookups[c]
                x[:, j] = [table.get(str(r.get(c, "")), np.nan) for r in rows]
            else:
                x[:, j] = [np.nan if r.get(c) is None else float(r[c]) for r in rows]
        return x

    @property
    def categorical_indexes(self) -> list[int]:
        return [self.columns.index(c) for c in self.categorical]


@dataclass
class WinModel:
    encoder: Encoder
    model: object  # LGBMClassifier
    calibrator: object  # IsotonicRegression or LogisticRegression on the raw score
    calibration: str

    def raw_scores(self, x: np.ndarray) -> np.ndarray:
        return self.model.booster_.predict(x, raw_score=True)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        if self.calibration == "isotonic":
            p = self.calibrator.predict(raw)
        else:
            p = self.calibrator.predict_proba(raw.reshape(-1, 1))[:, 1]
        return np.clip(p, 0.005, 0.995)  # never a certain win or loss: deals are not decided yet

    def predict(self, rows: list[dict]) -> np.ndarray:
        return self.calibrate(self.raw_scores(self.encoder.transform(rows)))

    def contributions(self, rows: list[dict]) -> np.ndarray:
        """SHAP values per row and column (log-odds), the bias in the last column."""
        return self.model.booster_.predict(self.encoder.transform(rows), pred_contrib=True)


def fit_lightgbm(x: np.ndarray, y: np.ndarray, categorical: list[int], *, weights: np.ndarray | None = None,
                 params: dict | None = None):
    from lightgbm import LGBMClassifier

    model = LGBMClassifier(**(params or LGBM_PARAMS))
    model.fit(x, y, sample_weight=weights, categorical_feature=categorical or "auto")
    return model


def fit_calibrator(raw: np.ndarray, y: np.ndarray):
    if len(raw) >= ISOTONIC_MIN_ROWS:
        from sklearn.isotonic import IsotonicRegression

        return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y), "isotonic"
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(raw.reshape(-1, 1), y), "platt"


# ---- evaluation -----------------------------------------------------------------------------------


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """The mean gap between predicted and observed win rates over ten equal-width bins, weighted by
    the rows in each."""
    p, y = np.asarray(p, float), np.asarray(y, float)
    edges = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = edges == b
        if mask.any():
            total += mask.sum() * abs(p[mask].mean() - y[mask].mean())
    return float(total / len(p)) if len(p) else math.nan


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict]:
    p, y = np.asarray(p, float), np.asarray(y, float)
    edges = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        mask = edges == b
        if mask.any():
            out.append({"bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}", "predicted": round(float(p[mask].mean()), 4),
                        "observed": round(float(y[mask].mean()), 4), "rows": int(mask.sum())})
    return out


def evaluate(p: np.ndarray, y: np.ndarray) -> dict:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    y = np.asarray(y)
    auc = float(roc_auc_score(y, p)) if len(set(y.tolist())) == 2 else math.nan
    return {"auc": round(auc, 4), "brier": round(float(brier_score_loss(y, p)), 4),
            "ece": round(expected_calibration_error(p, y), 4), "rows": int(len(y)), "won_share": round(float(np.mean(y)), 4),
            "reliability": reliability(p, y)}


def time_ordered_split(close_days: list, deal_ids: list[int], split=SPLIT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row masks for train / calibration / test: deals sorted by close date (then id), cut by deal
    so that every snapshot of one deal lands in the same part."""
    deals = sorted(set(zip(close_days, deal_ids)))
    n = len(deals)
    a, b = int(n * split[0]), int(n * (split[0] + split[1]))
    part = {d: (0 if i < a else 1 if i < b else 2) for i, (_, d) in enumerate(deals)}
    which = np.array([part[d] for d in deal_ids])
    return which == 0, which == 1, which == 2


@dataclass
class TrainingResult:
    model: WinModel
    metrics: dict
    counts: tuple[int, int, int]
    seconds: float


def _blocks(close_days: list, deal_ids: list[int], mask: np.ndarray, n_blocks: int) -> np.ndarray:
    """Each row's block (0..n_blocks-1) among the rows in `mask`, cut by deal in close-date order;
    -1 outside the mask."""
    deals = sorted({(c, d) for c, d, m in zip(close_days, deal_ids, mask) if m})
    block_of = {d: min(n_blocks - 1, i * n_blocks // max(1, len(deals))) for i, (_, d) in enumerate(deals)}
    return np.array([block_of[d] if m else -1 for d, m in zip(deal_ids, mask)])


def train(rows: list[dict], labels: list[int], deal_ids: list[int], close_days: list, columns: list[str],
          categorical: list[str], *, params: dict | None = None, folds: int = FOLDS,
          fold_max_rows: int = FOLD_MAX_ROWS) -> TrainingResult:
    """Evaluate on the latest deals (the last part of SPLIT, by close date) a model fit on all the
    earlier ones and calibrated on out-of-fold scores (see `train_matrix`)."""
    started = time.perf_counter()
    train_mask, cal_mask, _ = time_ordered_split(close_days, deal_ids)
    encoder = Encoder(columns, categorical).fit([r for r, m in zip(rows, train_mask | cal_mask) if m])
    result = train_matrix(encoder.transform(rows), labels, deal_ids, close_days, encoder, params=params, folds=folds,
                          fold_max_rows=fold_max_rows)
    result.seconds = time.perf_counter() - started
    return result


def train_matrix(x: np.ndarray, labels, deal_ids: list[int], close_days: list, encoder: Encoder, *,
                 params: dict | None = None, folds: int = FOLDS, fold_max_rows: int = FOLD_MAX_ROWS) -> TrainingResult:
    """The earlier deals are cut in folds + 1 blocks in time order, and each block after the first
    is scored by a model fit on the blocks before it (at most fold_max_rows rows, sampled), so the
    calibration sees many months, not one slice whose win rate may drift; the model itself is fit
    on all of them. Each deal's snapshots weigh one deal in total."""
    started = time.perf_counter()
    y = np.asarray(labels, dtype=np.int32)
    train_mask, cal_mask, test_mask = time_ordered_split(close_days, deal_ids)
    fit_mask = train_mask | cal_mask
    ids = np.asarray(deal_ids)
    _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[inverse]
    block = _blocks(close_days, deal_ids, fit_mask, folds + 1)
    oof = np.full(len(y), np.nan)
    rng = np.random.default_rng(0)
    for k in range(1, folds + 1):
        before = np.flatnonzero((block >= 0) & (block < k))
        if len(before) > fold_max_rows:
            before = np.sort(rng.choice(before, fold_max_rows, replace=False))
        if len(set(y[before].tolist())) < 2:
            continue
        fold_model = fit_lightgbm(x[before], y[before], encoder.categorical_indexes, weights=weights[before], params=params)
        rows_k = block == k
        oof[rows_k] = fold_model.booster_.predict(x[rows_k], raw_score=True)
    scored = ~np.isnan(oof)
    model = fit_lightgbm(x[fit_mask], y[fit_mask], encoder.categorical_indexes, weights=weights[fit_mask], params=params)
    calibrator, how = fit_calibrator(oof[scored], y[scored])
    win_model = WinModel(encoder, model, calibrator, how)
    raw_test = model.booster_.predict(x[test_mask], raw_score=True)
    metrics = evaluate(win_model.calibrate(raw_test), y[test_mask])
    metrics["uncalibrated"] = {k: v for k, v in evaluate(1 / (1 + np.exp(-raw_test)), y[test_mask]).items()
                               if k in ("auc", "brier", "ece")}
    metrics["calibration"] = how
    n_deals = lambda m: len(set(ids[m].tolist()))  # noqa: E731
    return TrainingResult(win_model, metrics, (n_deals(fit_mask), n_deals(scored), n_deals(test_mask)),
                          time.perf_counter() - started)


# ---- files ----------------------------------------------------------------------------------------


def save(model: WinModel, path: Path, meta: dict) -> None:
    import skops.io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    bundle = {"model": model.model, "calibrator": model.calibrator, "calibration": model.calibration,
              "columns": list(model.encoder.columns), "categorical": list(model.encoder.categorical),
              "vocab": {k: list(v) for k, v in model.encoder.vocab.items()}, "meta": meta}
    tmp = path.with_suffix(".tmp")
    sio.dump(bundle, tmp)
    tmp.replace(path)


def load(path: Path) -> tuple[WinModel, dict]:
    import skops.io as sio

    if not path.is_file():
        raise ModelFileError(f"no model file at {path}")
    try:
        untrusted = set(sio.get_untrusted_types(file=path))
    except Exception as exc:  # a damaged file: say so rather than fail later
        raise ModelFileError(f"unreadable model file {path}: {exc}") from None
    unexpected = untrusted - TRUSTED_TYPES
    if unexpected:
        raise ModelFileError(f"the model file holds unexpected types: {', '.join(sorted(unexpected))}")
    bundle = sio.load(path, trusted=sorted(untrusted))
    encoder = Encoder(list(bundle["columns"]), list(bundle["categorical"]), {k: list(v) for k, v in bundle["vocab"].items()})
    return WinModel(encoder, bundle["model"], bundle["calibrator"], bundle["calibration"]), dict(bundle["meta"])
