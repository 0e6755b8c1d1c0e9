"""Contrastive signal-text pretraining: align a radar + IMU encoder with caption embeddings (CLIP / SigLIP)."""
