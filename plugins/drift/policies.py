"""Which drift policies flag a feature: the per-feature policies that apply to an entity
(the defaults when none do) and the [min, max] test. The family's ``drift.share`` and the
quality report's drift section use the same rules.
"""

from __future__ import annotations

from mlreport.config import Config, PolicyConfig

# Per-feature metrics a policy can flag a feature by.
FEATURE_METRICS = (
    "drift.psi",
    "drift.ks",
    "drift.ks_pvalue",
    "drift.wasserstein",
    "drift.jensen_shannon",
    "drift.unseen_categories",
    "drift.missing_share",
)
# Used when no policy names a per-feature drift metric (for this log's entity).
DEFAULT_POLICIES = {
    "drift.psi": PolicyConfig(max=0.2),
    "drift.jensen_shannon": PolicyConfig(max=0.1),
}


def feature_policies(config: Config, entity: str) -> dict[str, PolicyConfig]:
    """The per-feature drift policies that apply to ``entity``; the defaults if none do."""
    found = {
        metric: p
        for metric, p in config.policies.items()
        if metric in FEATURE_METRICS and p.stat is None and p.entity in (None, entity)
    }
    return found or dict(DEFAULT_POLICIES)


def violates(policy: PolicyConfig, value: float | None) -> bool:
    """Outside [min, max]; no value (no data) never flags, as in policy checks."""
    if value is None:
        return False
    return (policy.min is not None and value < policy.min) or (
        policy.max is not None and value > policy.max
    )


def failed_metrics(values: dict[str, float | None], policies: dict[str, PolicyConfig]) -> list[str]:
    """The per-feature metrics whose policy flags this feature's values, in catalogue order."""
    return [m for m in FEATURE_METRICS if m in policies and violates(policies[m], values.get(m))]
