"""Deterministic names: Terraform labels and nonce-suffixed globally unique Azure names.

Why deterministic: one campaign keeps one Terraform state across iterations, so the same source
resource must map to the same label and the same target name every run.
"""

from __future__ import annotations

import functools
import hashlib
import re

from tenant_replicator.iac.registry import NameRule

_LABEL_BAD = re.compile(r"[^a-z0-9_]+")
_HEX = 6


def short_hash(text: str, length: int = _HEX) -> str:
    """Stable short hex digest (not for security: only for distinct, stable names)."""
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:length]


@functools.lru_cache(maxsize=1024)
def _short_type(resource_type: str) -> str:
    short = _LABEL_BAD.sub("_", resource_type.rsplit("/", 1)[-1].lower()).strip("_") or "res"
    return "rg" if short == "resourcegroups" else short


def label_for(resource_type: str, name: str, id_lower: str, hash_len: int = _HEX) -> str:
    """A valid Terraform label, stable for the same source ID: ``<short type>_<name>_<hash>``."""
    short = _short_type(resource_type)
    clean = _LABEL_BAD.sub("_", name.lower()).strip("_")[:40] or "x"
    label = f"{short}_{clean}_{short_hash(id_lower, hash_len)}"
    return label if label[0].isalpha() else f"r_{label}"


def nonce_token(nonce: str) -> str:
    """The nonce as a short lowercase alphanumeric token (hashed when it is unusable as is)."""
    token = re.sub(r"[^a-z0-9]", "", nonce.lower())
    return token if 1 <= len(token) <= 8 else short_hash(nonce)


def _clean(text: str, rule: NameRule) -> str:
    text = text.lower() if rule.lowercase else text
    if rule.hyphens:
        text = re.sub(r"[^A-Za-z0-9-]+", "-", text)
        if rule.no_double_hyphen:
            text = re.sub(r"-{2,}", "-", text)
        return text.strip("-")
    return re.sub(r"[^A-Za-z0-9]+", "", text)


def global_name(source_name: str, nonce: str, rule: NameRule) -> str:
    """``<source name cleaned>[-]<nonce token>`` within the rule; same inputs give the same name.

    When the source name must be cut to fit, its last characters become a hash of the full name so
    that two long names sharing a prefix still differ.
    """
    suffix = nonce_token(nonce)
    sep = "-" if rule.hyphens else ""
    base = _clean(source_name, rule)
    room = rule.max_len - len(sep) - len(suffix)
    if len(base) > room:
        digest = short_hash(source_name.lower(), 4)
        base = _clean(base[: max(room - len(digest), 0)], rule) + digest
        base = base[-room:] if len(base) > room else base
    if rule.start_letter and not (base[:1].isalpha()):
        base = ("r" + base)[:room]
    if not base:
        sep = ""
        base = "r" if rule.start_letter else ""
    name = f"{base}{sep}{suffix}"
    if rule.start_letter and not name[0].isalpha():
        name = ("r" + name)[: rule.max_len]
    if len(name) < rule.min_len:
        name = (name + short_hash(source_name + nonce, rule.min_len))[: max(rule.min_len, len(name))]
    return name[: rule.max_len]


def fits_rule(name: str, rule: NameRule) -> bool:
    """True when ``name`` satisfies ``rule`` (used by tests and as a guard)."""
    if not rule.min_len <= len(name) <= rule.max_len:
        return False
    charset = r"a-z0-9" if rule.lowercase else r"A-Za-z0-9"
    if rule.hyphens:
        if not re.fullmatch(rf"[{charset}]([{charset}-]*[{charset}])?", name):
            return False
        if rule.no_double_hyphen and "--" in name:
            return False
    elif not re.fullmatch(rf"[{charset}]+", name):
        return False
    return not (rule.start_letter and not name[0].isalpha())
