"""The evaluate stage: does the tuned model use the signal? Reference metrics, fact accuracy and an LLM judge."""
