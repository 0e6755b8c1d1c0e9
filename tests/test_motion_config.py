"""The motion section of params.yaml: typed, defaults as shipped, every mistake one line naming its key."""
from pathlib import Path

import pytest
import yaml

from tasks.common.config import validate_section
from tasks.common.params import ParamsError
from tasks.motion.config import MotionConfig
from tasks.motion.procedural import CLASSES
from tasks.motion.procedural.scene import Area

ROOT = Path(__file__).resolve().parents[1]


def motion(**section) -> MotionConfig:
    return validate_section(MotionConfig, section, "motion")


def test_the_shipped_params_are_the_defaults():
    shipped = motion(**yaml.safe_load((ROOT / "params.yaml").read_text())["motion"])
    assert shipped == MotionConfig()
    assert shipped.procedural.classes == CLASSES and shipped.procedural.area.area() == Area()
    assert shipped.split_fractions.as_dict() == {"train": 0.7, "val": 0.15, "test": 0.15}
    assert shipped.humanml3d.root == Path("data/raw/humanml3d") and shipped.bvh.scale == "auto"
    assert shipped.procedural.walk_speed_mps == (0.4, 1.6) and shipped.procedural.jog_speed_mps == (1.8, 3.4)


def test_values_are_typed():
    cfg = motion(sources=["bvh", "humanml3d"], strict="off", split_fractions={"train": 1},
                 humanml3d={"subset": ["000001", "M000002"], "mirrored": "yes"}, bvh={"scale": 0.01})
    assert cfg.sources == ("bvh", "humanml3d") and cfg.strict is False and cfg.humanml3d.mirrored is True
    assert cfg.split_fractions.as_dict() == {"train": 1.0, "val": 0.0, "test": 0.0}  # a split left out gets none
    assert cfg.humanml3d.subset == ["000001", "M000002"] and cfg.bvh.scale == 0.01
    assert motion(procedural={"classes": ["wave", "walk"]}).procedural.classes == ("wave", "walk")


@pytest.mark.parametrize("section, message", [
    ({"sources": ["procedural", "procedural"]}, "motion.sources: 'procedural' is listed more than once"),
    ({"split_fractions": {"train": -0.5, "val": 1}}, "motion.split_fractions.train: Input should be greater than "
                                                     "or equal to 0"),
    ({"humanml3d": {"subset": [1]}}, "motion.humanml3d.subset: clip ids must be quoted strings ('000001'), got 1"),
    ({"humanml3d": {"subset": -1}}, "motion.humanml3d.subset: expected null, a number of clips >= 0 or a list of "
                                    "ids, got -1"),
    ({"humanml3d": {"min_seconds": -1}}, "motion.humanml3d.min_seconds: Input should be greater than or equal to 0"),
    ({"humanml3d": {"mirorred": True}}, "motion.humanml3d.mirorred: unknown key (did you mean 'mirrored'?)"),
    ({"bvh": {"scale": 0}}, "motion.bvh.scale: metres per file unit must be positive, got 0"),
    ({"bvh": {"scael": "cm"}}, "motion.bvh.scael: unknown key (did you mean 'scale'?)"),
    ({"procedural": {"walk_speed_mps": [0.4, 2.5]}}, "motion.procedural.walk_speed_mps: need 0.3 <= min <= max <= 2, "
                                                     "got [0.4, 2.5]"),
    ({"procedural": {"jog_speed_mps": [3.0, 2.0]}}, "motion.procedural.jog_speed_mps: need 1.5 <= min <= max <= 4, "
                                                    "got [3, 2]"),
    ({"procedural": {"walk_speed": [0.4, 1.2]}}, "motion.procedural.walk_speed: unknown key (did you mean "
                                                 "'walk_speed_mps'?)"),
])
def test_mistakes_name_the_key(section, message):
    with pytest.raises(ParamsError) as err:
        motion(**section)
    assert str(err.value) == f"params.yaml: {message}"
