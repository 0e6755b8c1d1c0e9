"""Procedural human motion: a kinematic synthesiser of labelled, captioned clips in the HumanML3D format.

``generate(label, k, seed)`` makes one MotionItem; ``generate_library(cfg, seed)`` makes the configured set.
"""
from tasks.motion.procedural.library import CLASSES, generate, generate_library

__all__ = ["CLASSES", "generate", "generate_library"]
