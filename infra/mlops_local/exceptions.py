"""Errors of the local tooling; the CLI prints each as one actionable line."""

from __future__ import annotations


class ToolError(Exception):
    """Base: a failure the user can act on; the message says how."""


class DeployError(ToolError):
    """Packaging, transforming or creating the stack failed."""


class StackNotUpError(ToolError):
    """The emulator or a service it needs is not running."""


class PortInUseError(ToolError):
    """A port the stack needs is taken by another process."""


class MissingDependencyError(ToolError):
    """A program or package the command needs is not installed."""
