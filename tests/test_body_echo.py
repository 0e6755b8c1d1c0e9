"""A bone's echo power does not depend on how finely the body model samples it."""
from __future__ import annotations

import numpy as np
import pytest

from tasks.common.skeleton import BONES, JOINT_NAMES
from tasks.simulate.radar import RadarConfig, simulate_radar
from tasks.simulate.radar.body import REFERENCE_SPACING_M, _segment, bone_scatterers
from tasks.simulate.radar.synthetic import walking_skeleton


def _echo_power_db(density: float, joints: np.ndarray) -> float:
    """Total range-profile power of a walk, averaged over 4 seeds (the surface offsets give speckle)."""
    total = [simulate_radar(joints, 20, RadarConfig(noise_db=None, scatterers_per_m=density, seed=seed,
                                                    static_clutter_removal=False, multipath_reflectors=0)
                            )["range_time"].sum() for seed in range(4)]
    return float(10 * np.log10(np.mean(total)))


def test_echo_power_is_independent_of_scatterer_density():
    # Points on the bone line used to add in amplitude (length / n each), so the power fell ~10 dB per
    # tenfold density: +5.2 dB at 5 per metre to -13.4 dB at 400, relative to 20.  Now within speckle.
    joints = walking_skeleton(1.0)
    reference = _echo_power_db(20.0, joints)
    for density in (5.0, 100.0, 400.0):
        assert _echo_power_db(density, joints) == pytest.approx(reference, abs=1.5), density


@pytest.mark.parametrize("density", [5.0, 20.0, 137.0])
def test_body_power_is_reflectivity_squared_times_length_times_reference_spacing(density):
    rest = walking_skeleton(0.2)[0].astype(np.float64)
    cfg = RadarConfig(scatterers_per_m=density)
    _, _, _, amplitude = bone_scatterers(rest, cfg)
    expected = sum(cfg.reflectivity[_segment(JOINT_NAMES[c])] ** 2 * float(np.linalg.norm(rest[c] - rest[p]))
                   * REFERENCE_SPACING_M for p, c in BONES)
    assert float((amplitude ** 2).sum()) == pytest.approx(expected, rel=1e-9)
