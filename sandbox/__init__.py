"""nsjail sandbox: a library the worker calls. Imports neither Flask nor the API."""
from .live_runner import run_live
from .registry import CompileCap, Language, UnknownLanguage, registry
from .runner import CompiledProgram, Runner, RunResult, RunSpec, SandboxInfraError
from .status import ACTIVE_STATUSES, FINAL_STATUSES, ExecutionStatus

__all__ = ["ACTIVE_STATUSES", "FINAL_STATUSES", "CompileCap", "CompiledProgram", "ExecutionStatus", "Language",
           "RunResult", "RunSpec", "Runner", "SandboxInfraError", "UnknownLanguage", "registry", "run_live"]
