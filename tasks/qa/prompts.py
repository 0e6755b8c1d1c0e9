"""The versioned prompt file (prompts/qa/qa.yaml): loading, validation, and the chat for one request.

A request is: the system prompt, the category's worked example as one user/assistant exchange (its facts
rendered exactly like real ones), then the real fact sheet with the same task.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from tasks.qa.facts import LINES, fact_sheet


class PromptError(ValueError):
    """The prompt file is missing or malformed; the message names the file and the problem."""


class QAPair(BaseModel):
    """What the LLM must reply with."""

    question: str
    answer: str


_FIELD = r'"{name}"\s*:\s*"((?:[^"\\]|\\.)*)"'


def salvage(raw: str) -> QAPair | None:
    """The first "question" and "answer" strings of a reply whose JSON as a whole is broken.

    Small models often close the answer and then run on with stray keys or unquoted values
    (``"duration": 8.0 s}``); the pair itself is intact and is taken as written.
    """
    found = {}
    for name in ("question", "answer"):
        match = re.search(_FIELD.format(name=name), raw)
        if match is None:
            return None
        try:
            found[name] = json.loads(f'"{match.group(1)}"')
        except json.JSONDecodeError:
            return None
    return QAPair(**found)


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid")
    facts: dict[str, str]
    question: str
    answer: str


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid")
    facts: list[str]
    task: str
    example: Example

    @model_validator(mode="after")
    def _known_lines(self) -> Category:
        unknown = [n for n in self.facts if n not in LINES]
        if unknown:
            raise ValueError(f"unknown fact line(s) {unknown}; known: {sorted(LINES)}")
        extra = [n for n in self.example.facts if n not in self.facts]
        if extra:
            raise ValueError(f"example uses fact line(s) {extra} the category does not show")
        return self


class PromptFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | str
    system: str
    user: str
    categories: dict[str, Category]

    @model_validator(mode="after")
    def _template(self) -> PromptFile:
        for field in ("{facts}", "{task}"):
            if field not in self.user:
                raise ValueError(f"the user template lacks {field}")
        return self


class Prompts:
    def __init__(self, spec: PromptFile, digest: str) -> None:
        self.spec = spec
        self.version = f"{spec.version}-{digest[:8]}"  # the declared version plus the content it had

    @classmethod
    def load(cls, path: str | Path) -> Prompts:
        path = Path(path)
        if not path.is_file():
            raise PromptError(f"{path}: no such prompt file")
        raw = path.read_bytes()
        try:
            spec = PromptFile.model_validate(yaml.safe_load(raw))
        except (yaml.YAMLError, ValidationError) as exc:
            raise PromptError(f"{path}: {' '.join(str(exc).split())}") from None
        return cls(spec, hashlib.sha256(raw).hexdigest())

    @property
    def categories(self) -> list[str]:
        return list(self.spec.categories)

    def fact_names(self, category: str) -> list[str]:
        return self.spec.categories[category].facts

    def example(self, category: str) -> tuple[str, str]:
        ex = self.spec.categories[category].example
        return ex.question, ex.answer

    def messages(self, category: str, lines: dict[str, str]) -> list[dict[str, str]]:
        """The chat asking for one pair of ``category`` about the fact ``lines`` (name -> text)."""
        cat = self.spec.categories[category]
        ex = cat.example
        reply = json.dumps({"question": ex.question, "answer": ex.answer}, ensure_ascii=False)
        return [
            {"role": "system", "content": self.spec.system},
            {"role": "user", "content": self.spec.user.format(facts=fact_sheet(ex.facts), task=cat.task)},
            {"role": "assistant", "content": reply},
            {"role": "user", "content": self.spec.user.format(facts=fact_sheet(lines), task=cat.task)},
        ]
