"""What SageMaker instances cost, for the estimates shown before and during a lab.

Source: the AWS SageMaker AI pricing page (https://aws.amazon.com/sagemaker/pricing/),
on-demand prices, us-east-1, training and notebook instances, as of mid-2025 (June 2025).
Batch transform and notebook instances of the same type are priced the same or within a
cent or two of training, so one table serves all three.

These are ESTIMATES for teaching: prices change, taxes and storage are left out, and other
regions cost somewhat more than us-east-1. A coarse per-region multiplier (from the same
page, comparing ml.m5.xlarge across regions) stands in for each region's own table. The
portal shows them as "about $0.23/hour", never as a bill. The table is not fetched at run
time; re-check it against the pricing page (and update PRICES_AS_OF) when touching it.

SageMaker bills per second of instance time, so the cost of a job is its billable seconds
times the hourly price over 3600.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "INSTANCE_TYPES",
    "PRICES_AS_OF",
    "REGION_MULTIPLIERS",
    "InstanceType",
    "estimated_cost",
    "format_hourly",
    "format_usd",
    "hourly_price",
    "instance_type",
    "is_gpu",
    "notebook_only",
]

PRICES_AS_OF = "June 2025"
PRICES_SOURCE = "AWS SageMaker AI pricing page, on-demand, us-east-1"

FOUR_PLACES = Decimal("0.0001")
BURSTABLE_PREFIXES = ("ml.t2.", "ml.t3.")
CENTS = Decimal("0.01")


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_gib: Decimal
    gpus: int
    hourly_usd: Decimal  # us-east-1, on-demand
    gpu_model: str = ""

    @property
    def is_gpu(self) -> bool:
        return self.gpus > 0

    @property
    def notebook_only(self) -> bool:
        """Burstable types: SageMaker offers them for notebook instances, not for jobs."""
        return self.name.startswith(BURSTABLE_PREFIXES)

    @property
    def label(self) -> str:
        """ "ml.g4dn.xlarge — 4 vCPU, 16 GiB, 1 × NVIDIA T4" """
        text = f"{self.name} — {self.vcpus} vCPU, {self.memory_gib.normalize():f} GiB"
        if self.gpus:
            text += f", {self.gpus} × {self.gpu_model or 'GPU'}"
        return text


def _it(
    name: str, vcpus: int, memory: str, gpus: int, hourly: str, gpu_model: str = ""
) -> InstanceType:
    return InstanceType(name, vcpus, Decimal(memory), gpus, Decimal(hourly), gpu_model)


INSTANCE_TYPES: dict[str, InstanceType] = {
    it.name: it
    for it in (
        # Burstable: notebook instances only (training and transform do not offer them).
        _it("ml.t3.medium", 2, "4", 0, "0.05"),
        _it("ml.t3.large", 2, "8", 0, "0.10"),
        _it("ml.t3.xlarge", 4, "16", 0, "0.20"),
        # General purpose.
        _it("ml.m5.large", 2, "8", 0, "0.115"),
        _it("ml.m5.xlarge", 4, "16", 0, "0.23"),
        _it("ml.m5.2xlarge", 8, "32", 0, "0.461"),
        _it("ml.m5.4xlarge", 16, "64", 0, "0.922"),
        _it("ml.m4.xlarge", 4, "16", 0, "0.24"),
        # Compute optimised.
        _it("ml.c5.xlarge", 4, "8", 0, "0.204"),
        _it("ml.c5.2xlarge", 8, "16", 0, "0.408"),
        _it("ml.c5.4xlarge", 16, "32", 0, "0.816"),
        # GPU.
        _it("ml.g4dn.xlarge", 4, "16", 1, "0.736", "NVIDIA T4"),
        _it("ml.g4dn.2xlarge", 8, "32", 1, "0.94", "NVIDIA T4"),
        _it("ml.g5.xlarge", 4, "16", 1, "1.408", "NVIDIA A10G"),
        _it("ml.g5.2xlarge", 8, "32", 1, "1.515", "NVIDIA A10G"),
        _it("ml.p3.2xlarge", 8, "61", 1, "3.825", "NVIDIA V100"),
    )
}

# Price relative to us-east-1, rounded; regions not listed use DEFAULT_MULTIPLIER.
REGION_MULTIPLIERS: dict[str, Decimal] = {
    "us-east-1": Decimal("1.00"),
    "us-east-2": Decimal("1.00"),
    "us-west-2": Decimal("1.00"),
    "us-west-1": Decimal("1.17"),
    "ca-central-1": Decimal("1.11"),
    "eu-west-1": Decimal("1.11"),
    "eu-west-2": Decimal("1.16"),
    "eu-west-3": Decimal("1.17"),
    "eu-central-1": Decimal("1.20"),
    "eu-north-1": Decimal("1.06"),
    "eu-south-1": Decimal("1.17"),
    "ap-south-1": Decimal("1.07"),
    "ap-northeast-1": Decimal("1.29"),
    "ap-northeast-2": Decimal("1.23"),
    "ap-southeast-1": Decimal("1.25"),
    "ap-southeast-2": Decimal("1.25"),
    "sa-east-1": Decimal("1.59"),
}
DEFAULT_MULTIPLIER = Decimal("1.25")


def instance_type(name: str) -> InstanceType:
    """The table row for ``name``; ValueError with a sentence when it is not in the table."""
    try:
        return INSTANCE_TYPES[name]
    except KeyError:
        raise ValueError(f"The portal has no price for instance type {name}.") from None


# The shapes of SageMaker's API that list the instance types each kind accepts.
_TYPES_SHAPE = {
    "notebook": "InstanceType",
    "training_job": "TrainingInstanceType",
    "transform_job": "TransformInstanceType",
}


def sagemaker_accepts(kind: str) -> frozenset[str]:
    """The instance types SageMaker accepts for a resource kind, read from botocore's
    model of the API (not a table kept by hand): ml.m5.large runs jobs but is no
    notebook instance type, for one."""
    return _accepted_types()[kind]


@functools.cache
def _accepted_types() -> dict[str, frozenset[str]]:
    """Read once per process, by a loader of its own: botocore's shared session would
    keep the whole SageMaker model (megabytes) in every web process for three lists."""
    from botocore.loaders import create_loader

    shapes = create_loader().load_service_model("sagemaker", "service-2")["shapes"]
    return {kind: frozenset(shapes[shape]["enum"]) for kind, shape in _TYPES_SHAPE.items()}


def preload() -> None:
    """Read the lists before the first request: otherwise, when a class launches at
    once, every thread of a fresh web process reads the model side by side."""
    _accepted_types()


def notebook_only(name: str) -> bool:
    """Whether SageMaker offers the type for notebook instances only (the burstable ones)."""
    known = INSTANCE_TYPES.get(name)
    return known.notebook_only if known is not None else name.startswith(BURSTABLE_PREFIXES)


def is_gpu(name: str) -> bool:
    """Whether the instance type has a GPU (by the table, else by its family letter)."""
    known = INSTANCE_TYPES.get(name)
    if known is not None:
        return known.is_gpu
    family = name.removeprefix("ml.").split(".", 1)[0]
    return family[:1] in {"g", "p"} or family.startswith(("inf", "trn"))


def hourly_price(name: str, region: str) -> Decimal:
    """Estimated on-demand $/hour of one instance of ``name`` in ``region``, 4 decimals."""
    base = instance_type(name).hourly_usd
    multiplier = REGION_MULTIPLIERS.get(region, DEFAULT_MULTIPLIER)
    return (base * multiplier).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


def estimated_cost(name: str, region: str, seconds: float, *, count: int = 1) -> Decimal:
    """Estimated cost of ``count`` instances running ``seconds`` (per-second billing).

    Kept to 4 decimals so that many short jobs add up correctly; round with `format_usd`
    (or ``.quantize(CENTS)``) only for display.
    """
    if seconds <= 0 or count <= 0:
        return Decimal("0.0000")
    hourly = hourly_price(name, region)
    cost = hourly * Decimal(str(seconds)) * count / Decimal(3600)
    return cost.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


def format_usd(amount: Decimal) -> str:
    """ "$0.23" — to the cent, but "<$0.01" for a cost that is not zero yet rounds to 0."""
    if Decimal(0) < amount < Decimal("0.005"):
        return "<$0.01"
    return f"${amount.quantize(CENTS, rounding=ROUND_HALF_UP):,.2f}"


def format_hourly(amount: Decimal) -> str:
    """ "about $0.23/hour": an estimate, never a bill."""
    return f"about {format_usd(amount)}/hour"
