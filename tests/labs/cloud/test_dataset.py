"""The course data set: deterministic, in the built-in XGBoost format, and learnable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labs import dataset
from labs.dataset import (
    FEATURES,
    dataset_files,
    prediction_accuracy,
    read_predictions,
    test_labels,
    write,
)


def load(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", ndmin=2)


def test_regenerating_writes_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    written = write(tmp_path)

    for name, path in dataset_files().items():
        assert written[name].read_bytes() == path.read_bytes(), name
    readme = dataset.DATA_DIR / "README.md"
    assert (tmp_path / "README.md").read_text() == readme.read_text()


def test_files_are_xgboost_csv_with_the_label_first() -> None:
    files = dataset_files()
    sizes = {"train": 3000, "validation": 1000, "test": 1000}

    for name, rows in sizes.items():
        text = files[name].read_text()
        assert not text[0].isalpha(), "no header row"
        data = load(files[name])
        assert data.shape == (rows, 1 + len(FEATURES))
        assert set(np.unique(data[:, 0])) == {0.0, 1.0}
        assert 0.2 < data[:, 0].mean() < 0.4
    assert sum(path.stat().st_size for path in files.values()) < 1_000_000


def test_test_features_are_the_test_rows_without_their_label() -> None:
    files = dataset_files()
    test_lines = files["test"].read_text().splitlines()
    feature_lines = files["test-features"].read_text().splitlines()

    assert feature_lines == [line.split(",", 1)[1] for line in test_lines]
    assert test_labels() == [int(line.split(",", 1)[0]) for line in test_lines]


def test_xgboost_with_defaults_learns_it_well() -> None:
    xgb = pytest.importorskip("xgboost")
    files = dataset_files()
    train, validation = load(files["train"]), load(files["validation"])

    booster = xgb.train(
        {"objective": "binary:logistic", "eval_metric": "auc"},
        xgb.DMatrix(train[:, 1:], label=train[:, 0]),
        num_boost_round=100,
    )
    scores = booster.predict(xgb.DMatrix(validation[:, 1:]))
    labels = validation[:, 0]

    accuracy = float(((scores >= 0.5) == labels).mean())
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    positives = labels.sum()
    negatives = len(labels) - positives
    auc = (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    assert auc > 0.85
    assert accuracy > 0.8
    assert accuracy > 1 - labels.mean() + 0.05, "better than always answering the majority"


def test_prediction_accuracy_compares_transform_output_with_the_labels() -> None:
    labels = test_labels()
    perfect = "\n".join("0.9" if label else "0.1" for label in labels) + "\n"
    inverted = "\n".join("0.1" if label else "0.9" for label in labels)

    assert prediction_accuracy(perfect) == 1.0
    assert prediction_accuracy(inverted) == 0.0
    assert read_predictions("0.25\n[0.75]\n\n0.5,extra\n") == [0.25, 0.75, 0.5]
    with pytest.raises(ValueError, match="3 predictions for 1000 test rows"):
        prediction_accuracy("0.1\n0.2\n0.3\n")
