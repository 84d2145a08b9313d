// The front door re-exports the types a user of the LLM API touches.
@_exported import TLLMBackend
@_exported import TLLMEngine
@_exported import TLLMModel
@_exported import TLLMQuantization
@_exported import TLLMRuntime
@_exported import TLLMExecutor
@_exported import TLLMBuilder
@_exported import TLLMPlugin
