"""Runtime settings of one localcloud process."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# Seconds each simulated phase lasts at delay scale 1.0. AWS takes minutes; these keep the
# phases visible in the portal without making learners wait. Real work (downloading,
# training, starting JupyterLab) always takes the time it takes, on top of these.
DEFAULT_DELAYS = {
    "training_starting": 3.0,
    # The whole Training phase's round lines, spread evenly (training itself is quicker).
    "training_rounds": 12.0,
    "training_uploading": 1.0,
    "training_stopping": 1.0,
    "transform_starting": 3.0,
    "transform_stopping": 1.0,
    "notebook_stopping": 1.0,
    "notebook_deleting": 1.0,
}


# Jobs that compute at once (the rest wait in Starting): one per core.
DEFAULT_COMPUTE_SLOTS = os.cpu_count() or 1


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path = Path(".localcloud")
    delay_scale: float = 1.0
    compute_slots: int = DEFAULT_COMPUTE_SLOTS
    delays: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_DELAYS))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def delay(self, name: str) -> float:
        return self.delays[name] * self.delay_scale
