"""Print time from a motion model: trapezoidal speed profiles joined at jerk-limited corners.

This follows the Marlin planner (and PrusaSlicer's estimator, which imitates it): each move
accelerates from its entry speed towards its nominal speed and decelerates to its exit speed;
the speed through a corner is limited by the jerk (or junction deviation) settings; the planner
looks ahead through the whole file. The look-ahead is solved for all moves at once: with
w = v² and P the running sum of 2·a·length, "w[k] <= w[k+1] + 2·a·L" unrolls to a cumulative
minimum of (c + P) from the end, and the forward pass to one of (w - P) from the start.
"""

from __future__ import annotations

import numpy as np

from slicing.gcode_parse import Limits, Moves


def _limit_table(limits: list[Limits]) -> dict[str, np.ndarray]:
    return {
        "max_accel": np.array([lim.max_accel for lim in limits]),
        "max_feed": np.array([lim.max_feed for lim in limits]),
        "jerk": np.array([lim.jerk for lim in limits]),
        "jd": np.array([lim.junction_deviation or 0.0 for lim in limits]),
        "accel_print": np.array([lim.accel_print for lim in limits]),
        "accel_retract": np.array([lim.accel_retract for lim in limits]),
        "accel_travel": np.array([lim.accel_travel for lim in limits]),
        "percent": np.array([lim.feed_percent for lim in limits]),
        "min_feed": np.array([lim.min_feed for lim in limits]),
        "min_travel": np.array([lim.min_travel_feed for lim in limits]),
    }


CHUNK = 262_144  # moves per block of (n, 4) temporaries: bounds memory on huge files


def _terms(moves: Moves, table: dict[str, np.ndarray], lo: int, hi: int) -> tuple[np.ndarray, ...]:
    """Per-move length, nominal speed, acceleration and standstill speed for moves [lo, hi),
    and the corner speed limit into each of them from the move before (inf for move 0)."""
    first = max(lo - 1, 0)  # one move of context for the corner into move `lo`
    sl = slice(first, hi)
    li = moves.limits_idx[sl]
    delta = np.stack(
        [
            moves.x[sl] - moves.x0[sl],
            moves.y[sl] - moves.y0[sl],
            moves.z[sl] - moves.z0[sl],
            moves.de[sl],
        ],
        axis=1,
    )  # (m, 4)
    xyz = np.linalg.norm(delta[:, :3], axis=1)
    e_only = xyz < 1e-9
    length = np.maximum(np.where(e_only, np.abs(delta[:, 3]), xyz), 1e-9)
    unit = delta / length[:, None]  # (m, 4); E components follow the XYZ length
    safe = np.maximum(np.abs(unit), 1e-12)
    extruding = (delta[:, 3] > 0) & ~e_only
    feed = moves.feed[sl] * table["percent"][li] / 100.0
    feed = np.maximum(feed, np.where(extruding, table["min_feed"][li], table["min_travel"][li]))
    nominal = np.minimum(feed, (table["max_feed"][li] / safe).min(axis=1))
    accel = np.where(
        e_only,
        table["accel_retract"][li],
        np.where(extruding, table["accel_print"][li], table["accel_travel"][li]),
    )
    accel = np.maximum(np.minimum(accel, (table["max_accel"][li] / safe).min(axis=1)), 1e-3)
    jerk = table["jerk"][li]
    # the fastest speed a move can start at from standstill: every axis within its jerk
    start_safe = np.minimum(nominal, (jerk / safe).min(axis=1))
    # corner speed: the velocity jump per axis at the same speed on both sides within jerk
    jump = np.maximum(np.abs(unit[1:] - unit[:-1]), 1e-12)
    corner = (jerk[1:] / jump).min(axis=1)
    jd = table["jd"][li][1:]
    if np.any(jd > 0):
        cos_theta = -(unit[1:, :3] * unit[:-1, :3]).sum(axis=1)
        sin_half = np.sqrt(np.clip((1.0 - cos_theta) / 2.0, 0.0, 1.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            jd_speed = np.sqrt(accel[1:] * jd * sin_half / np.maximum(1.0 - sin_half, 1e-9))
        corner = np.where(jd > 0, np.where(sin_half > 0.9999, np.inf, jd_speed), corner)
    corner = np.minimum(corner, np.minimum(nominal[1:], nominal[:-1]))
    corner = np.maximum(corner, np.minimum(start_safe[1:], start_safe[:-1]))
    if lo == 0:
        corner = np.r_[np.inf, corner]
    skip = lo - first  # drop the context move
    return length[skip:], nominal[skip:], accel[skip:], start_safe[skip:], corner


def move_times(moves: Moves) -> np.ndarray:
    """(n,) float: seconds each move takes under the motion model."""
    n = len(moves.x)
    if n == 0:
        return np.zeros(0)
    table = _limit_table(moves.limits)
    parts = [_terms(moves, table, lo, min(lo + CHUNK, n)) for lo in range(0, n, CHUNK)]
    length, nominal, accel, start_safe, corner = (
        np.concatenate(p) for p in zip(*parts, strict=True)
    )
    del parts
    # w[k] = squared speed at junction k; junction 0 starts the file, junction n ends it
    cap = np.empty(n + 1)
    cap[0] = start_safe[0] ** 2
    cap[1:n] = corner[1:] ** 2
    cap[n] = start_safe[-1] ** 2
    reach = np.concatenate([[0.0], np.cumsum(2.0 * accel * length)])
    backward = np.minimum.accumulate((cap + reach)[::-1])[::-1] - reach
    w = np.minimum.accumulate(backward - reach) + reach
    w = np.clip(w, 0.0, None)
    return _trapezoid_times(length, np.sqrt(w[:-1]), np.sqrt(w[1:]), nominal, accel)


def _trapezoid_times(
    length: np.ndarray, v0: np.ndarray, v1: np.ndarray, vmax: np.ndarray, accel: np.ndarray
) -> np.ndarray:
    v0 = np.minimum(v0, vmax)
    v1 = np.minimum(v1, vmax)
    accel_dist = (vmax**2 - v0**2) / (2.0 * accel)
    decel_dist = (vmax**2 - v1**2) / (2.0 * accel)
    cruise = length - accel_dist - decel_dist
    full = (vmax - v0) / accel + (vmax - v1) / accel + np.maximum(cruise, 0.0) / vmax
    peak = np.sqrt(np.maximum((2.0 * accel * length + v0**2 + v1**2) / 2.0, 0.0))
    peak = np.maximum(peak, np.maximum(v0, v1))
    short = (peak - v0) / accel + (peak - v1) / accel
    return np.where(cruise >= 0.0, full, short)


def estimate_seconds(moves: Moves) -> float:
    return float(move_times(moves).sum() + moves.dwell_s)
