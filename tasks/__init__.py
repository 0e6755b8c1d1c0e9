"""mmFlywheel library: one subpackage per pipeline stage (no Prefect imports here)."""
