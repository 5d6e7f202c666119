"""Every environment variable the local tooling reads, named once, and the emulator's throwaway credentials.

The functions and the app read theirs through `mlops_core.settings`; these are the tools' own (`MLOPS_*`).
"""

from __future__ import annotations

STATE_DIR = "MLOPS_STATE_DIR"  # where `mlops up` keeps its state (default .mlops)
TARGET = "MLOPS_TARGET"  # emulator | localstack | aws
DATASET = "MLOPS_DATASET"  # the dataset `mlops up` and `mlops demo` deploy for
API_KEY = "MLOPS_API_KEY"  # the management credential; generated when unset
EMULATOR_PORT = "MLOPS_EMULATOR_PORT"
MLFLOW_PORT = "MLOPS_MLFLOW_PORT"
API_PORT = "MLOPS_API_PORT"
LAMBDA_WORKERS = "MLOPS_LAMBDA_WORKERS"  # most warm workers one function may have at once in the emulator
# Optional template parameter overrides, for short demo or test runs.
TRAINING_BUDGET_SECONDS = "MLOPS_TRAINING_BUDGET_SECONDS"
TRAINING_MODELS = "MLOPS_TRAINING_MODELS"

PORT_VARIABLES = {"emulator": EMULATOR_PORT, "mlflow": MLFLOW_PORT, "api": API_PORT}
PARAMETER_VARIABLES = {TRAINING_BUDGET_SECONDS: "TrainingBudgetSeconds", TRAINING_MODELS: "TrainingModels"}

# The emulator and LocalStack accept any credentials; these throwaway ones keep real ones from ever reaching them.
ACCESS_KEY_ID = "test"
SECRET_ACCESS_KEY = "test"
SESSION_TOKEN = "test"
CREDENTIALS_ENV = {"AWS_ACCESS_KEY_ID": ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY}
CLIENT_CREDENTIALS = {"aws_access_key_id": ACCESS_KEY_ID, "aws_secret_access_key": SECRET_ACCESS_KEY}
