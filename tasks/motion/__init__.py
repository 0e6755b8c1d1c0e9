"""The motion stage: procedural, HumanML3D and BVH motion in the HumanML3D joint format."""
