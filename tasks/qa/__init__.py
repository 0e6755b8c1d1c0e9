"""The `qa` stage: grounded synthetic question-answer pairs about motions (entry point: tasks/qa/stage.py)."""
