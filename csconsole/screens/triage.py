"""The triage keys shared by the queue and the ticket screen: assign, status, priority and
tags, on the ticket in front of the agent or on the selection, each one keystroke (two with
its choice), applied locally at once and queued for the helpdesk through the outbox."""

from __future__ import annotations

from textual.binding import Binding

from csconsole import triage
from csconsole.adapters.base import PRIORITIES
from csconsole.screens.pickers import AgentPicker, Confirm, KeyChoice, TagEditor
from csconsole.store.outbox import Intent, describe

TRIAGE_BINDINGS = [  # the footer shows the most used; ? and ctrl+p list them all
    Binding("a", "assign_me", "Assign to me", id="triage.assign_me"),
    Binding("A", "assign", "Assign to…", show=False, id="triage.assign"),
    Binding("s", "status", "Status…", id="triage.status"),
    Binding("p", "priority", "Priority…", show=False, id="triage.priority"),
    Binding("t", "tags", "Tags…", show=False, id="triage.tags"),
    Binding("m", "macro", "Macro…", id="triage.macro"),
]
STATUS_CHOICES = [(key, status, status) for key, status in triage.STATUS_KEYS.items()]
PRIORITY_CHOICES = [(key, PRIORITIES[level], level) for key, level in triage.PRIORITY_KEYS.items()]


class TriageActions:
    """Mixed into a Screen: subclasses say which tickets an action targets, and what to
    do once it is queued (the queue refreshes; the ticket screen moves on if it left)."""

    def triage_targets(self) -> list[int]:
        raise NotImplementedError

    def triage_current(self) -> dict[str, object]:
        """Values of the focused ticket to show as 'now' in the dialogs."""
        return {}

    async def after_triage(self, ticket_ids: list[int], kind: str) -> None:
        pass

    async def queue_intents(self, intents: list[Intent], *, kind: str, count: int) -> bool:
        """Confirm once for many tickets, then queue them all atomically."""
        app = self.app  # type: ignore[attr-defined]
        if not intents:
            return False
        summary = describe(intents[0].kind, intents[0].payload)
        intents = await app.cache.read(triage.changes_only, intents)
        if not intents:
            where = "that ticket" if count == 1 else f"any of those {count} tickets"
            app.notify(f"Nothing to send: “{summary}” changes nothing on {where}", timeout=3, markup=False)
            return False
        count = len(intents)
        if count > 1 and not await app.push_screen_wait(Confirm(f"Apply “{summary}” to {count} tickets?")):
            return False
        ok = await app.enqueue(intents, summary=summary)
        if ok:
            await self.after_triage(sorted({i.ticket_id for i in intents if i.ticket_id is not None}), kind)
        return ok

    def _run(self, coroutine_function) -> None:
        self.run_worker(coroutine_function(), group="triage", exclusive=True)  # type: ignore[attr-defined]

    # -- the actions
    def action_assign_me(self) -> None:
        async def go() -> None:
            me = self.app.me  # type: ignore[attr-defined]
            if me is None:
                self.app.notify("Not yet known who you are on the helpdesk: wait for the first sync",  # type: ignore[attr-defined]
                                severity="warning", markup=False)
                return
            ids = self.triage_targets()
            await self.queue_intents(triage.field_intents("assign", ids, (me.remote_id, me.name)), kind="assign",
                                     count=len(ids))
        self._run(go)

    def action_assign(self) -> None:
        async def go() -> None:
            ids = self.triage_targets()
            if not ids:
                return
            agents = await self.app.cache.read(triage.agents)  # type: ignore[attr-defined]
            choice = await self.app.push_screen_wait(AgentPicker(agents, len(ids)))  # type: ignore[attr-defined]
            if choice is not None:
                await self.queue_intents(triage.field_intents("assign", ids, choice), kind="assign", count=len(ids))
        self._run(go)

    def action_status(self) -> None:
        self._choose("status", "Status", STATUS_CHOICES)

    def action_priority(self) -> None:
        self._choose("priority", "Priority", PRIORITY_CHOICES)

    def _choose(self, kind: str, title: str, choices: list) -> None:
        async def go() -> None:
            ids = self.triage_targets()
            if not ids:
                return
            what = "" if len(ids) == 1 else f" of {len(ids)} tickets"
            value = await self.app.push_screen_wait(  # type: ignore[attr-defined]
                KeyChoice(f"{title}{what}", choices, self.triage_current().get(kind)))
            if value is not None:
                await self.queue_intents(triage.field_intents(kind, ids, value), kind=kind, count=len(ids))
        self._run(go)

    def action_macro(self) -> None:
        """The macro picker, on the same targets as every other triage key."""
        from csconsole.screens.macro_picker import MacroPicker

        async def go() -> None:
            ids = self.triage_targets()
            if not ids:
                return
            applied = await self.app.push_screen_wait(MacroPicker(ids))  # type: ignore[attr-defined]
            if applied is not None:
                await self.after_triage(list(applied.ticket_ids), "macro")
        self._run(go)

    def action_tags(self) -> None:
        async def go() -> None:
            ids = self.triage_targets()
            if not ids:
                return
            known = self.app.known_tags  # type: ignore[attr-defined]
            current = self.triage_current().get("tags") or []
            text = await self.app.push_screen_wait(TagEditor(list(current), known, len(ids)))  # type: ignore[attr-defined]
            if text:
                add, remove = triage.parse_tag_edit(text)
                if add or remove:
                    await self.queue_intents(triage.field_intents("tags", ids, (add, remove)), kind="tags",
                                             count=len(ids))
        self._run(go)
