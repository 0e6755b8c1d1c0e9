"""The ``simulate`` section of params.yaml, validated once at the stage boundary (tasks/common/config.py).

``radar`` is a preset (or a TI profile: ``ti_cfg`` with ``ti_device``, or a TI preset; radar/ti_cfg.py) plus
overrides of any RadarConfig field; the overrides are checked against RadarConfig's fields and types
(``simulate.radar.carrier_hz: "77GHz"`` is a one-line error naming that key; so is a malformed profile line,
under ``simulate.radar.ti_cfg``), then the frozen RadarConfig they build is what the section holds.  ``seed``
and ``device`` are set once for the stage: each motion's radar seed is derived from ``simulate.seed`` and the
motion id (tasks/simulate/signals.py).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Literal, get_type_hints

import torch
from pydantic import Field, ValidationInfo, create_model, field_validator, model_validator

from tasks.common.config import Section, invalid, validate_section
from tasks.common.params import ParamsError
from tasks.common.signals import REQUIRED_SITES
from tasks.common.stage import one_line
from tasks.simulate.imu import ImuConfig
from tasks.simulate.radar import PRESETS, RadarConfig, RadarConfigError
from tasks.simulate.radar.devices import DEVICES
from tasks.simulate.radar.ti_cfg import TI_PRESETS, read_profile
from tasks.simulate.scene import SceneConfig

STAGE_WIDE = ("seed", "device")  # RadarConfig fields the stage sets: simulate.seed, simulate.device
PER_MOTION = ("position_m", "yaw_deg", "pitch_deg")  # set per motion from simulate.scene (scene.py)
FROM_PROFILE = ("ti_detection",)  # set only by a TI profile, not a key of its own


class _RadarSectionBase(Section):
    preset: Literal[tuple(PRESETS) + tuple(TI_PRESETS)] = "default"
    ti_cfg: str | None = None  # a TI mmWave SDK profile (.cfg), relative to the working folder
    ti_device: Literal[tuple(DEVICES)] | None = None  # its device family: the antenna layout

    @field_validator("ti_cfg")
    @classmethod
    def _profile_reads(cls, path: str | None) -> str | None:
        # file, line and field of a malformed profile under this key; the device's checks come with the radar
        if path is not None:
            try:
                read_profile(path)
            except (OSError, ParamsError) as exc:
                raise invalid(one_line(exc)) from None
        return path

    @model_validator(mode="before")
    @classmethod
    def _not_stage_wide(cls, data: Any) -> Any:
        for key in STAGE_WIDE:
            if isinstance(data, dict) and key in data:
                raise invalid(f"{key} is set once for the stage: use simulate.{key}")
        for key in PER_MOTION:
            if isinstance(data, dict) and key in data:
                raise invalid(f"{key} is set per motion, relative to the person: use simulate.scene "
                              "(distance_m, bearing_deg, height_m, yaw_deg, pitch_deg)")
        return data


# One optional override per RadarConfig field, typed as the field; only the keys given are overrides.
RadarSection = create_model(
    "RadarSection",
    __base__=_RadarSectionBase,
    **{f.name: (get_type_hints(RadarConfig)[f.name], None)
       for f in dataclasses.fields(RadarConfig) if f.name not in STAGE_WIDE + FROM_PROFILE + PER_MOTION},
)


class SimulateConfig(Section):
    """The ``simulate`` section; ``radar`` is a RadarConfig and ``imu`` an ImuConfig once validated."""

    seed: int = 0
    strict: bool = False  # any rejected motion fails the stage
    method: Literal["fast", "reference"] = "fast"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    torch_threads: int = Field(1, ge=1)
    # validated as a RadarSection, held as the RadarConfig it builds (see _build_radar)
    radar: RadarSection = Field(default_factory=dict, validate_default=True)
    imu: ImuConfig = ImuConfig()
    scene: SceneConfig = SceneConfig()

    @field_validator("device")
    @classmethod
    def _device_exists(cls, device: str) -> str:
        # a missing GPU is a configuration error, not one reject per motion
        if device == "cuda" and not torch.cuda.is_available():
            raise invalid("'cuda' asked for but torch sees no GPU")
        return device

    @field_validator("radar")
    @classmethod
    def _build_radar(cls, section: Section, info: ValidationInfo) -> RadarConfig:
        overrides = section.model_dump(exclude_unset=True)
        try:
            return RadarConfig.from_params({**overrides, "device": info.data.get("device", "auto")})
        except (RadarConfigError, ParamsError) as exc:
            raise invalid(str(exc).removeprefix("radar config: ")) from None

    @field_validator("imu")
    @classmethod
    def _contract_sites(cls, imu: ImuConfig) -> ImuConfig:
        missing = [s for s in REQUIRED_SITES if s not in imu.sites]
        if missing:
            raise invalid(f"sites must include {missing} too (the signals contract, docs/contracts.md)")
        return imu

    @classmethod
    def from_params(cls, section: dict[str, Any] | None, method: str | None = None) -> SimulateConfig:
        """The validated section; ``method`` (e.g. from the command line) overrides the section's."""
        cfg = validate_section(cls, section, "simulate")
        return cfg if method is None else cfg.model_copy(update={"method": method})
