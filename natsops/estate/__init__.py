"""The estate: streams, consumers, buckets (and accounts) declared in recipe files, planned
against a live deployment and applied.

Recipe format
-------------
YAML files (one or many documents each) or directories of them. A document is one resource::

    kind: Stream                 # a registered kind: Stream, Consumer, KeyValue, ObjectStore...
    metadata:
      name: ORDERS               # or spec.name; a Consumer also has `stream: ORDERS`
    spec:                        # the JetStream API's field names, as `stream info --json`
      subjects: ["orders.>"]
      max_age: 720h              # durations and sizes may be human: 720h, 2m, 50GB
      num_replicas: 3

Errors name ``file:line``, the resource and the field (:meth:`model.Doc.error`).

Kind handler protocol
---------------------
A kind is one module ``natsops/estate/kinds/<kind>.py`` defining a subclass of
:class:`natsops.estate.kinds.Kind` decorated with :func:`natsops.estate.kinds.register`
(modules of that package are imported on first use; nothing else to wire)::

    @register
    class AccountKind(Kind):
        kind = "Account"          # the `kind:` of its documents
        order = 0                 # apply order: lower first (accounts 0, users 10, streams and
                                  # buckets 20, consumers 30); deletes run in reverse order
        defaults = {...}          # values the live side has when the recipe leaves a field out
        immutable = {"field": "why a change needs a recreate"}

        def load(self, doc: Doc) -> Resource: ...
            # validate doc.spec (raise doc.error("spec.field", "message") -> file:line), return
            # Resource(kind, name, normalised spec, doc.where(), doc). `name` is unique per kind.
        async def fetch_live(self, ctx: EstateContext, names) -> dict[str, Live]: ...
            # the live resources among `names` (None: all of them, for --prune and export);
            # Live(kind, name, config in the spec's vocabulary, owned=..., holds=..., detail=...)
        def diff(self, desired: Resource, live: Live | None) -> Action: ...
            # default: compare {**defaults, **spec} with live.config field by field
            # (Change(field, old, new)); CREATE / NOOP / UPDATE / RECREATE(reason); override
            # compare() or recreate_reason() for finer rules
        async def apply(self, ctx: EstateContext, action: Action) -> str: ...
            # do action.op (CREATE/UPDATE/RECREATE/DELETE); raise a NatsopsError on failure;
            # return a short note for the report ("created", "backup at ...")
        def owned(self, live: Live) -> bool: ...      # may --prune delete it? (default
                                                      # live.owned: natsops' metadata is on it)
        def requires(self, resource) -> [(kind, name)]  # optional: parents that must exist
                                                        # (in the recipes or live)
        def adjust(self, action, recreated) -> Action # optional: react to recreated parents
        def export(self, live: Live) -> dict: ...     # optional: live -> recipe document
        def nack(self, resource) -> (dict, [dropped]) | None  # optional: NACK resource

``ctx`` (:class:`natsops.estate.context.EstateContext`) carries the open connection
(``ctx.conn``, its settings ``ctx.conn.settings``), the apply options, a progress callback and a
per-run ``cache`` dict; ``await ctx.streams()`` is the one paged STREAM.LIST of the run.

Flow: :func:`load_resources` -> :func:`build_plan` (one fetch per kind, then ``diff`` per
resource, prune, ``adjust``) -> :func:`apply_plan` (pending actions in order; the first failure
stops the run and the report lists the steps that ran; a re-run plans again and continues).
natsops writes ``metadata: {natsops.io/managed-by: natsops}`` on what it creates or updates;
``--prune`` deletes only resources carrying it.
"""

from __future__ import annotations

from natsops.estate.apply import apply_plan, refused_recreates
from natsops.estate.context import ApplyOptions, AuthStore, EstateContext
from natsops.estate.loader import load_docs, load_resources, recipe_files
from natsops.estate.model import (
    OWNER_KEY,
    OWNER_VALUE,
    Action,
    ApplyReport,
    Doc,
    Live,
    Op,
    Plan,
    Resource,
    Step,
)
from natsops.estate.plan import build_plan

__all__ = [
    "OWNER_KEY",
    "OWNER_VALUE",
    "Action",
    "ApplyOptions",
    "ApplyReport",
    "AuthStore",
    "Doc",
    "EstateContext",
    "Live",
    "Op",
    "Plan",
    "Resource",
    "Step",
    "apply_plan",
    "build_plan",
    "load_docs",
    "load_resources",
    "recipe_files",
    "refused_recreates",
]
