"""Body preparation and ARM ID rewriting for the generator.

Strings are first turned into templates (literal text + references to labels) so that dependency
cycles can be found and broken before anything is rendered as Terraform JSON.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from tenant_replicator.iac.ids import prefixes_longest_first, source_id_pattern

# DNS suffixes under which a renamed globally unique resource is addressed by host name.
_HOST_SUFFIXES = (
    r"core\.windows\.net",
    r"vault\.azure\.net",
    r"azurecr\.io",
    r"documents\.azure\.com",
    r"database\.windows\.net",
    r"azurewebsites\.net",
    r"search\.windows\.net",
    r"servicebus\.windows\.net",
    r"azconfig\.io",
    r"postgres\.database\.azure\.com",
    r"mysql\.database\.azure\.com",
    r"azure-api\.net",
    r"cognitiveservices\.azure\.com",
)
_HOST_SUFFIX = rf"\.(?:{'|'.join(_HOST_SUFFIXES)})\b"  # a host name under one of them


# ---------------------------------------------------------------- read-only stripping


_END = "\0end"
_PATTERNS = "\0patterns"


@lru_cache(maxsize=1024)
def _trie(paths: tuple[str, ...]) -> dict[str, Any]:
    """All paths of one type as a trie, so a body is walked once however many paths there are."""
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        for seg in path.lower().split("."):
            node = node.setdefault(seg, {})
        node[_END] = True
    stack = [root]
    while stack:  # index glob segments ("lastModified*") once
        node = stack.pop()
        node[_PATTERNS] = [
            (k, v) for k, v in node.items() if k[0] != "\0" and k not in ("*", "**") and any(c in k for c in "*?[")
        ]
        stack.extend(v for k, v in node.items() if k[0] != "\0")
    return root


def strip_paths(value: Any, paths: Iterable[str]) -> None:
    """Remove every dotted path from ``value`` in place (lists traversed, '*' any key, '**' any depth)."""
    _strip(value, ((_trie(tuple(paths)), False),))


def _expand(active: tuple[tuple[dict[str, Any], bool], ...]) -> list[tuple[dict[str, Any], bool]]:
    """The tries in force at one dict: the active ones plus every '**' below them (zero levels)."""
    expanded = list(active)
    for trie, _sticky in active:
        if "**" in trie:
            expanded.append((trie["**"], True))  # '**' matches here (zero levels) and below
    return expanded


def _match_key(
    expanded: list[tuple[dict[str, Any], bool]], key: str
) -> tuple[bool, tuple[tuple[dict[str, Any], bool], ...]]:
    """(is ``key`` stripped here, tries in force below it)."""
    low = key.lower()
    nxt: list[tuple[dict[str, Any], bool]] = []
    doomed = False
    for trie, sticky in expanded:
        sub = trie.get(low) if low[:1] != "\0" else None
        subs = [sub] if sub is not None else []
        if "*" in trie:
            subs.append(trie["*"])
        if trie[_PATTERNS]:
            subs.extend(s for pattern, s in trie[_PATTERNS] if fnmatch.fnmatchcase(low, pattern))
        for sub in subs:
            if sub.get(_END):
                doomed = True
            else:
                nxt.append((sub, False))
        if sticky:
            nxt.append((trie, True))
    return doomed, tuple(nxt)


class _State:
    """The tries in force at one depth of a body, with the answer for each key seen there.

    Bodies of one type repeat their keys, so generation asks each (state, key) question once:
    the walk over 100k bodies becomes a dict lookup per key (a lazily built automaton).
    """

    __slots__ = ("active", "expanded", "answers")

    def __init__(self, active: tuple[tuple[dict[str, Any], bool], ...]) -> None:
        self.active = active  # keeps the tries alive, so their ids in _STATES stay unique
        self.expanded = _expand(active)
        self.answers: dict[str, tuple[bool, _State | None]] = {}

    def step(self, key: str) -> tuple[bool, _State | None]:
        """(is ``key`` stripped here, the state below it or None when nothing can match there)."""
        answer = self.answers.get(key)
        if answer is None:
            doomed, below = _match_key(self.expanded, key)
            answer = self.answers[key] = (doomed, _state(below) if below else None)
        return answer


_STATES: dict[tuple[tuple[int, bool], ...], _State] = {}


def _state(active: tuple[tuple[dict[str, Any], bool], ...]) -> _State:
    signature = tuple((id(trie), sticky) for trie, sticky in active)
    found = _STATES.get(signature)
    if found is None:
        found = _STATES[signature] = _State(active)
    return found


def _strip(node: Any, active: tuple[tuple[dict[str, Any], bool], ...]) -> None:
    if isinstance(node, list):
        for item in node:
            _strip(item, active)
        return
    if not isinstance(node, dict):
        return
    expanded = _expand(active)
    for key in list(node):
        doomed, nxt = _match_key(expanded, key)
        if doomed:
            del node[key]
        elif nxt and isinstance(node[key], (dict, list)):
            _strip(node[key], nxt)


def copy_json(value: Any) -> Any:
    """Deep copy of JSON-shaped data (faster than copy.deepcopy for large scans)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def get_path(value: Any, path: str) -> Any:
    """The value at a dotted path of dicts (no wildcards), or None; keys matched case-insensitively."""
    node = value
    for seg in path.split("."):
        if not isinstance(node, dict):
            return None
        match = next((k for k in node if k.lower() == seg.lower()), None)
        if match is None:
            return None
        node = node[match]
    return node


def set_path(value: dict[str, Any], path: str, new: Any) -> bool:
    """Replace an existing value at a dotted path; False when the path is absent."""
    *parents, last = path.split(".")
    node: Any = value
    for seg in parents:
        if not isinstance(node, dict):
            return False
        node = next((node[k] for k in node if k.lower() == seg.lower()), None)
    if not isinstance(node, dict):
        return False
    key = next((k for k in node if k.lower() == last.lower()), None)
    if key is None:
        return False
    node[key] = new
    return True


# ---------------------------------------------------------------- templates


class Ref(NamedTuple):
    """A reference to another emitted resource, plus the literal target ID to fall back to.
    (Named tuples, not frozen dataclasses: 150k are made per 100k resources, at a third of the cost.)"""

    label: str
    literal: str  # target ID of the referenced resource
    suffix: str  # path below it, e.g. "/subnets/s" (already rewritten)


class Tpl(NamedTuple):
    """A string made of literal text and references."""

    parts: tuple[str | Ref, ...]


def escape(text: str) -> str:
    """Escape Terraform template sequences in literal text (.tf.json strings and keys are templates)."""
    return text.replace("${", "$${").replace("%{", "%%{")


def render_tpl(value: Tpl, self_label: str, literal_edges: set[tuple[str, str]]) -> str:
    """One template as Terraform JSON text: references become ``${azapi_resource.x.id}``."""
    out = []
    for part in value.parts:
        if isinstance(part, str):
            out.append(escape(part))
        elif part.label == self_label or (self_label, part.label) in literal_edges:
            out.append(escape(part.literal + part.suffix))
        else:
            out.append("${azapi_resource." + part.label + ".id}" + escape(part.suffix))
    return "".join(out)


# (container, key or index, owner label, the slot is a dict key): where a template waits for rendering
Slot = tuple[Any, Any, str, bool]


def patch_slots(slots: list[Slot], literal_edges: set[tuple[str, str]]) -> None:
    """Render every recorded template in place (values first: a key slot moves its entry)."""
    for container, key, label, is_key in slots:
        if is_key:
            continue
        if isinstance(container, list):
            if isinstance(container[key], Tpl):
                container[key] = render_tpl(container[key], label, literal_edges)
        elif isinstance(container.get(key), Tpl):  # a transform may have dropped the entry
            container[key] = render_tpl(container[key], label, literal_edges)
    for container, key, label, is_key in slots:
        if is_key and key in container:
            container[render_tpl(key, label, literal_edges)] = container.pop(key)


# ---------------------------------------------------------------- phase 1: strip and escape

# A dict entry or list item whose text waits for the plan: (container, key or index, key pending, value pending).
Pending = tuple[Any, Any, bool, bool]
PLAIN_CACHE_TEXT = 64  # longer strings rarely repeat
PLAIN_CACHE_SIZE = 200_000


def pending_pattern(source: str) -> re.Pattern[str]:
    """Text that phase 2 must see: the source subscription GUID, or a host name under a DNS suffix
    whose resource may be renamed (a superset of what any plan's ``Rewriter`` rewrites)."""
    return re.compile(f"{re.escape(source)}|{_HOST_SUFFIX}", re.IGNORECASE)


class Stripper:
    """Phase 1 of a body: a copy without the read-only paths, literal text escaped, and every string
    that may hold a source ID or a renamed host left as it is and listed (``Pending``) for
    ``Rewriter.resolve``. It needs no plan (names, labels, target IDs), so a worker can run it while
    the plan is being made; the walk is most of a body's cost."""

    def __init__(self, source: str) -> None:
        self._maybe = pending_pattern(source)
        # short strings with nothing to rewrite -> their escaped text: keys and enum-like values repeat
        # across 100k bodies, so most leaves become one dict lookup instead of a call and a regex scan
        self._plain: dict[str, str] = {}

    def copy(self, value: Any, paths: tuple[str, ...], pendings: list[Pending]) -> Any:
        state = _state(((_trie(paths), False),)) if paths else None
        if isinstance(value, (dict, list)):
            return self._copy(value, state, pendings)
        return value  # a top-level scalar: ``resolve`` takes a string as a whole

    def _first_sight(self, text: str) -> tuple[str, bool]:
        """(the text for the copy, whether it waits for phase 2); short literal texts are remembered."""
        if self._maybe.search(text):
            return text, True
        result = escape(text) if "{" in text else text
        if len(text) <= PLAIN_CACHE_TEXT and len(self._plain) < PLAIN_CACHE_SIZE:
            self._plain[text] = result
        return result, False

    def _copy(self, value: Any, state: _State | None, pendings: list[Pending]) -> Any:
        # Hot loop of generation (every node of every body): scalars handled inline, no call per leaf.
        first_sight, plain = self._first_sight, self._plain
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            below: _State | None = None
            for key, item in value.items():
                if state is not None:
                    doomed, below = state.step(key)
                    if doomed:
                        continue
                key_pending = value_pending = False
                if key.__class__ is str:
                    new_key = plain.get(key)
                    if new_key is None:
                        new_key, key_pending = first_sight(key)
                else:
                    new_key = key
                if item.__class__ is str:
                    new = plain.get(item)
                    if new is None:
                        new, value_pending = first_sight(item)
                elif isinstance(item, (dict, list)):
                    new = self._copy(item, below, pendings)
                else:
                    new = item
                out[new_key] = new
                if key_pending or value_pending:
                    pendings.append((out, new_key, key_pending, value_pending))
            return out
        items: list[Any] = []
        for item in value:
            if item.__class__ is str:
                new = plain.get(item)
                if new is None:
                    new, pending = first_sight(item)
                    if pending:
                        pendings.append((items, len(items), False, True))
                items.append(new)
            elif isinstance(item, (dict, list)):
                items.append(self._copy(item, state, pendings))
            else:
                items.append(item)
        return items


# ---------------------------------------------------------------- the rewriter


@dataclass
class Rewriter:
    """Rewrites source-subscription IDs into references (in-config) or target IDs (reported)."""

    source: str
    target: str
    label_by_id: dict[str, str]  # source id lower -> label (resource groups and resources)
    target_by_id: dict[str, str]  # source id lower -> target id
    rg_ids: set[str]  # lower-cased ids of emitted resource groups
    renamed: dict[str, str] = field(default_factory=dict)  # source name lower -> target name (DNS-visible)

    def __post_init__(self) -> None:
        self._pattern = source_id_pattern(self.source)
        self._guid = re.compile(re.escape(self.source), re.IGNORECASE)
        self._src_lower = self.source.lower()
        self._host = None
        self._suffix = None
        if self.renamed:  # one pattern whatever the number of names: a label before a known suffix
            self._host = re.compile(
                rf"(?<![A-Za-z0-9-])([A-Za-z0-9-]+)(?=\.(?:[A-Za-z0-9-]+\.)*?(?:{'|'.join(_HOST_SUFFIXES)})\b)",
                re.IGNORECASE,
            )
            self._suffix = re.compile(_HOST_SUFFIX, re.IGNORECASE)
        interesting = [re.escape(self.source)] + ([_HOST_SUFFIX] if self.renamed else [])
        self._interesting = re.compile("|".join(interesting), re.IGNORECASE)
        self.stripper = Stripper(self.source)
        self.edges: set[tuple[str, str]] = set()
        self.unmapped: list[dict[str, str]] = []

    # -- plain text
    def literal_text(self, text: str) -> str:
        """Text with the source GUID swapped and renamed host names rewritten (no IDs resolved)."""
        if self._src_lower in text.lower():
            text = self._guid.sub(self.target, text)
        if self._host is not None and self._suffix is not None and self._suffix.search(text):
            text = self._host.sub(lambda m: self.renamed.get(m.group(1).lower(), m.group(1)), text)
        return text

    def target_id(self, source_id: str) -> str:
        """Literal target ID for any source-subscription ID (longest emitted prefix wins)."""
        for prefix in prefixes_longest_first(source_id):
            hit = self.target_by_id.get(prefix.lower())
            if hit is not None:
                return hit + self.literal_text(source_id[len(prefix) :])
        return self.literal_text(source_id)

    # -- two phases: strip + escape (no plan needed, see ``Stripper``), then rewrite what waits
    def convert(self, value: Any, owner_id: str, owner_label: str, paths: tuple[str, ...], slots: list[Slot]) -> Any:
        """A rewritten copy of ``value`` without ``paths``; literal text escaped for .tf.json, every
        template (a string holding references) recorded in ``slots`` for ``patch_slots``."""
        pendings: list[Pending] = []
        copy = self.stripper.copy(value, paths, pendings)
        return self.resolve(copy, pendings, owner_id, owner_label, slots)

    def resolve(self, value: Any, pendings: list[Pending], owner_id: str, owner_label: str, slots: list[Slot]) -> Any:
        """Phase 2 of ``convert`` on a ``Stripper.copy``: each pending string becomes what ``leaf``
        makes of it (in place); returns the value (a top-level string is resolved itself)."""
        leaf = self.leaf
        if value.__class__ is str:
            return leaf(value, owner_id, owner_label)
        for container, key, key_pending, value_pending in pendings:
            if container.__class__ is list:
                new = container[key] = leaf(container[key], owner_id, owner_label)
                if new.__class__ is Tpl:
                    slots.append((container, key, owner_label, False))
                continue
            new = container[key]
            if value_pending:
                new = leaf(new, owner_id, owner_label)
            new_key = key
            if key_pending:
                new_key = leaf(key, owner_id, owner_label)
                del container[key]
            container[new_key] = new
            if new.__class__ is Tpl:
                slots.append((container, new_key, owner_label, False))
            if new_key.__class__ is Tpl:
                slots.append((container, new_key, owner_label, True))
        return value

    def leaf(self, text: str, owner_id: str, owner_label: str) -> str | Tpl:
        """One string: a template when it references emitted resources, else escaped literal text."""
        hit = self._interesting.search(text)  # one C-level scan: the source GUID or a renamed host's suffix
        if hit is not None:
            if self._guid.search(text):
                result = self.string(text, owner_id, owner_label)
                if isinstance(result, Tpl):
                    return result
                text = result
            else:
                text = self.literal_text(text)
        return escape(text) if "{" in text else text

    def string(self, text: str, owner_id: str, owner_label: str) -> str | Tpl:
        if self._pattern.fullmatch(text):  # the usual case: the whole string is one ID
            resolved = self._resolve(text, owner_id, owner_label)
            return Tpl((resolved,)) if resolved.__class__ is Ref else resolved
        if self._src_lower not in text.lower():
            return self.literal_text(text) if self._host is not None else text
        parts: list[str | Ref] = []
        pos = 0
        for match in self._pattern.finditer(text):
            if match.start() > pos:
                parts.append(self.literal_text(text[pos : match.start()]))
            parts.append(self._resolve(match.group(0), owner_id, owner_label))
            pos = match.end()
        if pos < len(text):
            parts.append(self.literal_text(text[pos:]))
        if not any(isinstance(p, Ref) for p in parts):
            return "".join(p for p in parts if isinstance(p, str))
        return Tpl(tuple(parts))

    def _resolve(self, ref_id: str, owner_id: str, owner_label: str) -> str | Ref:
        whole = ref_id.lower()
        label = self.label_by_id.get(whole) if not whole.endswith("/") else None
        if label is not None:  # the usual case: the whole ID is an emitted resource (no prefix list built)
            if label != owner_label:
                self.edges.add((owner_label, label))
            return Ref(label, self.target_by_id[whole], "")
        for prefix in prefixes_longest_first(ref_id):
            key = prefix.lower()
            label = self.label_by_id.get(key)
            if label is None:
                continue
            suffix = self.literal_text(ref_id[len(prefix) :])
            if key in self.rg_ids and suffix:
                break  # only the resource group is ours: the resource itself is not in the config
            if label != owner_label:
                self.edges.add((owner_label, label))
            return Ref(label, self.target_by_id[key], suffix)
        rewritten = self.target_id(ref_id)
        if ref_id.strip("/").count("/") > 1:  # more than /subscriptions/<id>
            self.unmapped.append({"id": owner_id, "reference": ref_id, "rewritten": rewritten})
        return rewritten
