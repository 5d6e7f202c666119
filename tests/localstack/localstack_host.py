"""Start LocalStack 4.14 in host mode, without Docker: `python -m localstack.runtime.main` after three workarounds.

Run with the Python 3.13 of `.venv-localstack/` (localstack-core has no CLI of its own):

    GATEWAY_LISTEN=127.0.0.1:<port> GATEWAY_SERVER=hypercorn DNS_ADDRESS=0 DYNAMODB_LOCAL_PORT=<moto port> \
        .venv-localstack/bin/python tests/localstack/localstack_host.py

The workarounds, each for something host mode cannot do here:
1. DynamoDB: LocalStack runs DynamoDB Local, which needs Java and a download that cannot be fetched. A moto
   server already listening on DYNAMODB_LOCAL_PORT answers instead: LocalStack's DynamoDB server starts no
   process and forwards to that port.
2. Lambda: CreateFunction pre-pulls the runtime image and fails with "Docker not available". The pull is
   skipped, so functions are created; invoking them still needs Docker and fails.
3. The lambda-runtime download (LocalStack's runtime init binary) fails; an empty placeholder at its install
   path lets the Lambda service start. Nothing executes it without Docker.
"""

from __future__ import annotations

import runpy
from pathlib import Path


def serve_dynamodb_from_the_port() -> None:
    from localstack.services.dynamodb import server
    from localstack.utils.threads import FuncThread

    def no_process(self: server.DynamodbServer) -> FuncThread:
        # A thread that only waits to be stopped stands in for the Java process; the health check and the
        # request proxy go to self.port, where the moto server listens.
        thread = FuncThread(lambda _: thread._stop_event.wait(), name="dynamodb-external")
        thread.start()
        return thread

    server.DynamodbServer.do_start_thread = no_process


def skip_runtime_image_pull() -> None:
    from localstack.services.lambda_.invocation import docker_runtime_executor

    docker_runtime_executor._ensure_runtime_image_present = lambda image, platform: None


def place_lambda_runtime_placeholder() -> Path:
    from localstack.packages import InstallTarget
    from localstack.services.lambda_.packages import lambda_runtime_package

    installer = lambda_runtime_package.get_installer()
    marker = Path(installer._get_install_marker_path(installer._get_install_dir(InstallTarget.VAR_LIBS)))
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return marker


def main() -> None:
    serve_dynamodb_from_the_port()
    skip_runtime_image_pull()
    print(f"lambda-runtime placeholder: {place_lambda_runtime_placeholder()}", flush=True)
    runpy.run_module("localstack.runtime.main", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
