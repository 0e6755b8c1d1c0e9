"""TI mmWave SDK profiles (the CLI ``.cfg`` files of TI's demos and visualizer) as RadarConfig values.

``simulate.radar.ti_cfg: path/to/profile.cfg`` with ``ti_device`` (devices.py), or a TI preset
(``preset: iwr1443_short_range``: a file in profiles/ and its device), sets every radar field the profile
fixes; the other keys of ``simulate.radar`` override them.  What is read (fields numbered as TI's CLI
takes them, 1 = the first after the command):

* channelCfg: the RX and TX enable masks.  adcCfg: complex output (real sampling is not simulated).
* profileCfg: startFreq (GHz) -> carrier_hz; idleTime + rampEndTime (us) -> chirp_period_s;
  adcStartTime -> adc_start_s; freqSlopeConst (MHz/us); numAdcSamples; digOutSampleRate (ksps).
* chirpCfg: each chirp's TX (one per chirp: TDM).  frameCfg: chirps start..end in firing order -> the
  order of tx_positions, numLoops -> n_chirps (the Doppler FFT zero-padded to a power of two, as the
  demos do), framePeriodicity (ms) -> frame_rate_hz.
* clutterRemoval -> static_clutter_removal (off when absent, as on the device); cfarCfg (range, Doppler)
  -> cfar_guard, cfar_train, cfar_threshold_db; those and peakGrouping, multiObjBeamForming, aoaFovCfg
  and cfarFovCfg -> ti_detection; the range FoV's end (cfarFovCfg) -> max_range_m, else the IF band's.
* Commands that only steer the device's start/stop, UART, monitoring or calibration are accepted
  silently; any other (unknown, or not simulated: tracking, people-counting chains, extended velocity,
  BPM) is named in one warning.

SDK generations of cfarCfg are told apart by their field counts: 7 (SDK 1-2, no subFrameIdx), 8 (SDK 2,
with it) or 9 (SDK 3: thresholdScale in dB, peak grouping per direction).  Older thresholds become dB as
TI's visualizer converts them: xwr14xx dB = 6 x / 512, the others dB = 6 x / (256 N_virtual).  A malformed
line is a ParamsError naming file, line and field.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.common.params import ParamsError
from tasks.simulate.radar.config import C0, PRESETS, CfarSettings, RadarConfig, RadarConfigError, TiDetection
from tasks.simulate.radar.devices import DEVICES

log = logging.getLogger(__name__)

PROFILES = Path(__file__).parent / "profiles"
# shipped profiles (profiles/<name>.cfg, each citing the TI demo it comes from) and their device
TI_PRESETS = {
    "iwr1443_short_range": "iwr1443",
    "iwr1843_best_range_res": "iwr1843",
    "iwr6843_people_counting": "iwr6843isk",
}

_I, _F = int, float
_SUB = (("subFrameIdx", _I),)
_CFAR = (("procDirection", _I), ("averageMode", _I), ("winLen", _I), ("guardLen", _I), ("noiseDiv", _I),
         ("cyclicMode", _I), ("thresholdScale", _F))
_PEAKS = (("groupingMode", _I), ("rangeDimEn", _I), ("dopplerDimEn", _I), ("startRangeIdx", _I),
          ("endRangeIdx", _I))
# every layout a command may have, told apart by the number of fields
LAYOUTS: dict[str, tuple[tuple[tuple[str, type], ...], ...]] = {
    "dfeDataOutputMode": ((("modeType", _I),),),
    "channelCfg": ((("rxChannelEn", _I), ("txChannelEn", _I), ("cascading", _I)),),
    "adcCfg": ((("numADCBits", _I), ("adcOutputFmt", _I)),),
    "profileCfg": ((("profileId", _I), ("startFreq", _F), ("idleTime", _F), ("adcStartTime", _F),
                    ("rampEndTime", _F), ("txOutPower", _F), ("txPhaseShifter", _F), ("freqSlopeConst", _F),
                    ("txStartTime", _F), ("numAdcSamples", _I), ("digOutSampleRate", _F),
                    ("hpfCornerFreq1", _I), ("hpfCornerFreq2", _I), ("rxGain", _F)),),
    "chirpCfg": ((("chirpStartIdx", _I), ("chirpEndIdx", _I), ("profileId", _I), ("startFreqVar", _F),
                  ("freqSlopeVar", _F), ("idleTimeVar", _F), ("adcStartTimeVar", _F), ("txEnable", _I)),),
    "frameCfg": ((("chirpStartIdx", _I), ("chirpEndIdx", _I), ("numLoops", _I), ("numFrames", _I),
                  ("framePeriodicity", _F), ("triggerSelect", _I), ("frameTriggerDelay", _F)),),
    "cfarCfg": (_CFAR, _SUB + _CFAR, _SUB + _CFAR + (("peakGroupingEn", _I),)),
    "peakGrouping": (_PEAKS, _SUB + _PEAKS),
    "multiObjBeamForming": ((("enabled", _I), ("threshold", _F)), _SUB + (("enabled", _I), ("threshold", _F))),
    "clutterRemoval": ((("enabled", _I),), _SUB + (("enabled", _I),)),
    "aoaFovCfg": (_SUB + (("minAzimuthDeg", _F), ("maxAzimuthDeg", _F), ("minElevationDeg", _F),
                          ("maxElevationDeg", _F)),),
    "cfarFovCfg": (_SUB + (("procDirection", _I), ("min", _F), ("max", _F)),),
    "extendedMaxVelocity": ((("enabled", _I),), _SUB + (("enabled", _I),)),
    "bpmCfg": (_SUB + (("enabled", _I), ("chirp0Idx", _I), ("chirp1Idx", _I)),),
}
# no effect on what the radar measures: start/stop, data output over UART/LVDS, monitors, calibration
SILENT = frozenset({
    "sensorStop", "sensorStart", "flushCfg", "adcbufCfg", "lowPower", "guiMonitor", "lvdsStreamCfg",
    "calibDcRangeSig", "compRangeBiasAndRxChanPhase", "measureRangeBiasAndRxChanPhase", "CQRxSatMonitor",
    "CQSigImgMonitor", "analogMonitor", "calibData", "version",
})
_REQUIRED = ("channelCfg", "profileCfg", "chirpCfg", "frameCfg")
_CFAR_MODES = {0: "ca", 1: "cago", 2: "caso"}


class TiCfgError(ParamsError):
    """A TI profile that cannot be read: the message names the file, the line and the field."""


@dataclass(frozen=True)
class Command:
    """One line of a profile: its command, line number and fields by TI's names."""

    source: str
    line: int
    name: str
    values: dict[str, float]

    def error(self, problem: str, field: str | None = None) -> TiCfgError:
        """``file:line: command: problem``, or ``file:line: command: field n (name) problem``."""
        where = f"{self.source}:{self.line}: {self.name}"
        if field is None:
            return TiCfgError(f"{where}: {problem}")
        return TiCfgError(f"{where}: field {list(self.values).index(field) + 1} ({field}) {problem}")


@dataclass(frozen=True)
class TiProfile:
    """A parsed, checked profile in TI's units; ``chirps`` are the chirpCfg lines of one loop in firing order."""

    source: str
    profile: Command  # the profileCfg every chirp of the frame uses
    channel: Command
    frame: Command
    chirps: tuple[Command, ...]
    detection: dict[str, tuple[Command, ...]]  # cfarCfg, peakGrouping, ... as given
    ignored: tuple[str, ...]  # "command (line n)" for each command not simulated, in file order

    @property
    def tx_order(self) -> tuple[int, ...]:
        """0-based TX of each chirp of a loop, in firing order."""
        return tuple(int(c.values["txEnable"]).bit_length() - 1 for c in self.chirps)

    @property
    def rx(self) -> tuple[int, ...]:
        """0-based RX the channelCfg enables."""
        mask = int(self.channel.values["rxChannelEn"])
        return tuple(b for b in range(mask.bit_length()) if mask >> b & 1)


# ---- reading ----------------------------------------------------------------------------------------

def _number(token: str, kind: type, where: str) -> float:
    try:
        value = kind(token)
    except ValueError:
        raise TiCfgError(f"{where} '{token}' is not {'an integer' if kind is int else 'a number'}") from None
    if not math.isfinite(value):
        raise TiCfgError(f"{where} '{token}' is not a number")
    return value


def parse_lines(text: str, source: str) -> tuple[dict[str, list[Command]], list[tuple[int, str]]]:
    """Every known command's lines by name, and (line number, command) of each unknown one."""
    commands: dict[str, list[Command]] = {}
    ignored: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("%"):
            continue
        name, *tokens = line.split()
        if name in SILENT:
            continue
        if name not in LAYOUTS:
            ignored.append((number, name))
            continue
        layout = next((fields for fields in LAYOUTS[name] if len(fields) == len(tokens)), None)
        if layout is None:
            counts = " or ".join(str(len(fields)) for fields in LAYOUTS[name])
            raise TiCfgError(f"{source}:{number}: {name}: {len(tokens)} fields, expected {counts}")
        values = {field: _number(token, kind, f"{source}:{number}: {name}: field {i} ({field})")
                  for i, ((field, kind), token) in enumerate(zip(layout, tokens), 1)}
        commands.setdefault(name, []).append(Command(source, number, name, values))
    return commands, ignored


def read_profile(path: str | Path) -> TiProfile:
    """Parse and check the profile at ``path`` (device-independent checks; radar_values does the rest)."""
    return parse_profile(Path(path).read_text(), str(path))


def parse_profile(text: str, source: str) -> TiProfile:
    """The profile in ``text`` (``source`` names it in messages), checked as far as no device is needed."""
    commands, ignored = parse_lines(text, source)
    for name in _REQUIRED:
        if name not in commands:
            raise TiCfgError(f"{source}: no {name} line (a profile needs {', '.join(_REQUIRED)}; "
                             "advanced frames are not supported)")
    last = {name: lines[-1] for name, lines in commands.items()}  # a repeated command overrides, as on the device
    mode, adc = last.get("dfeDataOutputMode"), last.get("adcCfg")
    if mode is not None and int(mode.values["modeType"]) != 1:
        raise mode.error(f"{int(mode.values['modeType'])} is not supported (only 1, frame-based chirping)", "modeType")
    if adc is not None and int(adc.values["adcOutputFmt"]) == 0:
        raise adc.error("0 (real sampling) is not supported: the simulator samples complex", "adcOutputFmt")
    for name in ("extendedMaxVelocity", "bpmCfg"):
        if name in last and int(last[name].values["enabled"]):
            ignored.append((last[name].line, f"{name} enabled"))

    channel, frame = last["channelCfg"], last["frameCfg"]
    profiles = {int(c.values["profileId"]): c for c in commands["profileCfg"]}
    chirp_of: dict[int, Command] = {}
    for cmd in commands["chirpCfg"]:
        first, end = int(cmd.values["chirpStartIdx"]), int(cmd.values["chirpEndIdx"])
        if end < first:
            raise cmd.error(f"{end} is before chirpStartIdx {first}", "chirpEndIdx")
        chirp_of.update(dict.fromkeys(range(first, end + 1), cmd))
    first, end = int(frame.values["chirpStartIdx"]), int(frame.values["chirpEndIdx"])
    if end < first:
        raise frame.error(f"{end} is before chirpStartIdx {first}", "chirpEndIdx")
    missing = [i for i in range(first, end + 1) if i not in chirp_of]
    if missing:
        raise frame.error(f"chirp {missing[0]} of chirps {first}..{end} has no chirpCfg")
    chirps = tuple(chirp_of[i] for i in range(first, end + 1))
    tx_enabled = int(channel.values["txChannelEn"])
    for cmd in chirps:
        _check_chirp(cmd, profiles, tx_enabled)
    used = {int(c.values["profileId"]) for c in chirps}
    if len(used) > 1:
        raise frame.error(f"its chirps use profiles {sorted(used)}; only one profile per frame is supported")
    profile = profiles[used.pop()]
    _check_timing(profile)
    if int(frame.values["numLoops"]) < 1:
        raise frame.error(f"{int(frame.values['numLoops'])} must be >= 1", "numLoops")
    if not frame.values["framePeriodicity"] > 0:
        raise frame.error(f"{frame.values['framePeriodicity']:g} must be > 0", "framePeriodicity")
    if not int(channel.values["rxChannelEn"]):
        raise channel.error("0 enables no receiver", "rxChannelEn")
    detection = {name: tuple(commands[name]) for name in
                 ("cfarCfg", "peakGrouping", "multiObjBeamForming", "clutterRemoval", "aoaFovCfg", "cfarFovCfg")
                 if name in commands}
    return TiProfile(source, profile, channel, frame, chirps, detection,
                     tuple(f"{name} (line {line})" for line, name in sorted(ignored)))


def _check_chirp(cmd: Command, profiles: dict[int, Command], tx_enabled: int) -> None:
    if int(cmd.values["profileId"]) not in profiles:
        raise cmd.error(f"{int(cmd.values['profileId'])} has no profileCfg", "profileId")
    for field in ("startFreqVar", "freqSlopeVar", "idleTimeVar", "adcStartTimeVar"):
        if cmd.values[field]:
            raise cmd.error(f"{cmd.values[field]:g} is not supported (every chirp must be its profile's)", field)
    mask = int(cmd.values["txEnable"])
    if mask <= 0 or mask & (mask - 1):
        raise cmd.error(f"{mask} must enable exactly one TX (only TDM MIMO is simulated)", "txEnable")
    if not mask & tx_enabled:
        raise cmd.error(f"{mask} fires TX{mask.bit_length()}, which channelCfg's txChannelEn {tx_enabled} "
                        "does not enable", "txEnable")


def _check_timing(profile: Command) -> None:
    v = profile.values
    for field in ("startFreq", "freqSlopeConst", "rampEndTime", "digOutSampleRate", "numAdcSamples"):
        if not v[field] > 0:
            raise profile.error(f"{v[field]:g} must be > 0", field)
    for field in ("idleTime", "adcStartTime"):
        if v[field] < 0:
            raise profile.error(f"{v[field]:g} must be >= 0", field)
    sampling_end = v["adcStartTime"] + 1e3 * v["numAdcSamples"] / v["digOutSampleRate"]  # us
    if sampling_end > v["rampEndTime"] + 1e-9:
        raise profile.error(
            f"{v['rampEndTime']:g} us ends before sampling does ({sampling_end:.2f} us = adcStartTime + "
            "numAdcSamples / digOutSampleRate)", "rampEndTime")


# ---- into RadarConfig fields ------------------------------------------------------------------------

def doppler_fft_size(loops: int) -> int | None:
    """The demos' Doppler FFT: numLoops rounded up to a power of two (None: no zero-padding needed)."""
    return None if loops & (loops - 1) == 0 else 1 << loops.bit_length()


def radar_values(profile: TiProfile, device: str) -> dict[str, Any]:
    """The RadarConfig fields ``profile`` sets on ``device`` (a DEVICES name)."""
    dev, p, v = DEVICES[device], profile, profile.profile.values
    for cmd, tx in zip(p.chirps, p.tx_order):
        if tx >= len(dev.tx):
            raise cmd.error(f"{int(cmd.values['txEnable'])} fires TX{tx + 1}; {device} has TX1-TX{len(dev.tx)}",
                            "txEnable")
    if p.rx[-1] >= len(dev.rx):
        raise p.channel.error(f"{int(p.channel.values['rxChannelEn'])} enables RX{p.rx[-1] + 1}; {device} has "
                              f"RX1-RX{len(dev.rx)}", "rxChannelEn")
    low, high = dev.band_ghz
    top = v["startFreq"] + v["freqSlopeConst"] * v["rampEndTime"] * 1e-3  # GHz at the ramp's end
    if v["startFreq"] < low - 1e-6 or top > high + 1e-3:  # 1 MHz slack: TI's 57.14 us x 70 MHz/us = 4 GHz
        raise p.profile.error(f"{v['startFreq']:g} GHz sweeps to {top:.3f} GHz, outside {device}'s "
                              f"{low:g}-{high:g} GHz band", "startFreq")
    slope, rate = v["freqSlopeConst"] * 1e12, v["digOutSampleRate"] * 1e3
    loops = int(p.frame.values["numLoops"])
    values: dict[str, Any] = dict(
        carrier_hz=v["startFreq"] * 1e9, slope_hz_per_s=slope, n_samples=int(v["numAdcSamples"]),
        sample_rate_hz=rate, n_chirps=loops, n_doppler=doppler_fft_size(loops),
        chirp_period_s=(v["idleTime"] + v["rampEndTime"]) * 1e-6, adc_start_s=v["adcStartTime"] * 1e-6,
        frame_rate_hz=1e3 / p.frame.values["framePeriodicity"],
        tx_positions=tuple(dev.tx[t] for t in p.tx_order), rx_positions=tuple(dev.rx[r] for r in p.rx),
    )
    detection = _detection(p, dev.platform, len(p.chirps) * len(p.rx))
    if_range = rate * C0 / (2.0 * slope)
    values["max_range_m"] = min(detection.fov_range_m[1], if_range) if detection.fov_range_m else if_range
    clutter = p.detection.get("clutterRemoval")
    values["static_clutter_removal"] = bool(clutter and int(clutter[-1].values["enabled"]))
    cfar = detection.range_cfar, detection.doppler_cfar
    if cfar[0] is not None:
        values["cfar_threshold_db"] = cfar[0].threshold_db
    if any(c is not None for c in cfar):  # a direction the profile leaves out keeps RadarConfig's default
        values["cfar_guard"] = tuple(c.guard if c else g for c, g in zip(cfar, RadarConfig.cfar_guard))
        values["cfar_train"] = tuple(c.window if c else t for c, t in zip(cfar, RadarConfig.cfar_train))
    values["ti_detection"] = detection
    values["detection"] = "ti"
    return values


def _detection(p: TiProfile, platform: str, n_virtual: int) -> TiDetection:
    cfar: dict[int, CfarSettings] = {}
    grouping = [False, False]
    for cmd in p.detection.get("cfarCfg", ()):
        v = cmd.values
        direction, mode = int(v["procDirection"]), int(v["averageMode"])
        if direction not in (0, 1):
            raise cmd.error(f"{direction} must be 0 (range) or 1 (Doppler)", "procDirection")
        if mode not in _CFAR_MODES:
            raise cmd.error(f"{mode} must be 0 (CA), 1 (CAGO) or 2 (CASO)", "averageMode")
        if "peakGroupingEn" in v:  # SDK 3: threshold in dB, grouping per direction
            threshold = v["thresholdScale"]
            grouping[direction] = bool(int(v["peakGroupingEn"]))
        else:
            threshold = 6.0 * v["thresholdScale"] / (512 if platform == "xwr14xx" else 256 * n_virtual)
        cfar[direction] = CfarSettings(_CFAR_MODES[mode], int(v["winLen"]), int(v["guardLen"]), int(v["noiseDiv"]),
                                       bool(int(v["cyclicMode"])), threshold)
    if "peakGrouping" in p.detection:
        v = p.detection["peakGrouping"][-1].values
        grouping = [bool(int(v["rangeDimEn"])), bool(int(v["dopplerDimEn"]))]
    mob = p.detection.get("multiObjBeamForming")
    angles = p.detection["aoaFovCfg"][-1].values if "aoaFovCfg" in p.detection else None
    fovs = {int(c.values["procDirection"]): (c.values["min"], c.values["max"])
            for c in p.detection.get("cfarFovCfg", ())}
    return TiDetection(
        range_cfar=cfar.get(0), doppler_cfar=cfar.get(1), peak_grouping=(grouping[0], grouping[1]),
        multi_object_threshold=mob[-1].values["threshold"] if mob and int(mob[-1].values["enabled"]) else None,
        fov_azimuth_deg=(angles["minAzimuthDeg"], angles["maxAzimuthDeg"]) if angles else None,
        fov_elevation_deg=(angles["minElevationDeg"], angles["maxElevationDeg"]) if angles else None,
        fov_range_m=fovs.get(0), fov_velocity_mps=fovs.get(1),
    )


# ---- from params ------------------------------------------------------------------------------------

def profile_source(preset: str, ti_cfg: str | Path | None, ti_device: str | None) -> tuple[Path, str] | None:
    """The profile file and device a radar section names (a TI preset, or ti_cfg + ti_device); None if none."""
    if preset in TI_PRESETS:
        if ti_cfg is not None:
            raise RadarConfigError(f"radar config: preset {preset} is a TI profile already; drop ti_cfg or the preset")
        path = PROFILES / f"{preset}.cfg"
        if path.is_relative_to(Path.cwd()):  # shorter messages from the project folder
            path = path.relative_to(Path.cwd())
        ti_device = ti_device or TI_PRESETS[preset]
    elif preset not in PRESETS:
        raise RadarConfigError(f"radar config: unknown preset {preset!r}; known: {sorted(PRESETS | TI_PRESETS)}")
    elif ti_cfg is None:
        if ti_device is not None:
            raise RadarConfigError(f"radar config: ti_device needs ti_cfg or a TI preset ({', '.join(TI_PRESETS)})")
        return None
    elif preset != "default":
        raise RadarConfigError(f"radar config: ti_cfg replaces the preset; drop preset {preset}")
    else:
        path = Path(ti_cfg)
    if ti_device not in DEVICES:
        raise RadarConfigError(f"radar config: ti_cfg needs ti_device, one of {', '.join(DEVICES)}"
                               if ti_device is None else
                               f"radar config: unknown ti_device {ti_device!r}; known: {', '.join(DEVICES)}")
    return path, ti_device


def profile_values(preset: str, ti_cfg: str | Path | None, ti_device: str | None) -> dict[str, Any]:
    """RadarConfig values of a radar section's preset or TI profile (the one warning names what is ignored)."""
    source = profile_source(preset, ti_cfg, ti_device)
    if source is None:
        return PRESETS[preset]
    path, device = source
    profile = read_profile(path)
    if profile.ignored:
        log.warning("%s: not simulated, ignored: %s", profile.source, ", ".join(profile.ignored))
    return radar_values(profile, device)
