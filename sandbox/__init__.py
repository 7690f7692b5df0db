"""nsjail sandbox: a library the worker calls. Imports neither Flask nor the API."""
from .registry import CompileCap, Language, UnknownLanguage, registry
from .runner import CompiledProgram, Runner, RunResult, RunSpec, SandboxInfraError

__all__ = ["CompileCap", "CompiledProgram", "Language", "RunResult", "RunSpec", "Runner", "SandboxInfraError", "UnknownLanguage", "registry"]
