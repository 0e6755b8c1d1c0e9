"""The tune stage: an LLM LoRA-tuned to answer questions about a motion from its signal tokens."""
