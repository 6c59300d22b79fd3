"""Input checks shared by the method's modules; each failure raises a `MethodError`."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from ensemw2s.trainer.method.errors import MethodError

WEIGHT_SUM_TOLERANCE = 1e-6


def float_array(values: npt.ArrayLike, name: str, ndim: int) -> npt.NDArray[np.float64]:
    """``values`` as a finite float64 array with ``ndim`` dimensions."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise MethodError(f"{name}: must be numeric (got {type(values).__name__}); pass numbers") from error
    if array.ndim != ndim:
        raise MethodError(f"{name}: must have {ndim} dimensions (got shape {array.shape}); reshape it")
    if not np.all(np.isfinite(array)):
        raise MethodError(f"{name}: must be finite (got NaN or inf); check the model outputs")
    return array


def probabilities(values: npt.ArrayLike, name: str, ndim: int) -> npt.NDArray[np.float64]:
    """Class scores with K >= 2 classes on the last axis and at least one row."""
    array = float_array(values, name, ndim)
    if array.shape[-1] < 2:
        raise MethodError(
            f"{name}: must have K >= 2 classes on the last axis (got shape {array.shape}); pass one column per class"
        )
    if array.shape[-2] < 1:
        raise MethodError(f"{name}: must hold at least one example (got shape {array.shape})")
    return array


def class_ids(values: npt.ArrayLike, name: str, size: int) -> npt.NDArray[np.int64]:
    """Non-negative integer class ids with ``size`` entries."""
    array = np.asarray(values)
    if array.ndim != 1 or array.shape[0] != size:
        raise MethodError(f"{name}: must have shape ({size},) to match the predictions (got {array.shape})")
    if array.dtype.kind not in "iub":
        raise MethodError(f"{name}: must be integer class ids (got dtype {array.dtype}); cast them")
    if size and array.min() < 0:
        raise MethodError(f"{name}: must be class ids >= 0 (got min {array.min()})")
    return array.astype(np.int64)


def class_labels(values: npt.ArrayLike, name: str, size: int, num_classes: int) -> npt.NDArray[np.int64]:
    """Integer labels in [0, K) with ``size`` entries."""
    array = class_ids(values, name, size)
    if size and array.max() >= num_classes:
        raise MethodError(
            f"{name}: must be class ids in [0, {num_classes}) (got max {array.max()}); "
            "the predictions have one column per class"
        )
    return array


def sample_weights(values: npt.ArrayLike, name: str = "weights") -> npt.NDArray[np.float64]:
    """Non-negative weights that sum to 1 within 1e-6."""
    array = float_array(values, name, ndim=1)
    if array.size == 0:
        raise MethodError(f"{name}: must hold at least one weight (got 0)")
    if np.any(array < 0):
        raise MethodError(f"{name}: must be non-negative (got min {array.min():.3g}); use sample weights >= 0")
    total = float(array.sum())
    if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
        raise MethodError(f"{name}: must sum to 1 within 1e-6 (got {total:.6g}); normalise them first")
    return array


def same_length(name: str, size: int, expected: int, expected_name: str) -> None:
    if size != expected:
        raise MethodError(
            f"{name}: must have {expected} entries like {expected_name} (got {size}); pass one value per example"
        )
