"""The motion library: one motion per class, and each class's confusers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from skelssl.data.synthetic.config import MAX_CLASSES
from skelssl.data.synthetic.kinematics import _LATERAL

# --------------------------------------------------------------------------- motions


@dataclass
class _Ctx:
    t: np.ndarray  # (B, T) seconds since the action's onset
    dur: np.ndarray  # (B, 1) active duration in seconds
    env: np.ndarray  # (B, T) 0..1 activity envelope (smooth on/off)
    speed: np.ndarray  # (B, 1)
    phase: np.ndarray  # (B, 1) radians
    style: np.ndarray  # (B, 8) uniforms choosing how this sample performs its action
    variety: float  # 0..1, scales the style variation (the difficulty)

    def osc(self, hz: float, shift: float = 0.0) -> np.ndarray:
        return np.sin(2.0 * np.pi * hz * self.speed * self.t + self.phase + shift)

    def reps(self, period: float) -> np.ndarray:
        """Position 0..1 within the current repetition; a whole number of repetitions fills the action."""
        n = np.maximum(1.0, np.round(self.dur * self.speed / period))
        u = np.clip(self.t / self.dur, 0.0, 1.0) * n
        return np.where(u >= n, 0.0, u - np.floor(u))

    def vary(self, k: int, spread: float) -> np.ndarray:
        """A per-sample offset in +-spread x variety (B, 1): one performer's way of doing the action."""
        return spread * self.variety * (2.0 * self.style[:, k : k + 1] - 1.0)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _pulse(x: np.ndarray, duty: float = 1.0) -> np.ndarray:
    """A sin^2 bump over the first ``duty`` of the repetition, zero after."""
    return np.sin(np.pi * np.clip(x / duty, 0.0, 1.0)) ** 2


def _hold(x: np.ndarray) -> np.ndarray:
    """A bump that rises, holds at 1 through the middle, and falls."""
    return _smoothstep(1.5 * np.sin(np.pi * x))


Motion = dict[str, np.ndarray]

# Each motion returns offsets from the neutral posture for the DOFs it moves (right-
# handed versions; left-handed classes are mirror images). ``c.vary`` adds the
# per-sample style: how high, how wide, in which plane.


def _wave_right(c: _Ctx) -> Motion:
    e, o = c.env, c.osc(2.0) * c.env
    # Upper arm out to the side, humerus rotated so the forearm points up; waving
    # swings the forearm side to side about the elbow.
    return {"r_sh_el": e * (85.0 + c.vary(0, 25.0)), "r_sh_az": e * (5.0 + c.vary(1, 35.0)),
            "r_sh_rot": e * 85.0, "r_elbow": e * (75.0 + c.vary(2, 25.0)) + (30.0 + c.vary(3, 12.0)) * o,
            "r_wrist": 15.0 * o, "thorax_side": -3.0 * e, "l_sh_el": e * c.vary(4, 20.0)}


def _wave_both(c: _Ctx) -> Motion:
    e, o = c.env, c.osc(1.8) * c.env
    out: Motion = {}
    for s in "lr":
        out.update({f"{s}_sh_el": e * (110.0 + c.vary(0, 30.0)), f"{s}_sh_az": e * (c.vary(1, 30.0) - 5.0),
                    f"{s}_sh_rot": e * 80.0, f"{s}_elbow": e * (55.0 + c.vary(2, 30.0)) + 28.0 * o,
                    f"{s}_wrist": 12.0 * o})
    return out


def _kick_right(c: _Ctx) -> Motion:
    x = c.reps(1.5)
    s1 = np.sin(np.pi * np.clip(x / 0.7, 0.0, 1.0))
    p = s1**2
    # The knee chambers first and extends at the top of the hip swing.
    return {"r_hip_flex": (75.0 + c.vary(0, 20.0)) * p, "r_hip_abd": c.vary(1, 25.0) * p,
            "r_knee": 85.0 * p * (1.0 - s1**6), "r_ankle": -20.0 * p, "l_knee": 10.0 * p,
            "l_sh_el": (30.0 + c.vary(2, 25.0)) * p, "r_sh_el": (20.0 + c.vary(3, 20.0)) * p,
            "lumbar_bend": (c.vary(4, 10.0) - 8.0) * p}


def _squat(c: _Ctx) -> Motion:
    d = _pulse(c.reps(2.4))
    out: Motion = {"lumbar_bend": (22.0 + c.vary(0, 12.0)) * d, "thorax_bend": 6.0 * d}
    arms = 75.0 + c.vary(1, 55.0)  # arms out front for balance, or kept low
    for s in "lr":
        out.update({f"{s}_hip_flex": 100.0 * d, f"{s}_knee": 115.0 * d, f"{s}_ankle": 28.0 * d,
                    f"{s}_sh_el": arms * d, f"{s}_sh_az": (70.0 + c.vary(2, 20.0)) * d})
    return out


def _jump(c: _Ctx) -> Motion:
    x = c.reps(1.2)
    crouch = _pulse(x, 0.35)
    flight = np.sin(np.pi * np.clip((x - 0.35) / 0.3, 0.0, 1.0))
    land = np.sin(np.pi * np.clip((x - 0.65) / 0.3, 0.0, 1.0)) ** 2
    bend = crouch + land
    swing = 100.0 + c.vary(0, 60.0)
    out: Motion = {"root_lift": (0.25 + c.vary(1, 0.08)) * flight, "lumbar_bend": 15.0 * bend}
    for s in "lr":
        # Arms swing back in the crouch and up through the take-off.
        out.update({f"{s}_hip_flex": 50.0 * bend, f"{s}_knee": 70.0 * bend, f"{s}_ankle": 22.0 * bend - 20.0 * flight,
                    f"{s}_sh_el": swing * flight - 30.0 * crouch,
                    f"{s}_sh_az": (70.0 + c.vary(2, 30.0)) * np.clip(bend + flight, 0, 1)})
    return out


def _punch_right(c: _Ctx) -> Motion:
    e = c.env
    p = _pulse(c.reps(0.8), 0.45)
    out: Motion = {"thorax_twist": 18.0 * p}
    guard = 40.0 + c.vary(0, 20.0)
    for s in "lr":
        # Boxing guard: fists in front of the chin.
        out.update({f"{s}_sh_el": guard * e, f"{s}_sh_az": 55.0 * e, f"{s}_elbow": 110.0 * e,
                    f"{s}_sh_rot": -20.0 * e})
    # Straight punches, or hooks (wider plane, bent elbow) for some performers.
    out["r_sh_el"] = out["r_sh_el"] + (45.0 + c.vary(1, 20.0)) * p
    out["r_sh_az"] = out["r_sh_az"] + (15.0 + c.vary(2, 35.0)) * p
    out["r_elbow"] = out["r_elbow"] - (105.0 + c.vary(3, 15.0) - 5.0 * c.variety) * p
    return out


def _bow(c: _Ctx) -> Motion:
    d = _hold(c.reps(3.0))
    tilt = 30.0 + c.vary(0, 15.0)
    out: Motion = {"root_tilt": tilt * d, "lumbar_bend": (25.0 + c.vary(1, 12.0)) * d, "thorax_bend": 15.0 * d,
                   "neck_nod": 20.0 * d}
    for s in "lr":
        # Hips flex as much as the pelvis tilts (legs stay vertical); arms hang or stay at the sides.
        out.update({f"{s}_hip_flex": tilt * d, f"{s}_knee": 5.0 * d, f"{s}_sh_el": (55.0 + c.vary(2, 35.0)) * d,
                    f"{s}_sh_az": 70.0 * d})
    return out


def _raise_arms(c: _Ctx) -> Motion:
    d = _hold(c.reps(3.2))
    out: Motion = {"thorax_bend": -5.0 * d}
    plane = c.vary(0, 60.0)  # through the side, or more to the front
    for s in "lr":
        out.update({f"{s}_sh_el": (150.0 + c.vary(1, 25.0)) * d, f"{s}_sh_az": (plane - 10.0) * d,
                    f"{s}_elbow": (c.vary(2, 20.0) - 5.0) * d, f"{s}_clav": 12.0 * d})
    return out


def _clap(c: _Ctx) -> Motion:
    e = c.env
    o = c.osc(2.2)
    o = np.sign(o) * np.abs(o) ** 0.5 * e  # quick closing, brief contact
    height = 62.0 + c.vary(0, 30.0)
    out: Motion = {}
    for s in "lr":
        out.update({f"{s}_sh_el": height * e, f"{s}_sh_az": 68.0 * e + 16.0 * o,
                    f"{s}_elbow": (25.0 + c.vary(1, 20.0)) * e + 8.0 * o, f"{s}_sh_rot": -15.0 * e})
    return out


def _side_step(c: _Ctx) -> Motion:
    e = c.env
    w = 2.0 * np.pi * 0.6 * c.speed * c.t + c.phase
    vel = np.cos(w)
    arms = 10.0 + c.vary(0, 20.0)
    return {"root_tx": (0.22 + c.vary(1, 0.1)) * np.sin(w) * e,
            # The leading leg opens in the direction of travel.
            "l_hip_abd": 14.0 * np.maximum(0.0, vel) * e, "r_hip_abd": 14.0 * np.maximum(0.0, -vel) * e,
            "l_knee": 12.0 * np.abs(vel) * e, "r_knee": 12.0 * np.abs(vel) * e,
            "l_sh_el": arms * np.abs(vel) * e, "r_sh_el": arms * np.abs(vel) * e}


def _walk_in_place(c: _Ctx) -> Motion:
    e = c.env
    w = 2.0 * np.pi * 0.9 * c.speed * c.t + c.phase
    sl, sr = np.maximum(0.0, np.sin(w)) * e, np.maximum(0.0, -np.sin(w)) * e
    swing = np.sin(w) * e * (22.0 + c.vary(0, 15.0))
    lift = 40.0 + c.vary(1, 15.0)
    return {"l_hip_flex": lift * sl, "l_knee": 70.0 * sl, "l_ankle": -10.0 * sl,
            "r_hip_flex": lift * sr, "r_knee": 70.0 * sr, "r_ankle": -10.0 * sr,
            # Arms swing against the legs.
            "l_sh_el": -swing, "r_sh_el": swing, "l_sh_az": 70.0 * e, "r_sh_az": 70.0 * e,
            "l_elbow": (20.0 + c.vary(2, 20.0)) * e, "r_elbow": (20.0 + c.vary(2, 20.0)) * e,
            "root_lean": 3.0 * np.sin(w) * e}


def _turn_around(c: _Ctx) -> Motion:
    d = _hold(np.clip(c.t / c.dur, 0.0, 1.0))
    direction = np.where(c.style[:, 7:8] < 0.5, -1.0, 1.0)
    out = {k: 0.6 * v for k, v in _walk_in_place(c).items()}
    out["root_yaw"] = direction * (150.0 + c.vary(3, 50.0)) * d
    out["neck_turn"] = direction * 15.0 * np.sin(np.pi * np.clip(c.t / c.dur, 0.0, 1.0))
    return out


def _mirrored(fn: Callable[[_Ctx], Motion]) -> Callable[[_Ctx], Motion]:
    def mirrored(c: _Ctx) -> Motion:
        out: Motion = {}
        for name, v in fn(c).items():
            if name[:2] in ("l_", "r_"):
                name = ("r_" if name[0] == "l" else "l_") + name[2:]
            out[name] = -v if name in _LATERAL else v
        return out

    return mirrored


# (motion, confusers in order of preference): a sample mixes in the first confuser
# that is one of the K classes in use, so confusion stays between real classes.
_MOTIONS: tuple[tuple[Callable[[_Ctx], Motion], tuple[int, ...]], ...] = (
    (_wave_right, (1,)),
    (_wave_both, (7,)),
    (_kick_right, (10, 9)),
    (_squat, (6,)),
    (_jump, (3,)),
    (_punch_right, (8,)),
    (_bow, (3,)),
    (_raise_arms, (1,)),
    (_clap, (5,)),
    (_side_step, (10, 2)),
    (_walk_in_place, (9,)),
    (_turn_around, (10, 9)),
    (_mirrored(_wave_right), (1,)),
    (_mirrored(_kick_right), (10, 2)),
    (_mirrored(_punch_right), (8,)),
)
assert len(_MOTIONS) == MAX_CLASSES


def _confuser(label: int, num_classes: int) -> int:
    for c in _MOTIONS[label][1]:
        if c < num_classes:
            return c
    return (label + 1) % num_classes
