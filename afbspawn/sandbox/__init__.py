"""The sandbox: one module per kernel concern, and the C launcher behind a Python facade."""
from .plan import Child, LaunchError, SandboxError, SandboxPlan, compile_plan

__all__ = ["Child", "LaunchError", "SandboxError", "SandboxPlan", "compile_plan"]
