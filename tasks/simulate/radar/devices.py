"""Antenna layouts of TI mmWave device families (their evaluation boards), for TI profiles (ti_cfg.py).

Positions are (x, y) in half-wavelengths in the radar frame (x = the radar's right, y = up), like every
position in RadarConfig.  TX are listed TX1, TX2, TX3 and RX as RX1..RX4: bit b of a profile's
``channelCfg`` and ``chirpCfg`` masks is TX/RX b+1.  Virtual element = TX + RX position.

* ``iwr1443``, ``iwr1843`` / ``awr1843``, ``iwr6843isk`` (the BOOST boards and the ISK): RX1..RX4 in a row,
  lambda/2 apart; TX1 at x 0, TX3 at x 4 (2 lambda to the side), TX2 between them at x 2 and lambda/2 up:
  TX1 + TX3 make an 8-element azimuth row (x 0..7), TX2 a second row of 4 (x 2..5) lambda/2 above it::

      y 1 .  .  v  v  v  v  .  .      (TX2)
      y 0 v  v  v  v  v  v  v  v      (TX1: x 0..3, TX3: x 4..7)

  The demos fire TX1, TX3, TX2 (the 3D profiles) or TX1, TX2, TX3 (people counting); the firing order
  comes from the profile.  This row-of-8-plus-4 layout is the one TI's 3D people counting lab gives
  the ISK (antGeometry0/1) and the one RF-Genesis uses for the IWR1843.
* ``iwr6843aop`` (antenna on package): RX in a 2 x 2 square; TX2 at (0, 0), TX3 at (2, 0), TX1 at (2, 2):
  a 4 x 4 grid of virtual elements with one 2 x 2 corner empty, 4 elements per row for azimuth::

      y 3 .  .  v  v      (TX1)
      y 2 .  .  v  v      (TX1)
      y 1 v  v  v  v      (TX2: x 0..1, TX3: x 2..3)
      y 0 v  v  v  v      (TX2, TX3)

  From the antGeometry0/1 lines of TI's 3D people counting AOP configurations, shifted to start at 0 and
  read as + = right, + = up (TI does not state the signs there; a mirror image would only move the empty
  corner).

The physical spacing is lambda/2 at each board's design frequency; here it is lambda/2 at the profile's
sweep centre (RadarConfig.wavelength_m), which keeps the angle axes exact.
"""
from __future__ import annotations

from dataclasses import dataclass

Position = tuple[float, float]


@dataclass(frozen=True)
class Device:
    """One device family: its antennas, RF band and the platform its CLI's CFAR units belong to."""

    tx: tuple[Position, ...]  # TX1, TX2, TX3
    rx: tuple[Position, ...]  # RX1 .. RX4
    band_ghz: tuple[float, float]  # the sweep must stay inside
    platform: str  # xwr14xx: older SDKs give CFAR thresholds in other units than the xwr16/18/68xx

    @property
    def n_virtual(self) -> int:
        return len(self.tx) * len(self.rx)


_ROW4 = ((0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (3.0, 0.0))
_BOOST_TX = ((0.0, 0.0), (2.0, 1.0), (4.0, 0.0))
_77GHZ, _60GHZ = (76.0, 81.0), (60.0, 64.0)

DEVICES: dict[str, Device] = {
    "iwr1443": Device(_BOOST_TX, _ROW4, _77GHZ, "xwr14xx"),
    "iwr1843": Device(_BOOST_TX, _ROW4, _77GHZ, "xwr18xx"),
    "awr1843": Device(_BOOST_TX, _ROW4, _77GHZ, "xwr18xx"),
    "iwr6843isk": Device(_BOOST_TX, _ROW4, _60GHZ, "xwr68xx"),
    "iwr6843aop": Device(((2.0, 2.0), (0.0, 0.0), (2.0, 0.0)), ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)),
                         _60GHZ, "xwr68xx"),
}
