# One image for every function on AWS (the ML tree is ~1.9 GB, far past Lambda's 250 MB zip+layer limit),
# and the python3.11 runtime image LocalStack uses in docker-compose.yml (LAMBDA_RUNTIME_IMAGE_MAPPING).
#   runtime:   the AWS Lambda Python 3.11 base image plus the pinned dependency tree
#   functions: runtime plus our code; each function picks its handler with ImageConfig.Command, and the
#              training task (ECS, TrainModel's job path) replaces the entry point with
#              `python3 -m mlops_core.jobs.train_model` (template.yaml, TrainingJobTaskDefinition)
FROM public.ecr.aws/lambda/python:3.11 AS runtime
COPY requirements/lock.txt /tmp/lock.txt
RUN pip install --no-cache-dir -r /tmp/lock.txt && rm /tmp/lock.txt

FROM runtime AS functions
# Lambda puts layers under /opt; the shared library goes where the layer would put it.
COPY layers/shared/python/ /opt/python/
COPY functions/ ${LAMBDA_TASK_ROOT}/functions/
COPY app/ ${LAMBDA_TASK_ROOT}/app/
ENV PYTHONPATH=/opt/python
CMD ["functions.check_data_drift.app.lambda_handler"]
