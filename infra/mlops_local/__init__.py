"""Local stand-ins for the AWS services the pipeline runs on: the embedded emulator, deployer and CLI."""
