"""The ``dora-2023`` band table: DORA 2023 (Accelerate State of DevOps) performance levels as
numbers, kept apart from the families so the thresholds and their units read in one place
(the reasoning behind each number is in ``docs/metrics-dora.md``)."""

from __future__ import annotations

from mlreport.config import BandLevel

HOURS_PER_WEEK = 168.0
HOURS_PER_MONTH = 720.0  # 30 days
ONCE_A_MONTH = 7 / 30  # deploys per week

DORA_2023: dict[str, list[BandLevel]] = {
    "dora.deployment_frequency": [
        BandLevel(band="elite", min=7.0),
        BandLevel(band="high", min=1.0),
        BandLevel(band="medium", min=ONCE_A_MONTH),
        BandLevel(band="low", min=0.0),
    ],
    "dora.lead_time:p50": [
        BandLevel(band="elite", max=24.0),
        BandLevel(band="high", max=HOURS_PER_WEEK),
        BandLevel(band="medium", max=HOURS_PER_MONTH),
        BandLevel(band="low"),
    ],
    "dora.change_failure_rate": [
        BandLevel(band="elite", max=0.05),
        BandLevel(band="high", max=0.10),
        BandLevel(band="medium", max=0.15),
        BandLevel(band="low"),
    ],
    "dora.recovery_time:p50": [
        BandLevel(band="elite", max=1.0),
        BandLevel(band="high", max=24.0),
        BandLevel(band="medium", max=HOURS_PER_WEEK),
        BandLevel(band="low"),
    ],
}
