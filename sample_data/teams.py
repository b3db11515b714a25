"""How each team works: feature branches, releases, deployments and incidents.

Three stories, one seeded ``random.Random`` per team (so changing one team leaves the others'
commit shas alone):

- credit-risk (risk-ml): trunk-based, every merge deploys itself through staging to production
  within minutes; canary rollbacks are automatic; rare incidents are fixed within the hour.
- fraud-detector (fraud-platform): long-lived branches, a weekly manual release train that is
  often skipped, so changes wait weeks; a third of releases fail and are rolled back or
  hotfixed over days; one incident is still open at the end of the period.
- recsys-api (discovery): a few manual deploys a week until April, then an automated pipeline
  twice a day; a middling failure rate, recovery in hours.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from mlreport.sample_data.clock import (
    at_work,
    hours,
    is_working_day,
    local_time,
    minutes,
    next_at_work,
    working_days,
)
from mlreport.sample_data.history import DirectCommit, Feature, RepoPlan, build_plan
from mlreport.sample_data.org import (
    CREDIT_RISK,
    FRAUD_DETECTOR,
    PERIOD_END,
    PERIOD_START,
    RECSYS_API,
    Person,
    Team,
)

VERBS = (
    "Add",
    "Improve",
    "Refactor",
    "Fix",
    "Speed up",
    "Validate",
    "Document",
    "Tune",
    "Simplify",
    "Harden",
)
FOLLOW_UPS = (
    "Add tests for {t}",
    "Address review comments",
    "Fix lint",
    "Refactor {t}",
    "Handle empty input in {t}",
    "Update docs for {t}",
    "Fix flaky test",
    "Rename variables in {t}",
    "Log more context in {t}",
)


@dataclass
class Deployment:
    entity: str
    environment: str
    version: str
    started_at: datetime
    finished_at: datetime
    status: str = "success"
    kind: str = "planned"
    trigger: str = "automated"
    model_version: str | None = None
    mark: int | None = None  # the commit shipped, by plan mark ...
    direct: str | None = None  # ... or by the key of a direct commit ...
    unlinked_sha: str | None = None  # ... or a sha the repository does not have
    undoes: Deployment | None = None  # for a rollback: the deployment it rolled back
    deployment_id: str = ""


@dataclass
class Incident:
    entity: str
    environment: str
    severity: str
    detected_at: datetime
    resolved_at: datetime | None
    cause: Deployment | None
    title: str
    incident_id: str = ""


@dataclass
class Simulation:
    team: Team
    plan: RepoPlan
    deployments: list[Deployment] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)

    def mark_of(self, d: Deployment) -> int | None:
        if d.direct is not None:
            return self.plan.direct_marks[d.direct]
        return d.mark


def jitter(rng: random.Random, lo: int, hi: int) -> timedelta:
    """Between ``lo`` and ``hi`` minutes, to the second."""
    return minutes(rng.randint(lo, hi)) + timedelta(seconds=rng.randint(0, 59))


def fake_sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def make_features(
    rng: random.Random,
    team: Team,
    count: int,
    commits: tuple[int, int],
    span_days: tuple[int, ...],
    review_minutes: tuple[int, int],
) -> list[Feature]:
    """Pull requests spread over the period; ones not merged by the end stay open."""
    days = working_days()
    drafts = []
    for _ in range(count):
        author = rng.choice(team.people)
        first = rng.randrange(1, len(days))
        last = min(first + rng.choice(span_days), len(days) - 1)
        n = rng.randint(*commits)
        times = sorted(at_work(rng, days[rng.randint(first, last)], author) for _ in range(n))
        topic = rng.choice(team.topics)
        title = f"{rng.choice(VERBS)} {topic}"
        files = tuple(rng.sample(team.modules, rng.randint(1, 3)))
        messages = [title] + [rng.choice(FOLLOW_UPS).format(t=topic) for _ in range(n - 1)]
        changes = [
            (t, m, tuple(rng.sample(files, rng.randint(1, len(files)))))
            for t, m in zip(times, messages, strict=True)
        ]
        merger = rng.choice([p for p in team.people if p != author])
        merged = next_at_work(rng, times[-1] + jitter(rng, *review_minutes), merger)
        drafts.append((title, author, merger, changes, merged if merged < PERIOD_END else None))
    drafts.sort(key=lambda d: d[3][0][0])
    features = []
    for number, (title, author, merger, changes, merged) in enumerate(drafts, start=101):
        slug = "feature/" + "-".join(title.lower().replace("/", " ").split())[:40].rstrip("-")
        features.append(Feature(number, f"{slug}-{number}", title, author, merger, changes, merged))
    return features


def _start(team: Team) -> datetime:
    return local_time(PERIOD_START, 9 * 60 + 30, team.people[0])


def _end_of_period(sim: Simulation) -> Simulation:
    """Drop what would happen after as_of; incidents not yet resolved then stay open."""
    sim.deployments = [d for d in sim.deployments if d.finished_at < PERIOD_END]
    for inc in sim.incidents:
        if inc.resolved_at is not None and inc.resolved_at >= PERIOD_END:
            inc.resolved_at = None
    sim.incidents = [i for i in sim.incidents if i.detected_at < PERIOD_END]
    sim.deployments.sort(key=lambda d: (d.started_at, d.environment))
    prefix = "".join(w[0] for w in sim.team.entity.split("-"))
    for i, d in enumerate(sim.deployments, start=1):
        d.deployment_id = f"{prefix}-deploy-{i:04d}"
    return sim


# -- credit-risk: continuous deployment ------------------------------------------------------

CREDIT_INCIDENTS = (
    "Elevated 5xx from the scoring endpoint",
    "PD scores shifted after calibration change",
    "Reason codes missing for thin-file applicants",
    "Scoring latency p99 above SLO",
)


def simulate_credit_risk(team: Team = CREDIT_RISK) -> Simulation:
    rng = random.Random(team.seed)
    features = make_features(rng, team, 240, (1, 3), (0, 0, 0, 1, 1, 2), (15, 180))
    sim = Simulation(team, build_plan(team, _start(team), team.people[0], features, []))
    merges = sorted(
        (f.merged_at, sim.plan.merge_marks[f.number]) for f in features if f.merged_at is not None
    )
    last_good: Deployment | None = None
    busy_until = _start(team)
    model_version = 14
    for build, (merged_at, mark) in enumerate(merges, start=1):
        if rng.random() < 0.04:
            model_version += 1  # a retrained model ships with this build
        common = dict(
            entity=team.entity, version=f"1.{build}.0", mark=mark, model_version=str(model_version)
        )
        start = merged_at + jitter(rng, 3, 8)
        staging = Deployment(
            environment="staging", started_at=start, finished_at=start + jitter(rng, 4, 7), **common
        )
        sim.deployments.append(staging)
        if rng.random() < 0.03:
            staging.status = "failure"  # integration tests failed; nothing reaches production
            continue
        start = max(staging.finished_at + jitter(rng, 6, 15), busy_until + minutes(1))
        prod = Deployment(
            environment="production",
            started_at=start,
            finished_at=start + jitter(rng, 5, 9),
            trigger="manual" if rng.random() < 0.05 else "automated",
            **common,
        )
        sim.deployments.append(prod)
        busy_until = prod.finished_at
        r = rng.random()
        if r < 0.015 and last_good is not None:
            # The canary analysis failed and the pipeline rolled back.
            prod.finished_at = prod.started_at + jitter(rng, 14, 22)
            back = _rollback(rng, prod, last_good, prod.finished_at + jitter(rng, 0, 2), (3, 5))
            sim.deployments.append(back)
            busy_until = back.finished_at
            continue
        if r < 0.045:
            detected = prod.finished_at + jitter(rng, 5, 40)
            sim.incidents.append(
                Incident(
                    team.entity,
                    "production",
                    rng.choice(("sev2", "sev3", "sev3")),
                    detected,
                    detected + jitter(rng, 10, 45),
                    prod if rng.random() < 0.7 else None,
                    rng.choice(CREDIT_INCIDENTS),
                )
            )
        last_good = prod
    _staging_incident(rng, sim, date(2026, 3, 17), "Staging feature store served stale scores")
    return _end_of_period(sim)


def _rollback(
    rng: random.Random,
    bad: Deployment,
    to: Deployment,
    start: datetime,
    took: tuple[int, int],
    trigger: str = "automated",
) -> Deployment:
    """Undo ``bad`` by redeploying what ``to`` shipped."""
    bad.status = "rolled_back"
    return Deployment(
        to.entity,
        to.environment,
        to.version,
        start,
        start + jitter(rng, *took),
        kind="rollback",
        trigger=trigger,
        model_version=to.model_version,
        mark=to.mark,
        direct=to.direct,
        unlinked_sha=to.unlinked_sha,
        undoes=bad,
    )


def _staging_incident(rng: random.Random, sim: Simulation, day: date, title: str) -> None:
    detected = local_time(day, 10 * 60 + rng.randint(0, 120), sim.team.people[0])
    sim.incidents.append(
        Incident(
            sim.team.entity,
            "staging",
            "sev4",
            detected,
            detected + jitter(rng, 60, 180),
            None,
            title,
        )
    )


# -- fraud-detector: a weekly release train ------------------------------------------------

FRAUD_INCIDENTS = (
    "False positive spike on card-not-present transactions",
    "Kafka consumer lag above 10 minutes",
    "Fraud scores null for new merchant categories",
    "Decline rate doubled in the EU region",
    "Rules engine timeout on the authorisation path",
    "Velocity features stale after feature store migration",
)
FRAUD_FIXES = (
    "guard against null merchant category",
    "restore consumer batch size",
    "pin threshold config",
    "revert velocity window change",
    "raise rules engine timeout",
    "fix feature store key mapping",
)


UNLINKED_AFTER = datetime(2026, 4, 15, tzinfo=UTC)  # inside the demo's 90-day window


@dataclass
class _Train:
    """State of the fraud-detector release train between weeks."""

    minor: int = 7
    patch: int = 0
    model_version: int = 8
    last_good: Deployment | None = None
    unlinked: bool = False  # has the one hotfix built off the books happened yet?


def simulate_fraud_detector(team: Team = FRAUD_DETECTOR) -> Simulation:
    rng = random.Random(team.seed)
    features = make_features(rng, team, 40, (3, 9), (4, 6, 8, 10, 12, 14), (12 * 60, 4 * 1440))
    directs: list[DirectCommit] = []
    deployments: list[Deployment] = []
    incidents: list[Incident] = []
    train = _Train()
    weeks = [PERIOD_START + timedelta(weeks=k) for k in range(2, 26)]
    last_week = max(w for w in weeks if w + timedelta(days=3) < PERIOD_END.date())
    for week in weeks:
        if week + timedelta(days=3) >= PERIOD_END.date():
            break
        if week != last_week and rng.random() < 0.45:
            continue  # the train was skipped: QA sign-off missing
        _release(rng, team, week, train, week == last_week, directs, deployments, incidents)
    plan = build_plan(
        team, _start(team), team.people[0], features, [d for d in directs if d.at < PERIOD_END]
    )
    sim = Simulation(team, plan, deployments, incidents)
    _staging_incident(rng, sim, date(2026, 2, 24), "Staging Kafka topic out of disk")
    return _end_of_period(sim)


def _weekday(week: date, offset: int) -> date:
    day = week + timedelta(days=offset)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def _release(
    rng: random.Random,
    team: Team,
    week: date,
    train: _Train,
    last: bool,
    directs: list[DirectCommit],
    deployments: list[Deployment],
    incidents: list[Incident],
) -> None:
    """Tuesday: bump and deploy to staging. Thursday: production. Then, often, trouble."""
    manager = team.people[0]
    train.minor, train.patch = train.minor + 1, 0
    if rng.random() < 0.3:
        train.model_version += 1
    version = f"2.{train.minor}.0"
    bump_at = local_time(
        _weekday(week, 1), 10 * 60 + rng.randint(0, 50), manager, rng.randint(0, 59)
    )
    key = f"release-{version}"
    directs.append(
        DirectCommit(
            bump_at,
            manager,
            f"Release {version}",
            ("CHANGELOG.md", "fraud/__init__.py"),
            key,
            tag=f"v{version}",
        )
    )
    common = dict(
        entity=team.entity,
        version=version,
        direct=key,
        trigger="manual",
        model_version=str(train.model_version),
    )
    start = bump_at + jitter(rng, 20, 45)
    deployments.append(
        Deployment(
            environment="staging",
            started_at=start,
            finished_at=start + jitter(rng, 50, 80),
            **common,
        )
    )
    start = local_time(_weekday(week, 3), 14 * 60 + rng.randint(0, 40), manager, rng.randint(0, 59))
    prod = Deployment(
        environment="production",
        started_at=start,
        finished_at=start + jitter(rng, 45, 100),
        **common,
    )
    deployments.append(prod)
    if rng.random() < 0.1:
        prod.status = "failure"  # helm upgrade timed out; retried the next morning
        prod.finished_at = prod.started_at + jitter(rng, 30, 60)
        start = local_time(_weekday(week, 4), 10 * 60 + rng.randint(0, 30), manager)
        prod = Deployment(
            environment="production",
            started_at=start,
            finished_at=start + jitter(rng, 45, 90),
            **common,
        )
        deployments.append(prod)
    if last:
        detected = next_at_work(rng, prod.finished_at + hours(rng.uniform(14, 30)), manager)
        incidents.append(
            Incident(team.entity, "production", "sev2", detected, None, None, FRAUD_INCIDENTS[0])
        )
        train.last_good = prod
        return
    r = rng.random()
    if r < 0.14 and train.last_good is not None:
        _rolled_back(rng, prod, train.last_good, manager, deployments, incidents)
    elif r < 0.40:
        _hotfixed(rng, team, prod, train, directs, deployments, incidents)
    else:
        train.last_good = prod


def _rolled_back(
    rng: random.Random,
    prod: Deployment,
    last_good: Deployment,
    manager: Person,
    deployments: list[Deployment],
    incidents: list[Incident],
) -> None:
    detected = prod.finished_at + jitter(rng, 20, 120)
    back = _rollback(
        rng,
        prod,
        last_good,
        next_at_work(rng, detected + hours(rng.uniform(1, 6)), manager),
        (30, 60),
        "manual",
    )
    deployments.append(back)
    incidents.append(
        Incident(
            prod.entity,
            "production",
            "sev2",
            detected,
            back.finished_at + jitter(rng, 10, 60),
            prod,
            rng.choice(FRAUD_INCIDENTS),
        )
    )


def _hotfixed(
    rng: random.Random,
    team: Team,
    prod: Deployment,
    train: _Train,
    directs: list[DirectCommit],
    deployments: list[Deployment],
    incidents: list[Incident],
) -> None:
    """An incident days later, a hotfix straight on main, a manual hotfix deployment."""
    train.patch += 1
    manager, engineer = team.people[0], rng.choice(team.people[1:])
    detected = prod.finished_at + hours(rng.uniform(2, 48))
    fix_at = next_at_work(rng, detected + hours(rng.uniform(8, 40)), engineer)
    fix = rng.choice(FRAUD_FIXES)
    key = f"hotfix-2.{train.minor}.{train.patch}"
    hotfix = Deployment(
        prod.entity,
        "production",
        f"2.{train.minor}.{train.patch}",
        fix_at,
        fix_at,
        kind="hotfix",
        trigger="manual",
        model_version=prod.model_version,
    )
    if not train.unlinked and fix_at >= UNLINKED_AFTER:
        # Built from a laptop branch that was never pushed: the sha is not in the repository.
        train.unlinked = True
        hotfix.unlinked_sha = fake_sha(rng)
    else:
        directs.append(
            DirectCommit(
                fix_at, engineer, f"Hotfix: {fix}", ("fraud/rules.py", "fraud/thresholds.py"), key
            )
        )
        hotfix.direct = key
    hotfix.started_at = next_at_work(rng, fix_at + hours(rng.uniform(1, 4)), manager)
    hotfix.finished_at = hotfix.started_at + jitter(rng, 30, 70)
    deployments.append(hotfix)
    incidents.append(
        Incident(
            prod.entity,
            "production",
            rng.choice(("sev1", "sev2", "sev2")),
            detected,
            hotfix.finished_at + hours(rng.uniform(0.5, 4)),
            prod if rng.random() < 0.5 else None,
            rng.choice(FRAUD_INCIDENTS),
        )
    )
    train.last_good = hotfix


# -- recsys-api: manual deploys, then a pipeline -----------------------------------------------

AUTOMATION_DAY = date(2026, 4, 1)
RECSYS_INCIDENTS = (
    "Empty recommendations for new users",
    "p99 latency above 300 ms",
    "Stale embedding index served",
    "Cache stampede after deploy",
    "Duplicate items in the home carousel",
)


def simulate_recsys_api(team: Team = RECSYS_API) -> Simulation:
    rng = random.Random(team.seed)
    features = make_features(rng, team, 110, (2, 5), (1, 2, 2, 3, 4), (60, 1440))
    sim = Simulation(team, build_plan(team, _start(team), team.people[0], features, []))
    clock = team.people[2]  # the pipeline runs on the Paris office's clock
    shipped: int | None = None
    last_good: Deployment | None = None
    unlinked_done = False
    for day in working_days()[3:]:
        automated = day >= AUTOMATION_DAY
        if automated:
            slots = [11 * 60 + rng.randint(0, 10), 16 * 60 + rng.randint(0, 10)]
        elif day.weekday() in (0, 2, 4) and rng.random() < 0.8:
            slots = [15 * 60 + rng.randint(0, 60)]
        else:
            slots = []
        if not unlinked_done and day >= date(2026, 5, 12):
            unlinked_done = True
            _fork_deploy(rng, sim, local_time(day, 9 * 60 + 40, clock))
        for minute in slots:
            at = local_time(day, minute, clock, rng.randint(0, 59))
            mark = sim.plan.main_at(at - minutes(50))
            if mark == shipped:
                continue
            outcome = _recsys_deploy(rng, sim, at, mark, automated, last_good)
            if outcome is not None:
                shipped, last_good = outcome.mark, outcome
    _staging_incident(rng, sim, date(2026, 5, 6), "Staging index build job OOM-killed")
    return _end_of_period(sim)


def _fork_deploy(rng: random.Random, sim: Simulation, at: datetime) -> None:
    """Someone deployed a build from their fork's CI: the sha is not in the repository."""
    sim.deployments.append(
        Deployment(
            sim.team.entity,
            "production",
            f"{at:%Y.%m.%d}-fork",
            at,
            at + jitter(rng, 15, 25),
            trigger="manual",
            unlinked_sha=fake_sha(rng),
        )
    )


def _recsys_deploy(
    rng: random.Random,
    sim: Simulation,
    at: datetime,
    mark: int,
    automated: bool,
    last_good: Deployment | None,
) -> Deployment | None:
    """Staging then production; returns what production runs afterwards (None: unchanged)."""
    trigger = "automated" if automated else "manual"
    version = f"{at:%Y.%m.%d}.{mark}"
    start = at - jitter(rng, 40, 50)
    staging = Deployment(
        sim.team.entity,
        "staging",
        version,
        start,
        start + jitter(rng, 8, 15),
        trigger=trigger,
        mark=mark,
    )
    sim.deployments.append(staging)
    if rng.random() < 0.05:
        staging.status = "failure"
        return None
    took = (8, 15) if automated else (15, 30)
    prod = Deployment(
        sim.team.entity,
        "production",
        version,
        at,
        at + jitter(rng, *took),
        trigger=trigger,
        mark=mark,
    )
    sim.deployments.append(prod)
    r = rng.random()
    if r < 0.06 and last_good is not None:
        back = _rollback(
            rng, prod, last_good, prod.finished_at + jitter(rng, 20, 60), took, trigger
        )
        sim.deployments.append(back)
        if rng.random() < 0.5:
            detected = prod.finished_at + jitter(rng, 5, 15)
            sim.incidents.append(
                Incident(
                    sim.team.entity,
                    "production",
                    "sev3",
                    detected,
                    back.finished_at + jitter(rng, 5, 30),
                    prod,
                    rng.choice(RECSYS_INCIDENTS),
                )
            )
        return back
    if r < 0.14:
        detected = prod.finished_at + hours(rng.uniform(0.5, 6))
        sim.incidents.append(
            Incident(
                sim.team.entity,
                "production",
                rng.choice(("sev2", "sev3")),
                detected,
                detected + hours(rng.uniform(2, 10)),
                prod if rng.random() < 0.5 else None,
                rng.choice(RECSYS_INCIDENTS),
            )
        )
    return prod


def simulate_all() -> list[Simulation]:
    """Every team, with organisation-wide incident numbers in order of detection."""
    sims = [simulate_credit_risk(), simulate_fraud_detector(), simulate_recsys_api()]
    incidents = sorted(
        (i for s in sims for i in s.incidents), key=lambda i: (i.detected_at, i.entity)
    )
    for n, inc in enumerate(incidents, start=2001):
        inc.incident_id = f"INC-{n}"
    return sims
