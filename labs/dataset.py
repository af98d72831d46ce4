"""The course data set: will a telecom customer cancel (churn) in the next month?

Synthetic, generated deterministically from a fixed seed, and shipped in ``labs/data/`` in
the built-in XGBoost CSV format: no header, the label (1 = churned) in the first column,
numeric features after it. ``test-features.csv`` is the test set without its label
column: the input of the batch transform, whose predictions are compared with the labels
in the first column of ``test.csv``.

Regenerate (identical bytes) with ``python -m labs.dataset``.

No Django here, so this module can be imported anywhere (a worker, a notebook, a test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DATA_DIR",
    "FEATURES",
    "SEED",
    "Feature",
    "dataset_files",
    "generate",
    "prediction_accuracy",
    "read_predictions",
    "test_labels",
    "write",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
SEED = 20240611
# How sharply the hidden rule decides churn; higher means less label noise.
SIGNAL = 1.8
SIZES = {"train": 3000, "validation": 1000, "test": 1000}
FILE_NAMES = {
    "train": "train.csv",
    "validation": "validation.csv",
    "test": "test.csv",
    "test-features": "test-features.csv",
}


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    decimals: int  # how it is written in the CSV


FEATURES: tuple[Feature, ...] = (
    Feature("tenure_months", "Months the customer has been with the company (0-72).", 0),
    Feature("monthly_charges", "Current monthly bill in US dollars.", 2),
    Feature("total_charges", "Total billed so far in US dollars.", 2),
    Feature("contract_months", "Contract length: 1 (month to month), 12 or 24 months.", 0),
    Feature("support_calls_90d", "Calls to customer support in the last 90 days.", 0),
    Feature("num_products", "Products subscribed to (phone, internet, TV, ...), 1-5.", 0),
    Feature("autopay", "1 when the bill is paid automatically, else 0.", 0),
    Feature("age", "Customer age in years.", 0),
    Feature("days_since_login", "Days since the customer last used the self-care app.", 0),
    Feature("satisfaction", "Last survey score, 1 (unhappy) to 10 (very happy).", 0),
    Feature("late_payments_12m", "Late payments in the last 12 months.", 0),
    Feature("data_usage_gb", "Mobile data used last month, in GB.", 1),
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def generate(seed: int = SEED) -> dict[str, np.ndarray]:
    """{"train": rows, "validation": rows, "test": rows}; column 0 is the label."""
    rng = np.random.default_rng(seed)
    n = sum(SIZES.values())

    contract = rng.choice([1, 12, 24], size=n, p=[0.5, 0.25, 0.25])
    tenure = np.clip(
        np.where(
            contract == 1,
            rng.gamma(1.6, 9.0, size=n),
            rng.gamma(3.0, 11.0, size=n),
        ),
        0,
        72,
    ).round()
    num_products = np.clip(rng.poisson(1.4, size=n) + 1, 1, 5)
    monthly = np.clip(18 + num_products * 14 + rng.normal(12, 12, size=n), 18.25, 130).round(2)
    total = (monthly * np.maximum(tenure, 0.5) * rng.normal(1.0, 0.04, size=n)).round(2)
    autopay = (rng.random(size=n) < np.where(contract == 1, 0.35, 0.65)).astype(int)
    age = np.clip(rng.normal(45, 15, size=n), 18, 85).round()
    support = rng.poisson(np.where(rng.random(size=n) < 0.25, 3.0, 0.8))
    days_login = np.clip(rng.exponential(12, size=n), 0, 120).round()
    satisfaction = np.clip(rng.normal(6.8, 2.0, size=n) - 0.5 * support, 1, 10).round()
    late = rng.poisson(np.where(autopay == 1, 0.3, 1.2))
    data_gb = np.clip(rng.gamma(2.0, 3.0, size=n) + 0.8 * num_products, 0, 60).round(1)

    # The hidden rule: short, unhappy, month-to-month, costly customers leave.
    logit = SIGNAL * (
        0.1
        - 0.045 * tenure
        + 0.022 * (monthly - 70)
        - 1.3 * (contract == 12)
        - 2.4 * (contract == 24)
        + 0.45 * support
        - 0.35 * (num_products - 1)
        - 0.6 * autopay
        + 0.035 * days_login
        - 0.42 * (satisfaction - 6)
        + 0.45 * late
        - 0.012 * (age - 45)
        + 0.6 * ((contract == 1) & (monthly > 90))
    )
    label = (rng.random(size=n) < _sigmoid(logit)).astype(int)

    columns = [
        label,
        tenure,
        monthly,
        total,
        contract,
        support,
        num_products,
        autopay,
        age,
        days_login,
        satisfaction,
        late,
        data_gb,
    ]
    rows = np.column_stack(columns).astype(float)
    parts: dict[str, np.ndarray] = {}
    start = 0
    for name, size in SIZES.items():
        parts[name] = rows[start : start + size]
        start += size
    return parts


def _format_row(row: np.ndarray) -> str:
    cells = [str(int(row[0]))]
    for value, feature in zip(row[1:], FEATURES, strict=True):
        if feature.decimals == 0:
            cells.append(str(int(round(value))))
        else:
            cells.append(f"{value:.{feature.decimals}f}")
    return ",".join(cells)


def _csv(rows: np.ndarray, *, with_label: bool) -> str:
    lines = []
    for row in rows:
        line = _format_row(row)
        lines.append(line if with_label else line.split(",", 1)[1])
    return "\n".join(lines) + "\n"


def _readme(parts: dict[str, np.ndarray]) -> str:
    rates = {name: rows[:, 0].mean() for name, rows in parts.items()}
    feature_rows = "\n".join(
        f"| {i + 2} | `{f.name}` | {f.description} |" for i, f in enumerate(FEATURES)
    )
    file_rows = "\n".join(
        [
            f"| `train.csv` | {SIZES['train']} | label + {len(FEATURES)} features "
            f"(churn rate {rates['train']:.1%}) |",
            f"| `validation.csv` | {SIZES['validation']} | label + features "
            f"(churn rate {rates['validation']:.1%}) |",
            f"| `test.csv` | {SIZES['test']} | label + features "
            f"(churn rate {rates['test']:.1%}) |",
            f"| `test-features.csv` | {SIZES['test']} | the test features without the label: "
            "batch transform input |",
        ]
    )
    return f"""# Course data set: customer churn

Synthetic data, generated by `python -m labs.dataset` (numpy seed {SEED}); running it again
writes identical files. Built-in XGBoost CSV format: **no header, label first**.

| file | rows | contents |
| --- | --- | --- |
{file_rows}

The batch transform writes one churn probability per line of `test-features.csv`, in the
same order; compare them (threshold 0.5) with the first column of `test.csv`.

| column | name | meaning |
| --- | --- | --- |
| 1 | `churned` | label: 1 if the customer left in the following month, else 0 |
{feature_rows}

With the built-in XGBoost algorithm (`objective=binary:logistic`, `num_round=100`, other
hyper-parameters at their defaults) the validation AUC is about 0.93 and the accuracy
about 0.86, where always answering "stays" would score about 0.71.
"""


def write(directory: Path = DATA_DIR, seed: int = SEED) -> dict[str, Path]:
    """Generate the data set and write its files (and README.md) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    parts = generate(seed)
    contents = {
        "train": _csv(parts["train"], with_label=True),
        "validation": _csv(parts["validation"], with_label=True),
        "test": _csv(parts["test"], with_label=True),
        "test-features": _csv(parts["test"], with_label=False),
    }
    paths = {}
    for name, text in contents.items():
        path = directory / FILE_NAMES[name]
        path.write_text(text, encoding="ascii", newline="\n")
        paths[name] = path
    (directory / "README.md").write_text(_readme(parts), encoding="utf-8", newline="\n")
    return paths


def dataset_files() -> dict[str, Path]:
    """{"train", "validation", "test", "test-features"} -> path of the shipped CSV file."""
    return {name: DATA_DIR / file_name for name, file_name in FILE_NAMES.items()}


def test_labels() -> list[int]:
    """The true labels of the test set, in the order of its lines."""
    text = dataset_files()["test"].read_text(encoding="ascii")
    return [int(line.split(",", 1)[0]) for line in text.splitlines() if line]


def majority_baseline() -> float:
    """The accuracy of always answering the test set's most common label."""
    labels = test_labels()
    ones = sum(labels)
    return max(ones, len(labels) - ones) / len(labels)


# Keep pytest from collecting test_labels as a test when a test module imports it.
test_labels.__test__ = False  # type: ignore[attr-defined]


def read_predictions(text: str) -> list[float]:
    """Scores from a batch transform output: one number per line (or JSON-ish lists)."""
    scores = []
    for line in text.splitlines():
        cell = line.strip().strip("[]").split(",", 1)[0].strip()
        if cell:
            scores.append(float(cell))
    return scores


def prediction_accuracy(
    output_text: str, labels: list[int] | None = None, *, threshold: float = 0.5
) -> float:
    """Share of test rows the transform output predicts right (score ≥ threshold is 1).

    Raises ValueError when the output has a different number of lines than the labels.
    """
    labels = test_labels() if labels is None else labels
    scores = read_predictions(output_text)
    if len(scores) != len(labels):
        raise ValueError(
            f"The transform output has {len(scores)} predictions for {len(labels)} test rows."
        )
    if not labels:
        return math.nan
    pairs = zip(scores, labels, strict=True)
    right = sum(int(score >= threshold) == label for score, label in pairs)
    return right / len(labels)


if __name__ == "__main__":
    for name, path in write().items():
        print(f"{name}: {path} ({path.stat().st_size} bytes)")  # noqa: T201
