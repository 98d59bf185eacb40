"""What features plug into the shared machinery, looked up by kind and never by a feature's name.

Each feature (``bot/features/<name>/``) has a ``register(features: Features)`` that says:

* which **event types** it applies and how (`EventHandler`: one per type, adding writes to the
  update's `storage.writer.Changes`);
* which **outbox composers** it has (`bot.outbox.composers.Composer`, by composer kind) and the
  **subject rules** of their messages (`bot.outbox.composers.SubjectRule`, by subject kind);
* which flows' runs are **tied to a thing** and how to check it (`RefRule`, by flow id);
* what it **reloads** when a kind of live content changes in the database (`on_live_change`);
* its **scheduled jobs**, its **routers** (with a place in the order updates pass through them),
  hooks that run when a participant's update **arrives**, and the entries of Telegram's
  **command menu**.

Its CLI commands live in ``bot/features/<name>/cli.py`` (``add_commands``), so that a CLI call
imports only what it runs. ``bot/features/__init__.py`` lists the features: adding one is a
folder and one line there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from flows.engine import FlowEvent, Run
from storage.writer import Changes, ParticipantRow, Reader

if TYPE_CHECKING:
    from aiogram import Router

    from bot.outbox.composers import Composer, Recipients, SubjectRule
    from locales import Texts

EventHandler = Callable[[Changes, ParticipantRow, FlowEvent], None]
# Reloads one kind of live content in the running bot: (stegvis, the kind's new revision).
LiveReload = Callable[[Any, int], Awaitable[None]]


class RefRule(Protocol):
    """What a feature says about runs of its flow that are tied to one thing by a ref (``7v2``)."""

    async def closed(self, reader: Reader, participant: ParticipantRow, refs: Collection[str], now: datetime) -> dict[str, str]:
        """Why each ref's buttons no longer answer (a msgid for a short pop-up); refs still open are absent."""

    async def variables(self, reader: Reader, participant: ParticipantRow, ref: str, texts: Texts) -> dict[str, Any]:
        """Fresh values for the flow's texts about the ref's thing, written in `texts`' language."""

    def same_thing(self, ref: str) -> Callable[[Run], bool]:
        """Which runs are about the same thing as `ref` (an answer to it supersedes them)."""

    def event_payload(self, ref: str) -> dict[str, Any]:
        """What an event of such a run stores instead of the bare ref (e.g. the appointment id and version)."""


@dataclass(frozen=True)
class Job:
    """A scheduled chore: `run(stegvis)` every `every_seconds` (and once at start-up)."""

    id: str
    every_seconds: float
    run: Callable[[Any], Awaitable[None]]


@dataclass(frozen=True)
class MenuCommand:
    """An entry of the command menu Telegram shows beside the text field (its text is a msgid)."""

    command: str
    description: str
    order: int


# Where a feature's router goes in the order updates pass through the routers: people without a
# record first, then those who may not be spoken to, then commands; the conversation core's
# catch-all router (every press, text and media of a participant) always comes last.
GATE, STOPPED, COMMANDS = 10, 20, 30


@dataclass
class Features:
    """Everything the features registered. Filled once at start-up, then only read."""

    event_handlers: dict[str, EventHandler] = field(default_factory=dict)
    composers: dict[str, Composer] = field(default_factory=dict)
    subjects: dict[str, SubjectRule] = field(default_factory=dict)
    recipients: dict[str, Recipients] = field(default_factory=dict)
    ref_rules: dict[str, RefRule] = field(default_factory=dict)
    jobs: list[Job] = field(default_factory=list)
    routers: list[tuple[int, Callable[[], Router]]] = field(default_factory=list)
    menu: list[MenuCommand] = field(default_factory=list)
    # Run before the routers for every update of a participant (e.g. they came back after blocking).
    arrivals: list[Callable[[Any], Awaitable[None]]] = field(default_factory=list)
    # Per kind of live content (storage/live_content.py): what to reload when its revision moves.
    live_reloads: dict[str, list[LiveReload]] = field(default_factory=dict)

    def on_event(self, event_type: str, handler: EventHandler) -> None:
        _unique(self.event_handlers, event_type, handler, "event type")

    def composer(self, composer: Composer) -> None:
        _unique(self.composers, composer.kind, composer, "composer")

    def subject(self, rule: SubjectRule) -> None:
        _unique(self.subjects, rule.kind, rule, "subject kind")

    def recipient(self, kind: str, resolver: Recipients) -> None:
        _unique(self.recipients, kind, resolver, "recipient kind")

    def ref_rule(self, flow_id: str, rule: RefRule) -> None:
        _unique(self.ref_rules, flow_id, rule, "flow with a ref rule")

    def job(self, job: Job) -> None:
        if any(existing.id == job.id for existing in self.jobs):
            raise ValueError(f"two features register the job {job.id!r}")
        self.jobs.append(job)

    def router(self, order: int, factory: Callable[[], Router]) -> None:
        """`factory` makes a fresh Router each time: aiogram lets a router belong to one dispatcher only."""
        self.routers.append((order, factory))

    def menu_command(self, command: MenuCommand) -> None:
        self.menu.append(command)

    def on_arrival(self, hook: Callable[[Any], Awaitable[None]]) -> None:
        """`hook(turn)` runs before the routers for every update of a participant."""
        self.arrivals.append(hook)

    def on_live_change(self, kind: str, reload: LiveReload) -> None:
        """`reload(stegvis, revision)` runs at start-up and whenever `kind`'s revision moves
        (``storage.live_content.bump``), in every running bot, within seconds (bot/live_reload.py)."""
        self.live_reloads.setdefault(kind, []).append(reload)

    def ordered_routers(self) -> list[Router]:
        return [factory() for _order, factory in sorted(self.routers, key=lambda entry: entry[0])]


def _unique(registry: Mapping[str, Any], key: str, value: Any, what: str) -> None:
    if key in registry:
        raise ValueError(f"two features register the {what} {key!r}")
    registry[key] = value  # type: ignore[index]
