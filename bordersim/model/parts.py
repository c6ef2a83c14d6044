"""The parts of a border whose units can meet.

Two crossing × class groups belong to one part when a lane serves both, or when
units of one may divert to the other. Nothing that happens in one part reaches
another, so each part is run on its own chain of events (or computed without
events), and the results do not depend on which other parts are there.
"""

from __future__ import annotations

from bordersim.scenario import Scenario

__all__ = ["group_keys", "parts"]


def group_keys(scn: Scenario) -> list[tuple[str, str]]:
    """(crossing, class) of every group, in the engine's order: crossings, then classes, as
    written; a group exists where the class has demand or is diverted to."""
    destinations = {(t, k) for k in scn.classes for rule in scn.behaviour.divert_rules(k)
                    for t in rule.targets()}
    return [(c, k) for c, crossing in scn.crossings.items() for k in scn.classes
            if crossing.demand.get(k, 0.0) > 0 or (c, k) in destinations]


def parts(scn: Scenario) -> list[list[tuple[str, str]]]:
    """The groups, split into parts that never meet; each part in group order, the parts
    in the order of their first group."""
    keys = group_keys(scn)
    index = {key: n for n, key in enumerate(keys)}
    parent = list(range(len(keys)))

    def root(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    def join(a: int, b: int) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for cname, crossing in scn.crossings.items():
        for st in crossing.stages:
            for ln in st.lanes:
                members = [index[(cname, k)] for k in ln.serves if (cname, k) in index]
                for m in members[1:]:
                    join(members[0], m)
    for k in scn.classes:
        for rule in scn.behaviour.divert_rules(k):
            if (rule.from_, k) not in index:
                continue
            for t in rule.targets():
                join(index[(rule.from_, k)], index[(t, k)])
    out: dict[int, list[tuple[str, str]]] = {}
    for n, key in enumerate(keys):
        out.setdefault(root(n), []).append(key)
    return list(out.values())
