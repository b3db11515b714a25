"""The hand-computed scenario of docs/metrics-lifecycle.md: two models, three months."""

from __future__ import annotations

from mlreport.metrics import Window

from .builder import Registry, d

JAN = Window(d("2026-01-01"), d("2026-02-01"))
FEB = Window(d("2026-02-01"), d("2026-03-01"))
MAR = Window(d("2026-03-01"), d("2026-04-01"))
MONTHS = [JAN, FEB, MAR]


def credit(r: Registry, name: str = "credit") -> Registry:
    """Promoted twice in January, rolled back on 1 Feb 00:00, then v3 (whose run is unknown).

    Production alias is ``champion`` only (config); ``challenger`` and ``production`` moves
    are not production here.
    """
    r.model(name, description=None)
    r.entity(name, owner="risk@example.com", risk_tier="high")
    r.run("r1", d("2026-01-02"), git_sha="a" * 40, params={"lr": "0.1"})
    r.run("r2", d("2026-01-10"), git_sha="b" * 40)
    r.run("r3", d("2026-02-01"), status="FAILED")
    r.run("r4", d("2026-02-05"), status="KILLED")
    r.run("r5", d("2026-02-10"), status="RUNNING")
    r.run("r6", d("2026-02-12"), stage="deleted")
    r.run("r7", d("2026-02-01"), experiment_id="2")  # no version comes from experiment 2
    r.version(name, "1", "r1", d("2026-01-03"), description="first")
    r.version(name, "2", "r2", d("2026-01-11"), description="second", tags={"signed-off": "yes"})
    r.version(name, "3", "gone", d("2026-02-06"), tags={"signed-off": "true"})
    r.alias_set(name, "1", "champion", d("2026-01-05"))
    r.alias_set(name, "2", "champion", d("2026-01-12", 12), previous="1")
    r.alias_set(name, "1", "champion", d("2026-02-01"), previous="2")  # rollback
    r.alias_set(name, "3", "challenger", d("2026-02-07"))
    r.alias_set(name, "3", "champion", d("2026-02-20"), previous="1", at_kind="sync_time")
    r.alias_set(name, "2", "production", d("2026-03-05"))  # not a production alias here
    return r


def fraud(r: Registry, name: str = "fraud") -> Registry:
    """No previous_version in the events: the history says what the alias left."""
    r.model(name, owner="fraud@example.com", description="Flags card fraud")
    r.run("f1", d("2026-01-01"), experiment_id="9")
    r.run("f2", d("2026-01-02", 6), experiment_id="9", status="FAILED")
    r.version(name, "1", "f1", d("2026-01-01", 1), tags={"signed-off": "false"})
    r.version(name, "2", "f1", d("2026-01-02"), tags={"signed-off": "1"})
    r.version(name, "10", "f1", d("2026-01-20"), tags={"signed-off": "1"})
    r.alias_set(name, "1", "champion", d("2026-01-03"))
    r.alias_set(name, "2", "champion", d("2026-01-04"))  # holder 1 -> promotion
    r.alias_removed(name, "2", "champion", d("2026-01-06"))
    r.alias_set(name, "1", "champion", d("2026-01-07"))  # alias was unset: not a rollback
    r.alias_set(name, "10", "champion", d("2026-01-21"))  # 10 > 1 numerically: promotion
    r.alias_set(name, "2", "champion", d("2026-01-22"))  # 2 < 10: rollback
    return r


# (metric, entity, window, stat) -> (value, n), computed by hand in the docs' worked example.
EXPECTED = {
    ("lifecycle.versions_created", "credit", JAN, None): (2, 2),
    ("lifecycle.versions_created", "credit", FEB, None): (1, 1),
    ("lifecycle.versions_created", "credit", MAR, None): (0, 0),
    ("lifecycle.promotions", "credit", JAN, None): (2, 2),
    ("lifecycle.promotions", "credit", FEB, None): (1, 1),
    ("lifecycle.promotions", "credit", MAR, None): (0, 0),
    ("lifecycle.rollbacks", "credit", JAN, None): (0, 0),
    ("lifecycle.rollbacks", "credit", FEB, None): (1, 1),
    ("lifecycle.rollbacks", "credit", MAR, None): (0, 0),
    # Jan ends 1 Feb 00:00; the rollback at exactly that instant belongs to February.
    ("lifecycle.days_since_promotion", "credit", JAN, None): (19.5, 1),
    ("lifecycle.days_since_promotion", "credit", FEB, None): (9.0, 1),
    ("lifecycle.days_since_promotion", "credit", MAR, None): (40.0, 1),
    # v1: 2 Jan -> 5 Jan = 72 h; v2: 10 Jan -> 12 Jan 12:00 = 60 h.
    ("lifecycle.model_lead_time", "credit", JAN, "p50"): (66.0, 2),
    ("lifecycle.model_lead_time", "credit", JAN, "p75"): (69.0, 2),
    ("lifecycle.model_lead_time", "credit", JAN, "p90"): (70.8, 2),
    ("lifecycle.model_lead_time", "credit", FEB, "p50"): (None, 0),  # v3's run is unknown
    ("lifecycle.run_success_rate", "credit", JAN, None): (1.0, 2),
    ("lifecycle.run_success_rate", "credit", FEB, None): (0.0, 2),
    ("lifecycle.run_success_rate", "credit", MAR, None): (None, 0),
    # champion holds v2 (owner from entities, description, signed-off) at Jan's end; v3 later.
    ("lifecycle.governed_share", "credit", JAN, None): (1.0, 1),
    ("lifecycle.governed_share", "credit", FEB, None): (0.0, 1),
    ("lifecycle.governed_share", "credit", MAR, None): (0.0, 1),
    ("lifecycle.versions_created", "fraud", JAN, None): (3, 3),
    ("lifecycle.promotions", "fraud", JAN, None): (4, 4),
    ("lifecycle.rollbacks", "fraud", JAN, None): (1, 1),
    ("lifecycle.days_since_promotion", "fraud", JAN, None): (10.0, 1),
    # v1 3 Jan (from 1 Jan: 48 h), v2 4 Jan (from 1 Jan: 72 h), v10 21 Jan (480 h).
    ("lifecycle.model_lead_time", "fraud", JAN, "p50"): (72.0, 3),
    ("lifecycle.model_lead_time", "fraud", JAN, "p90"): (398.4, 3),
    ("lifecycle.run_success_rate", "fraud", JAN, None): (0.5, 2),
    ("lifecycle.governed_share", "fraud", JAN, None): (1.0, 1),  # v2: model owner + desc.
    ("lifecycle.governed_share", "fraud", FEB, None): (1.0, 1),
}
