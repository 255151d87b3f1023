"""
The plan behind the sticky assignors: Kafka's C{AbstractStickyAssignor}, in Python.

A plan is:

  - B{balanced}: when every member subscribes to the same topics, the numbers of
    partitions members get differ by at most one. Otherwise the result is as
    balanced as the subscriptions allow: no chain of moves (a partition from member
    A to B, one from B to C, ...) along which each partition goes to a member
    subscribed to its topic could leave the first member with fewer partitions and
    the last with more without the last ending up with more than the first had.
    That is the condition under which no assignment has a more even spread of
    counts, and it is stronger than Kafka's, which only looks at single moves.
  - B{sticky}: a partition stays with the member that owns it unless balance
    requires moving it; partitions given out this round move before owned ones.
  - B{safe with conflicting claims}: when members claim the same partition, the
    claim of the highest generation wins; a tie at the highest generation means
    nobody keeps it.

It also tells which partitions are changing owner (assigned to a member while
another still claims them), which the cooperative assignor leaves out of this
round's assignment.

Determinism: members are visited in member-id order and topics in name order, so
the same input gives the same plan in every process, whatever the hash seed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

import attrs

from odradek.client.structs import TopicPartition

__all__ = ["MemberData", "StickyPlan", "plan_sticky_assignment"]


@attrs.frozen
class MemberData:
    """
    What a member says it owns.

    @ivar partitions: the partitions it claims to own.
    @ivar generation: the generation in which it got them; -1 when unknown.
    """

    partitions: tuple[TopicPartition, ...] = ()
    generation: int = -1


@attrs.frozen
class StickyPlan:
    """
    The sticky assignment of a group.

    @ivar assignment: each member's partitions, sorted, by member id.
    @ivar transferring: the partitions assigned to a member while another member
        claims them, mapped to the member they are assigned to.
    """

    assignment: Mapping[str, tuple[TopicPartition, ...]]
    transferring: Mapping[TopicPartition, str]


@attrs.frozen
class _Claims:
    """
    Who claims what, after conflicts were resolved.

    @ivar claimants: every member claiming each existing partition.
    @ivar kept: each member's claims it won, in the order it listed them.
    @ivar owner: the member that won each partition someone won.
    """

    claimants: dict[TopicPartition, list[str]]
    kept: dict[str, list[TopicPartition]]
    owner: dict[TopicPartition, str]


def _resolve_claims(
    members: list[str],
    counts: Mapping[str, int],
    member_data: Mapping[str, MemberData],
) -> _Claims:
    claimants: dict[TopicPartition, list[str]] = {}
    best: dict[TopicPartition, tuple[int, list[str]]] = {}
    for member in members:
        data = member_data.get(member, MemberData())
        for tp in dict.fromkeys(data.partitions):
            if not 0 <= tp.partition < counts.get(tp.topic, 0):
                continue
            claimants.setdefault(tp, []).append(member)
            top = best.get(tp)
            if top is None or data.generation > top[0]:
                best[tp] = (data.generation, [member])
            elif data.generation == top[0]:
                top[1].append(member)
    owner = {tp: winners[0] for tp, (_, winners) in best.items() if len(winners) == 1}
    kept: dict[str, list[TopicPartition]] = {member: [] for member in members}
    for member in members:
        data = member_data.get(member, MemberData())
        kept[member] = [
            tp for tp in dict.fromkeys(data.partitions) if owner.get(tp) == member
        ]
    return _Claims(claimants, kept, owner)


def _all_partitions(counts: Mapping[str, int]) -> list[TopicPartition]:
    return [TopicPartition(t, p) for t in sorted(counts) for p in range(counts[t])]


def _constrained(
    members: list[str], counts: Mapping[str, int], claims: _Claims
) -> dict[str, list[TopicPartition]]:
    """
    Kafka's C{ConstrainedAssignmentBuilder}, for members all subscribing to the
    same topics: each member keeps up to its quota of its owned partitions, lowest
    partition numbers first; the rest are dealt round-robin to members under quota.
    """
    total = sum(counts.values())
    min_quota, expected_over = divmod(total, len(members))
    max_quota = min_quota + (1 if expected_over else 0)
    over = 0
    assignment: dict[str, list[TopicPartition]] = {m: [] for m in members}
    under_min: list[str] = []
    at_min: deque[str] = deque()
    for member in members:
        owned = sorted(claims.kept[member], key=lambda tp: (tp.partition, tp.topic))
        if len(owned) < min_quota:
            assignment[member].extend(owned)
            under_min.append(member)
        elif len(owned) >= max_quota and over < expected_over:
            over += 1
            if over == expected_over:
                at_min.clear()
            assignment[member].extend(owned[:max_quota])
        else:
            assignment[member].extend(owned[:min_quota])
            if over < expected_over:
                at_min.append(member)
    taken = {tp for tps in assignment.values() for tp in tps}
    turn = 0
    for tp in _all_partitions(counts):
        if tp in taken:
            continue
        if under_min:
            turn %= len(under_min)
            member = under_min[turn]
            assignment[member].append(tp)
            if len(assignment[member]) == min_quota:
                del under_min[turn]
                at_min.append(member)
            else:
                turn += 1
        else:
            # The quotas add up to the partition count, so a member is left.
            member = at_min.popleft()
            assignment[member].append(tp)
    return assignment


@attrs.define
class _Balancer:
    """
    Kafka's C{GeneralAssignmentBuilder} in spirit, for members subscribing to
    different topics: keep the owned partitions members still subscribe to, give
    each other partition to the least loaded member subscribed to its topic, then
    shift partitions along improving chains until none is left. Chains that move
    only partitions given out this round are tried before chains that take a
    partition from its owner.

    @ivar eligible: the existing topics each member subscribes to.
    @ivar subscribers: the members subscribed to each topic, sorted.
    @ivar held: each member's partitions, by topic.
    @ivar fresh: how many of its partitions of each topic a member did not own
        before this round.
    @ivar size: how many partitions each member holds.
    """

    counts: Mapping[str, int]
    members: list[str]
    claims: _Claims
    eligible: dict[str, frozenset[str]]
    subscribers: dict[str, list[str]] = attrs.field(factory=dict)
    held: dict[str, dict[str, dict[TopicPartition, None]]] = attrs.field(factory=dict)
    fresh: dict[str, dict[str, int]] = attrs.field(factory=dict)
    size: dict[str, int] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        for member in self.members:
            self.held[member] = {}
            self.fresh[member] = {}
            self.size[member] = 0
            for topic in sorted(self.eligible[member]):
                self.subscribers.setdefault(topic, []).append(member)

    def _is_fresh(self, member: str, tp: TopicPartition) -> bool:
        return self.claims.owner.get(tp) != member

    def _add(self, member: str, tp: TopicPartition) -> None:
        self.held[member].setdefault(tp.topic, {})[tp] = None
        self.size[member] += 1
        if self._is_fresh(member, tp):
            fresh = self.fresh[member]
            fresh[tp.topic] = fresh.get(tp.topic, 0) + 1

    def _remove(self, member: str, tp: TopicPartition) -> None:
        of_topic = self.held[member][tp.topic]
        del of_topic[tp]
        if not of_topic:
            del self.held[member][tp.topic]
        self.size[member] -= 1
        if self._is_fresh(member, tp):
            self.fresh[member][tp.topic] -= 1

    def build(self) -> dict[str, list[TopicPartition]]:
        taken: set[TopicPartition] = set()
        for member in self.members:
            for tp in self.claims.kept[member]:
                if tp.topic in self.eligible[member]:
                    self._add(member, tp)
                    taken.add(tp)
        # Topics with the fewest possible takers first, as Kafka does.
        by_takers = sorted(
            self.subscribers, key=lambda t: (len(self.subscribers[t]), t)
        )
        for topic in by_takers:
            takers = self.subscribers[topic]
            for partition in range(self.counts[topic]):
                tp = TopicPartition(topic, partition)
                if tp not in taken:
                    self._add(min(takers, key=lambda m: (self.size[m], m)), tp)
        candidates = [m for m in self.members if self.eligible[m]]
        while candidates and (
            self._improve(candidates, fresh_only=True)
            or self._improve(candidates, fresh_only=False)
        ):
            pass
        return {
            member: [tp for tps in self.held[member].values() for tp in tps]
            for member in self.members
        }

    def _improve(self, candidates: list[str], fresh_only: bool) -> bool:
        """
        Shift partitions along one improving chain, if there is one.

        @param candidates: the members subscribed to some existing topic.
        @param fresh_only: whether chains may only move partitions given out this
            round.
        @return: whether a chain was found (and shifted).
        """
        floor = min(self.size[m] for m in candidates)
        settled: set[str] = set()
        for source in sorted(candidates, key=lambda m: (-self.size[m], m)):
            if self.size[source] < floor + 2:
                return False
            if source in settled:
                continue
            steps, reached = self._improving_path(source, fresh_only)
            if steps:
                for giver, topic, taker in steps:
                    tp = self._pick(giver, topic, taker, fresh_only)
                    self._remove(giver, tp)
                    self._add(taker, tp)
                return True
            # Whatever a reached member reaches, the source reaches too, and none
            # of that is two below the source: nothing to gain from there.
            settled.update(m for m in reached if self.size[m] <= self.size[source])
        return False

    def _improving_path(
        self, source: str, fresh_only: bool
    ) -> tuple[list[tuple[str, str, str]], set[str]]:
        """
        Find the shortest chain from C{source} to a member holding at least two
        partitions fewer, each step a member handing a partition of a topic to a
        member subscribed to it.

        @return: the steps C{(giver, topic, taker)} (empty if there is no such
            chain) and the members reached.
        """
        limit = self.size[source] - 2
        parent: dict[str, tuple[str, str]] = {}
        reached = {source}
        expanded: set[str] = set()
        queue = deque([source])
        while queue:
            giver = queue.popleft()
            fresh = self.fresh[giver]
            for topic in self.held[giver]:
                if topic in expanded or (fresh_only and not fresh.get(topic)):
                    continue
                expanded.add(topic)
                for taker in self.subscribers[topic]:
                    if taker in reached:
                        continue
                    reached.add(taker)
                    parent[taker] = (giver, topic)
                    if self.size[taker] <= limit:
                        steps = []
                        member = taker
                        while member != source:
                            previous, via = parent[member]
                            steps.append((previous, via, member))
                            member = previous
                        steps.reverse()
                        return steps, reached
                    queue.append(taker)
        return [], reached

    def _pick(
        self, giver: str, topic: str, taker: str, fresh_only: bool
    ) -> TopicPartition:
        """
        The partition of C{topic} that C{giver} hands C{taker}: preferably one
        C{giver} did not own before this round, and among those one C{taker}
        claimed (from an older generation); else (never when C{fresh_only}) one
        C{taker} claimed, else the last one C{giver} got.
        """
        held = self.held[giver][topic]
        ranked: list[TopicPartition | None] = [None, None, None]
        for tp in held:
            claimed = taker in self.claims.claimants.get(tp, ())
            if self._is_fresh(giver, tp):
                if claimed:
                    return tp
                if ranked[0] is None:
                    ranked[0] = tp
            elif claimed and ranked[1] is None:
                ranked[1] = tp
            else:
                ranked[2] = tp
        for choice in ranked[: 1 if fresh_only else 3]:
            if choice is not None:
                return choice
        raise AssertionError(f"{giver} holds no partition of {topic} to move")


def plan_sticky_assignment(
    partitions_per_topic: Mapping[str, int],
    topics_of: Mapping[str, frozenset[str]],
    member_data: Mapping[str, MemberData],
) -> StickyPlan:
    """
    Plan a balanced, sticky assignment.

    @param partitions_per_topic: the partition count of each topic; topics nobody
        subscribes to and topics without partitions are ignored.
    @param topics_of: each member's subscribed topics, by member id.
    @param member_data: what each member claims to own; members missing here claim
        nothing.
    @return: the plan.
    """
    members = sorted(topics_of)
    subscribed = frozenset().union(*topics_of.values()) if members else frozenset()
    counts = {
        t: n for t, n in partitions_per_topic.items() if n > 0 and t in subscribed
    }
    claims = _resolve_claims(members, counts, member_data)
    if not members:
        assignment: dict[str, list[TopicPartition]] = {}
    elif len({topics_of[m] for m in members}) == 1:
        assignment = _constrained(members, counts, claims)
    else:
        eligible = {
            m: frozenset(t for t in topics_of[m] if t in counts) for m in members
        }
        assignment = _Balancer(counts, members, claims, eligible).build()
    transferring: dict[TopicPartition, str] = {}
    for member, tps in assignment.items():
        for tp in tps:
            others = [c for c in claims.claimants.get(tp, ()) if c != member]
            if others and claims.owner.get(tp) != member:
                transferring[tp] = member
    return StickyPlan(
        {member: tuple(sorted(tps)) for member, tps in assignment.items()},
        transferring,
    )
