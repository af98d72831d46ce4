"""The built-in SageMaker XGBoost algorithm's contract, run with the local xgboost.

Data: CSV with the label in the first column and no header, or libsvm. Hyper-parameters
arrive as strings and are checked and typed as the algorithm does. Output: a
`model.tar.gz` holding `xgboost-model`, loadable by plain xgboost.
"""

from __future__ import annotations

import functools
import io
import json
import os
import tarfile
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

MODEL_FILE = "xgboost-model"

# The algorithm's hyper-parameters and how each string is read.
_INT = "int"
_FLOAT = "float"
_STR = "str"
_BOOL = "bool"
HYPERPARAMETERS = {
    "num_round": _INT,
    "early_stopping_rounds": _INT,
    "num_class": _INT,
    "objective": _STR,
    "eval_metric": _STR,
    "booster": _STR,
    "eta": _FLOAT,
    "gamma": _FLOAT,
    "max_depth": _INT,
    "min_child_weight": _FLOAT,
    "max_delta_step": _FLOAT,
    "subsample": _FLOAT,
    "sampling_method": _STR,
    "colsample_bytree": _FLOAT,
    "colsample_bylevel": _FLOAT,
    "colsample_bynode": _FLOAT,
    "lambda": _FLOAT,
    "alpha": _FLOAT,
    "tree_method": _STR,
    "sketch_eps": _FLOAT,
    "scale_pos_weight": _FLOAT,
    "updater": _STR,
    "refresh_leaf": _INT,
    "process_type": _STR,
    "grow_policy": _STR,
    "max_leaves": _INT,
    "max_bin": _INT,
    "num_parallel_tree": _INT,
    "sample_type": _STR,
    "normalize_type": _STR,
    "rate_drop": _FLOAT,
    "one_drop": _INT,
    "skip_drop": _FLOAT,
    "tweedie_variance_power": _FLOAT,
    "base_score": _FLOAT,
    "seed": _INT,
    "seed_per_iteration": _BOOL,
    "single_precision_histogram": _BOOL,
    "deterministic_histogram": _BOOL,
    "interaction_constraints": _STR,
    "monotone_constraints": _STR,
    "max_cat_to_onehot": _INT,
    "verbosity": _INT,
    "csv_weights": _INT,
    "save_model_on_termination": _STR,
    "use_dask_gpu_training": _STR,
}
# Read by the algorithm itself rather than passed to xgboost.
_CONTROL = {
    "num_round",
    "early_stopping_rounds",
    "csv_weights",
    "save_model_on_termination",
    "use_dask_gpu_training",
}
_MULTICLASS = {"multi:softmax", "multi:softprob"}


class AlgorithmClientError(Exception):
    """Bad input or hyper-parameters: the learner can fix it. Message ready for FailureReason."""


@dataclass
class Config:
    params: dict[str, Any]
    num_round: int
    early_stopping_rounds: int | None
    csv_weights: bool


def _typed(name: str, kind: str, text: str) -> Any:
    try:
        if kind == _INT:
            number = float(text)
            if number != int(number):
                raise ValueError
            return int(number)
        if kind == _FLOAT:
            return float(text)
        if kind == _BOOL:
            if text.lower() not in ("true", "false", "0", "1"):
                raise ValueError
            return text.lower() in ("true", "1")
    except ValueError:
        article = "an integer" if kind == _INT else ("a number" if kind == _FLOAT else "a bool")
        raise AlgorithmClientError(
            f"ClientError: Hyperparameter {name}: value '{text}' is not {article}."
        ) from None
    return text


def parse_hyperparameters(given: dict[str, str]) -> Config:
    """Check and type the hyper-parameters as the built-in algorithm does."""
    if any(name.startswith("sagemaker_") for name in given):
        raise AlgorithmClientError(
            "ClientError: Script mode (sagemaker_program / entry_point) is not supported by "
            "localcloud; use the built-in XGBoost algorithm with hyper-parameters only."
        )
    unknown = sorted(set(given) - set(HYPERPARAMETERS) - {"_tuning_objective_metric"})
    if unknown:
        raise AlgorithmClientError(
            f"ClientError: Additional hyperparameters are not allowed ({', '.join(unknown)} "
            f"{'was' if len(unknown) == 1 else 'were'} unexpected)"
        )
    if "num_round" not in given:
        raise AlgorithmClientError("ClientError: Missing required hyperparameter: num_round")
    typed = {
        name: _typed(name, HYPERPARAMETERS[name], str(value))
        for name, value in given.items()
        if name in HYPERPARAMETERS
    }
    if typed["num_round"] < 1:
        raise AlgorithmClientError("ClientError: Hyperparameter num_round must be at least 1.")
    objective = typed.get("objective", "reg:squarederror")
    if objective in _MULTICLASS and "num_class" not in typed:
        raise AlgorithmClientError(f"ClientError: num_class required for {objective}")
    if "num_class" in typed and typed["num_class"] < 2:
        raise AlgorithmClientError("ClientError: Hyperparameter num_class must be at least 2.")
    for name in ("subsample", "colsample_bytree", "colsample_bylevel", "colsample_bynode"):
        if name in typed and not 0 < typed[name] <= 1:
            raise AlgorithmClientError(
                f"ClientError: Hyperparameter {name} must be in (0, 1], got {typed[name]}."
            )
    params = {name: value for name, value in typed.items() if name not in _CONTROL}
    params["objective"] = objective
    if "eval_metric" in params:
        params["eval_metric"] = params["eval_metric"].split(",")
    return Config(
        params=params,
        num_round=typed["num_round"],
        early_stopping_rounds=typed.get("early_stopping_rounds"),
        csv_weights=bool(typed.get("csv_weights", 0)),
    )


def content_format(content_type: str | None) -> str:
    """'csv' or 'libsvm' for a channel's ContentType (the algorithm defaults to libsvm)."""
    base = (content_type or "text/libsvm").split(";")[0].strip().lower()
    if base in ("text/csv", "csv"):
        return "csv"
    if base in ("text/libsvm", "libsvm", "text/x-libsvm", "application/x-libsvm"):
        return "libsvm"
    raise AlgorithmClientError(
        f"ClientError: Content type {content_type} is not supported by localcloud; use text/csv "
        "(label first, no header) or text/libsvm."
    )


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return field.strip() == ""
    return True


def _csv_problem(filename: str, data: bytes) -> str:
    """Find the first line a learner must fix, for a CSV the fast parser refused."""
    text = data.decode("utf-8", errors="replace")
    width = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        bad = next((f for f in fields if not _is_number(f)), None)
        if bad is not None:
            if number == 1:
                return (
                    f"ClientError: {filename} line 1 is a header ('{line[:80]}'); the built-in "
                    "XGBoost expects CSV without a header, label in the first column."
                )
            return f"ClientError: {filename} line {number} has a non-numeric value '{bad[:40]}'."
        if width is None:
            width = len(fields)
        elif len(fields) != width:
            return (
                f"ClientError: {filename} line {number} has {len(fields)} columns, line 1 has "
                f"{width}."
            )
    return f"ClientError: {filename} could not be read as CSV."


def read_csv(filename: str, data: bytes) -> np.ndarray:
    """All values of a headerless numeric CSV as float32, or a learner-actionable error."""
    import pandas as pd

    first = data[: data.find(b"\n")] if b"\n" in data else data
    if first.strip() and not all(_is_number(f) for f in first.decode(errors="replace").split(",")):
        raise AlgorithmClientError(_csv_problem(filename, data))
    try:
        frame = pd.read_csv(io.BytesIO(data), header=None, dtype=np.float32)
    except (ValueError, pd.errors.ParserError):
        raise AlgorithmClientError(_csv_problem(filename, data)) from None
    return frame.to_numpy()


def load_matrix(
    channel: str, files: list[tuple[str, bytes]], fmt: str, csv_weights: bool, nthread: int
) -> Any:
    """A DMatrix from every file of a channel."""
    import xgboost as xgb

    files = [(name, data) for name, data in files if data.strip()]
    if not files:
        raise AlgorithmClientError(f"ClientError: No data found in the {channel} channel.")
    if fmt == "libsvm":
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, f"{channel}.libsvm")
            with open(path, "wb") as out:
                for _name, data in files:
                    out.write(data if data.endswith(b"\n") else data + b"\n")
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return xgb.DMatrix(f"{path}?format=libsvm", nthread=nthread)
            except xgb.core.XGBoostError as error:
                raise AlgorithmClientError(
                    f"ClientError: {channel} data is not valid libsvm: {str(error)[:200]}"
                ) from None
    arrays = [read_csv(name, data) for name, data in files]
    widths = {array.shape[1] for array in arrays}
    if len(widths) > 1:
        raise AlgorithmClientError(
            f"ClientError: the files of the {channel} channel have different numbers of columns "
            f"({sorted(widths)})."
        )
    values = arrays[0] if len(arrays) == 1 else np.vstack(arrays)
    first_feature = 2 if csv_weights else 1
    if values.shape[1] <= first_feature:
        raise AlgorithmClientError(
            f"ClientError: {channel} data has {values.shape[1]} column(s); the built-in XGBoost "
            "expects the label in the first column followed by at least one feature."
        )
    weights = values[:, 1] if csv_weights else None
    return xgb.DMatrix(
        values[:, first_feature:], label=values[:, 0], weight=weights, nthread=nthread
    )


@functools.cache
def cuda_device() -> tuple[bool, str]:
    """(usable, description) of this host's CUDA device for XGBoost."""
    import xgboost as xgb

    if not xgb.build_info().get("USE_CUDA"):
        return False, "this xgboost build has no CUDA support"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            booster = xgb.train(
                {"device": "cuda", "tree_method": "hist"},
                xgb.DMatrix(np.array([[0.0], [1.0]]), label=[0.0, 1.0]),
                1,
            )
        except xgb.core.XGBoostError as error:
            return False, f"CUDA is not usable ({str(error).splitlines()[0][:120]})"
    if any("GPU" in str(w.message) for w in caught):
        return False, "no visible GPU on this host"
    config = json.loads(booster.save_config())
    device = config["learner"]["generic_param"].get("device", "")
    if not device.startswith("cuda"):
        return False, "no visible GPU on this host"
    return True, "CUDA device 0"


_GPU_FAMILIES = (
    "g3",
    "g3s",
    "g4dn",
    "g5",
    "g6",
    "g6e",
    "gr6",
    "p2",
    "p3",
    "p3dn",
    "p4d",
    "p4de",
    "p5",
    "p5e",
    "p5en",
    "p6",
)


def is_gpu_instance(instance_type: str) -> bool:
    parts = instance_type.split(".")
    return len(parts) == 3 and parts[1] in _GPU_FAMILIES


def choose_device(instance_type: str) -> tuple[str, str]:
    """('cuda' | 'cpu', sentence for the training log)."""
    if not is_gpu_instance(instance_type):
        return "cpu", f"Instance type {instance_type} has no GPU; training on CPU."
    usable, detail = cuda_device()
    if usable:
        return "cuda", f"Instance type {instance_type} has a GPU; training on {detail} (cuda)."
    return "cpu", (
        f"Instance type {instance_type} has a GPU but {detail}; falling back to CPU training."
    )


def train(
    config: Config,
    dtrain: Any,
    dvalidation: Any | None,
    device: str,
    on_round: Callable[[int, dict[str, float]], None],
) -> Any:
    """Train; on_round gets each round's metrics and may raise to end training early."""
    import xgboost as xgb

    params = dict(config.params)
    params.setdefault("tree_method", "hist")
    params["device"] = device
    evals = [(dtrain, "train")]
    if dvalidation is not None:
        evals.append((dvalidation, "validation"))

    class RoundCallback(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
            metrics = {
                f"{data}-{metric}": float(values[-1])
                for data, by_metric in evals_log.items()
                for metric, values in by_metric.items()
            }
            on_round(epoch, metrics)
            return False

    early = config.early_stopping_rounds if dvalidation is not None else None
    try:
        booster = xgb.train(
            params,
            dtrain,
            num_boost_round=config.num_round,
            evals=evals,
            early_stopping_rounds=early,
            callbacks=[RoundCallback()],
            verbose_eval=False,
        )
    except xgb.core.XGBoostError as error:
        message = str(error).strip().splitlines()
        detail = next((line for line in reversed(message) if line.strip()), "")
        raise AlgorithmClientError(
            f"ClientError: XGBoost refused the job: {detail[:300]}"
        ) from None
    return booster


def model_archive(booster: Any) -> bytes:
    """model.tar.gz holding xgboost-model, as the algorithm writes it."""
    raw = bytes(booster.save_raw("ubj"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
        info = tarfile.TarInfo(MODEL_FILE)
        info.size = len(raw)
        archive.addfile(info, io.BytesIO(raw))
    return buffer.getvalue()


def load_model(archive: bytes) -> Any:
    import xgboost as xgb

    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        member = tar.extractfile(MODEL_FILE)
        if member is None:
            raise AlgorithmClientError(f"ClientError: model.tar.gz has no {MODEL_FILE}.")
        raw = member.read()
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster
