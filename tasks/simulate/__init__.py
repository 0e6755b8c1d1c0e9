"""The simulate stage: radar and IMU signals from motions in the HumanML3D joint format."""
