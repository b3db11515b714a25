"""The sample organisation: its people, its three teams and the period the demo covers.

Everything here is fixed data. The simulation in ``teams.py`` turns it into Git histories,
deployments and incidents with a seeded random generator, so every machine gets the same
commits (and the same commit shas).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

AS_OF = "2026-07-01T00:00:00Z"
PERIOD_START = date(2026, 1, 5)  # the first Monday of 2026
PERIOD_END = datetime(2026, 7, 1, tzinfo=UTC)  # exclusive; equals AS_OF

# Public holidays nobody works on (the teams share one calendar).
HOLIDAYS = (
    date(2026, 1, 1),
    date(2026, 4, 3),
    date(2026, 4, 6),
    date(2026, 5, 1),
    date(2026, 5, 25),
)


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    utc_offset_minutes: int  # fixed offset of the person's working hours

    @property
    def tz(self) -> str:
        """The offset as Git writes it, e.g. ``+0100``."""
        sign = "-" if self.utc_offset_minutes < 0 else "+"
        minutes = abs(self.utc_offset_minutes)
        return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


@dataclass(frozen=True)
class Team:
    entity: str
    kind: str  # "model" or "service"
    team: str
    owner: str
    risk_tier: str
    intended_use: str
    description: str
    repo: str  # folder under repos/ and the git source's entity
    people: tuple[Person, ...]
    modules: tuple[str, ...]  # files features touch
    topics: tuple[str, ...]  # what features are about
    seed: int


def _p(name: str, email: str, offset: int) -> Person:
    return Person(name, f"{email}@example.com", offset)


CREDIT_RISK = Team(
    entity="credit-risk",
    kind="model",
    team="risk-ml",
    owner="risk-ml@example.com",
    risk_tier="high",
    intended_use="Probability of default for consumer credit applications",
    description="Gradient-boosted PD model served behind the lending decision API.",
    repo="credit-risk",
    people=(
        _p("Amara Okafor", "amara.okafor", 60),
        _p("Lena Fischer", "lena.fischer", 60),
        _p("Tomás Rivera", "tomas.rivera", 60),
        _p("Priya Natarajan", "priya.natarajan", 60),
        _p("Jonas Berg", "jonas.berg", 60),
    ),
    modules=(
        "credit_risk/features.py",
        "credit_risk/scoring.py",
        "credit_risk/calibration.py",
        "credit_risk/reason_codes.py",
        "credit_risk/schema.py",
        "credit_risk/api.py",
        "credit_risk/monitoring.py",
        "tests/test_features.py",
        "tests/test_scoring.py",
        "tests/test_api.py",
        "deploy/values.yaml",
    ),
    topics=(
        "income stability feature",
        "bureau score ingestion",
        "PD calibration curve",
        "monotonic constraints",
        "adverse action reason codes",
        "input schema validation",
        "scoring latency",
        "feature drift alerts",
        "debt-to-income ratio",
        "thin-file applicant handling",
        "champion/challenger routing",
        "model card fields",
        "request logging",
        "shadow scoring",
        "missing value policy",
    ),
    seed=20260118,
)

FRAUD_DETECTOR = Team(
    entity="fraud-detector",
    kind="model",
    team="fraud-platform",
    owner="fraud-platform@example.com",
    risk_tier="high",
    intended_use="Real-time card transaction fraud scoring",
    description="Streaming fraud model and rules engine on the card authorisation path.",
    repo="fraud-detector",
    people=(
        _p("Hannah Novak", "hannah.novak", 60),
        _p("Kwame Mensah", "kwame.mensah", 0),
        _p("Sofia Rossi", "sofia.rossi", 60),
        _p("Daniel Kim", "daniel.kim", -300),
    ),
    modules=(
        "fraud/streaming.py",
        "fraud/rules.py",
        "fraud/model.py",
        "fraud/features/merchant.py",
        "fraud/features/velocity.py",
        "fraud/features/device.py",
        "fraud/thresholds.py",
        "tests/test_rules.py",
        "tests/test_streaming.py",
        "helm/values-production.yaml",
    ),
    topics=(
        "merchant category risk scores",
        "velocity features",
        "device fingerprint join",
        "rules engine rewrite",
        "Kafka consumer batching",
        "threshold tuning",
        "chargeback label backfill",
        "card-not-present model",
        "feature store migration",
        "decline reason mapping",
        "geo-velocity check",
        "model retraining job",
    ),
    seed=20260120,
)

RECSYS_API = Team(
    entity="recsys-api",
    kind="service",
    team="discovery",
    owner="discovery@example.com",
    risk_tier="medium",
    intended_use="Product recommendations for the web shop and app",
    description="Candidate retrieval and ranking API in front of the embedding index.",
    repo="recsys-api",
    people=(
        _p("Mei Chen", "mei.chen", 480),
        _p("Arjun Mehta", "arjun.mehta", 330),
        _p("Laura Martin", "laura.martin", 60),
        _p("Ines Duarte", "ines.duarte", 0),
    ),
    modules=(
        "recsys/retrieval.py",
        "recsys/ranking.py",
        "recsys/api.py",
        "recsys/cache.py",
        "recsys/embeddings.py",
        "tests/test_ranking.py",
        "tests/test_api.py",
        "k8s/deployment.yaml",
    ),
    topics=(
        "ANN index refresh",
        "ranking feature logging",
        "cold-start fallback",
        "response cache",
        "diversity re-ranking",
        "A/B assignment header",
        "embedding version pinning",
        "pagination",
        "p99 latency budget",
        "trending items candidate source",
    ),
    seed=20260107,
)

TEAMS: tuple[Team, ...] = (CREDIT_RISK, FRAUD_DETECTOR, RECSYS_API)
