"""What the ``quality`` report calls each metric, and which it puts where."""

from __future__ import annotations

# Metric -> (label, display unit). Units follow ``format_value``: "ratio" shows a percentage,
# None a plain number.
LABELS: dict[str, tuple[str, str | None]] = {
    "performance.accuracy": ("Accuracy", "ratio"),
    "performance.precision": ("Precision", "ratio"),
    "performance.recall": ("Recall", "ratio"),
    "performance.f1": ("F1", "ratio"),
    "performance.roc_auc": ("ROC AUC", None),
    "performance.log_loss": ("Log loss", None),
    "performance.brier": ("Brier score", None),
    "performance.mae": ("MAE", None),
    "performance.rmse": ("RMSE", None),
    "performance.r2": ("R²", None),
    "performance.mape": ("MAPE", "ratio"),
    "performance.labelled_share": ("Labelled share", "ratio"),
    "performance.degradation": ("Degradation", "ratio"),
    "drift.psi": ("PSI", None),
    "drift.ks": ("KS", None),
    "drift.ks_pvalue": ("KS p-value", None),
    "drift.wasserstein": ("Wasserstein (norm.)", None),
    "drift.jensen_shannon": ("Jensen–Shannon", None),
    "drift.unseen_categories": ("Unseen categories", "count"),
    "drift.missing_share": ("Missing", "ratio"),
    "drift.share": ("Drifted features", "ratio"),
    "fairness.count": ("Rows", "count"),
    "fairness.selection_rate": ("Selection rate", "ratio"),
    "fairness.accuracy": ("Accuracy", "ratio"),
    "fairness.tpr": ("TPR", "ratio"),
    "fairness.fpr": ("FPR", "ratio"),
    "fairness.fnr": ("FNR", "ratio"),
    "fairness.precision": ("Precision", "ratio"),
    "fairness.demographic_parity_difference": ("Demographic parity difference", "ratio"),
    "fairness.demographic_parity_ratio": ("Demographic parity ratio", None),
    "fairness.equalized_odds_difference": ("Equalized odds difference", "ratio"),
    "fairness.equalized_odds_ratio": ("Equalized odds ratio", None),
    "fairness.equal_opportunity_difference": ("Equal opportunity difference", "ratio"),
    "explain.mean_abs_shap": ("Mean |SHAP|", None),
}
HEADLINE = {
    "classification": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "brier"),
    "regression": ("mae", "rmse", "r2", "mape"),
}
TRENDS = {
    "classification": ("accuracy", "f1", "roc_auc", "labelled_share"),
    "regression": ("mae", "rmse", "r2", "labelled_share"),
}
DRIFT_METRICS = (
    "psi",
    "ks",
    "ks_pvalue",
    "wasserstein",
    "jensen_shannon",
    "unseen_categories",
    "missing_share",
)
GROUP_METRICS = ("count", "selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision")
SUMMARIES = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
)
# Parity band per disparity panel: policies tried in order, ("ratio"|"difference", metric).
PARITY = {
    "selection_rate": (
        ("ratio", "fairness.demographic_parity_ratio"),
        ("difference", "fairness.demographic_parity_difference"),
    ),
    "tpr": (
        ("difference", "fairness.equal_opportunity_difference"),
        ("difference", "fairness.equalized_odds_difference"),
        ("ratio", "fairness.equalized_odds_ratio"),
    ),
}
DEFAULT_PARITY_RATIO = 0.8  # the four-fifths rule, when no policy sets a band
MAX_SHAP = 20


def label_of(metric: str) -> str:
    return LABELS.get(metric, (metric.split(".", 1)[-1].replace("_", " ").capitalize(), None))[0]


def unit_of(metric: str) -> str | None:
    return LABELS.get(metric, ("", None))[1]
