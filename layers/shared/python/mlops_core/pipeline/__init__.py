"""The pipeline steps as services: each `run(state)` takes the run state and returns its step's contract shape."""
