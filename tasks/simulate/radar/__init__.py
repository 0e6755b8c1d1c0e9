"""FMCW MIMO radar simulator (torch): an exact ADC-level reference and a fast closed-form path."""
from tasks.simulate.radar.body import ScattererTrack, body_track
from tasks.simulate.radar.config import PRESETS, RadarConfig, RadarConfigError
from tasks.simulate.radar.simulate import simulate_radar, simulate_scatterers

__all__ = ["PRESETS", "RadarConfig", "RadarConfigError", "ScattererTrack", "body_track", "simulate_radar",
           "simulate_scatterers"]
