"""Labelled real radar point-cloud recordings, converted to the project's radar frame for measuring.

``load_real_dir(REAL_DIR)`` reads every recording (CSV/Parquet tables of the recording schema, or
``rostopic echo`` dumps of ti_mmwave_rospkg's RadarScan topic) under REAL_DIR/<label>/ and returns
``(recordings, rejects)``; ``split_windows`` cuts one into fixed-length windows.  The schema, axes
conventions and metadata are in docs/contracts.md, "Real recordings".  Real recordings are for measuring
the sim-to-real gap, never for fitting or tuning anything.
"""
from tasks.real.dataset import load_real_dir, read_recording, split_windows
from tasks.real.ros_dump import ROS_DEFAULTS
from tasks.real.schema import AXES, RealDataError, Recording, SensorMeta

__all__ = ["AXES", "ROS_DEFAULTS", "RealDataError", "Recording", "SensorMeta", "load_real_dir", "read_recording",
           "split_windows"]
