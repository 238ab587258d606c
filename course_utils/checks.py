"""Checks a notebook can print on any machine: a measured number against the course's reference run.

A number measured by a network (a pointing-game rate, a correlation, a t-SNE neighbour score) moves a
little with the CPU, the thread count, the BLAS and oneDNN: floating-point sums are added up in
another order. A notebook therefore prints the exact numbers in an ordinary cell and, in a cell that
the tests compare with the committed outputs (``# NBVAL_CHECK_OUTPUT``), only a verdict::

    expect("vanilla pointing game", hits["vanilla"].mean(), 0.63, 0.03)
    # vanilla pointing game within 0.03 of 0.63: ok

The verdict names the reference and the tolerance, never the measured value, so it reads the same on
every machine; a value outside the tolerance raises an ``AssertionError`` that says by how much.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Number = int | float | np.number
Values = Number | Sequence[Number] | np.ndarray


def _fmt(x) -> str:
    """A number as written in a notebook: 3, 0.63, 1e-04 (no float noise such as 0.63000000001)."""
    a = np.asarray(x)
    if a.ndim:
        return "[" + ", ".join(_fmt(v) for v in a.tolist()) + "]"
    v = a.item()
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}" if math.isfinite(v) else str(v)


def expect(name: str, value: Values, reference: Values, tol: float, *, skip: bool = False) -> None:
    """Print ``"<name> within <tol> of <reference>: ok"`` if ``|value - reference| <= tol``, else raise
    (a float32 value on the edge passes: the comparison allows 1e-6 of rounding).

    - ``value``: what this run measured: a number, or an array of numbers checked element by element
      against ``reference`` of the same shape (e.g. one count per layer).
    - ``reference``: the value of the course's reference run (the committed notebook, default parameters).
    - ``tol``: the largest difference the method can promise across CPUs, thread counts, BLAS and
      oneDNN (e.g. a scene or two of a rate over 200 scenes, a few cells of an atlas), not the noise of
      one machine. The printed line never contains ``value``, so it is the same on every machine.
    - ``skip``: True when this run is not the reference run (FAST or other parameters, another model):
      the line says "not checked" and nothing is compared. NaN or infinite values never pass.

    Raises ``AssertionError`` naming the measured value, the reference and the tolerance when the
    value is off (or NaN), and ``ValueError`` for a negative or NaN tolerance or mismatched shapes.
    """
    if not (isinstance(tol, (int, float, np.number)) and tol >= 0):
        raise ValueError(f"{name}: tolerance {tol!r} must be a number >= 0")
    ref = np.asarray(reference, dtype=float)
    if not np.isfinite(ref).all():
        raise ValueError(f"{name}: reference {_fmt(reference)} must be finite")
    expected = f"{name} within {_fmt(tol)} of {_fmt(reference)}"
    if skip:
        print(f"{expected}: not checked (the reference is for the default parameters)")
        return
    try:
        got = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as e:
        raise AssertionError(f"{name}: measured {value!r}, not a number; expected within {_fmt(tol)} of "
                             f"{_fmt(reference)}") from e
    if got.shape != ref.shape:
        raise ValueError(f"{name}: measured shape {got.shape} but reference shape {ref.shape}")
    off = np.abs(got - ref)
    bad = ~(off <= tol + 1e-6 * np.maximum(1, np.abs(ref)))  # float32 0.66 vs 0.63 +- 0.03 passes; NaN never
    if bad.any():
        finite = off[bad][np.isfinite(off[bad])]
        worst = float(finite.max()) if finite.size else float("nan")
        raise AssertionError(f"{name}: measured {_fmt(got)}, expected within {_fmt(tol)} of {_fmt(reference)} "
                             f"(off by {_fmt(worst)}); if a parameter or the model changed, the course's "
                             "reference values do not apply")
    print(f"{expected}: ok")
