"""Pipeline steps run as container jobs (ECS tasks) when their data outgrows a Lambda function."""

from mlops_core.jobs.step_job import INPUT_KEY, OUTPUT_KEY, JobConfigError, run_step_job

__all__ = ["INPUT_KEY", "OUTPUT_KEY", "JobConfigError", "run_step_job"]
