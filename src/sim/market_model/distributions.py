"""The fair-value rule's CDFs on arrays: the strategy's own functions, evaluated in bulk.

``normal_cdf`` applies :func:`src.trading.signals.mathx.norm_cdf` element by element.
``unit_t_cdf`` is the unit-variance Student-t of the strategy's fair value
(``student_t_cdf(z·√(ν/(ν−2)), ν)``): one scalar evaluation costs microseconds (an
incomplete beta function), too slow for 900 seconds a window, so it is tabulated once per
``ν`` from the strategy's function on a fine grid and interpolated (error below 3e-7; the
tests check it). Beyond the grid the strategy's function is called directly.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from src.trading.signals.mathx import norm_cdf, student_t_cdf

TABLE_LIMIT = 40.0
"""The table covers |z| ≤ this (standard deviations of the unit-variance t)."""
FINE_LIMIT = 8.0
FINE_STEP = 0.002
"""Where the CDF bends (|z| ≤ 8) the grid is fine; beyond, it is smooth and a coarser step
keeps the same accuracy."""
COARSE_STEP = 0.05

_tables: dict[float, np.ndarray] = {}
_lock = threading.Lock()
_TAIL = np.linspace(
    FINE_LIMIT, TABLE_LIMIT, round((TABLE_LIMIT - FINE_LIMIT) / COARSE_STEP) + 1
)
_GRID = np.concatenate(
    (
        -_TAIL[:0:-1],
        np.linspace(-FINE_LIMIT, FINE_LIMIT, round(2 * FINE_LIMIT / FINE_STEP) + 1),
        _TAIL[1:],
    )
)


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """Φ(z) for each element (±inf give 1 and 0)."""
    return np.array([norm_cdf(x) for x in z.tolist()], dtype=np.float64)


def unit_t(z: float, dof: float) -> float:
    """The strategy's unit-variance Student-t CDF at one point."""
    return student_t_cdf(z * math.sqrt(dof / (dof - 2.0)), dof)


def _table(dof: float) -> np.ndarray:
    table = _tables.get(dof)
    if table is None:
        values = np.array([unit_t(x, dof) for x in _GRID.tolist()])
        with _lock:
            table = _tables.setdefault(dof, values)
    return table


def unit_t_cdf(z: np.ndarray, dof: float) -> np.ndarray:
    """The unit-variance Student-t CDF with ``dof`` degrees of freedom at each element."""
    p = np.interp(z, _GRID, _table(dof))
    outside = np.abs(z) > TABLE_LIMIT
    if outside.any():
        p[outside] = [unit_t(x, dof) for x in z[outside].tolist()]
    return p
