"""aiogram's ~900 Bot API types are built when first used, not all at import.

aiogram declares its types with pydantic's ``defer_build``, then calls ``model_rebuild`` on every
one of them at import to resolve their forward references, which builds every schema anyway:
about 110 MB and several seconds of CPU, for the 30 or so types Stegvis ever meets. Here
``model_rebuild`` of an aiogram model only keeps the namespace aiogram hands it, and pydantic
builds each model from that namespace the first time it is used (its deferred build).

The types a running bot meets are built once it is made (`warm_up`, from ``Stegvis.create_bot``):
before ``gc.freeze()`` settles start-up's objects, and not in the middle of the first sends,
where building half of them at once would stall the event loop and bunch the sends queued
meanwhile into a burst Telegram answers with 429.

This must be imported before aiogram: ``bot/__init__.py`` does. aiogram and pydantic are pinned
(constraints.txt); tests/test_lazy_aiogram.py checks that the types still parse and serialize,
and that the build stays lazy, so a release that changes either is caught.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_build = BaseModel.model_rebuild.__func__  # type: ignore[attr-defined]
_namespace: dict[str, Any] = {}  # every name aiogram.types resolves its forward references with


def _rebuild(cls: type[BaseModel], *, force: bool = False, raise_errors: bool = True, _parent_namespace_depth: int = 2, _types_namespace: Any = None) -> Any:
    if cls.__module__.startswith("aiogram."):
        if _types_namespace is not None and not force and not cls.__pydantic_complete__:
            _namespace.update(_types_namespace)  # aiogram's import-time loop: keep it for later
            return None
        if _types_namespace is None:
            _types_namespace = _namespace  # pydantic's deferred build, at first use
    return _build(cls, force=force, raise_errors=raise_errors, _parent_namespace_depth=_parent_namespace_depth + 1, _types_namespace=_types_namespace)


def install() -> None:
    if not getattr(BaseModel.model_rebuild, "__stegvis_lazy__", False):
        _rebuild.__stegvis_lazy__ = True  # type: ignore[attr-defined]
        BaseModel.model_rebuild = classmethod(_rebuild)  # type: ignore[method-assign, assignment]


def warm_up() -> None:
    """Build the schemas of what a running bot parses and sends (and, with them, what they refer to)."""
    from aiogram import methods, types
    from aiogram.methods.base import Response

    for model in (types.Update, types.User, types.WebhookInfo, types.BotCommand):
        model.__pydantic_validator__.validate_python  # noqa: B018 - touching it builds it
    for method in (methods.SendMessage, methods.EditMessageText, methods.AnswerCallbackQuery, methods.GetUpdates, methods.SetMyCommands, methods.GetMe):
        method.__pydantic_validator__.validate_python  # noqa: B018
        # aiogram reads each answer as Response[<what the method returns>], a model of its own.
        Response[method.__returning__].__pydantic_validator__.validate_python  # type: ignore[name-defined]  # noqa: B018
