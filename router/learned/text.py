"""The text a router scores for a chat request, shared by serving and training."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["ChatMessage", "text_from_messages"]

# How much of the earlier conversation joins the last user message: enough to say what the
# conversation is about, little enough that the last ask dominates the features.
_CONTEXT_CHARS = 300


class ChatMessage(BaseModel):
    """One OpenAI-style chat message; `content` may be a string or a list of content parts."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text, with the text parts of a multi-part content joined."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")


def text_from_messages(messages: Sequence[Mapping[str, Any]]) -> str:
    """The last user message, preceded by the tail of the conversation before it.

    Shared by training and serving so that both featurise a chat the same way.
    """
    parsed = [ChatMessage.model_validate(m) for m in messages]
    last_user = max((i for i, m in enumerate(parsed) if m.role == "user"), default=None)
    if last_user is None:
        return ""
    context = "\n".join(m.text() for m in parsed[:last_user] if m.text())
    ask = parsed[last_user].text()
    if not context:
        return ask
    return context[-_CONTEXT_CHARS:] + "\n\n" + ask
