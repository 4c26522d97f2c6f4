"""Junction: an OpenAI-compatible LLM gateway that routes each request by policy."""

__version__ = "0.1.0"
