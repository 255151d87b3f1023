"""
Tests for L{odradek.client.consumer._commits} through L{ConsumerCoordinator
<odradek.client.consumer.coordinator.ConsumerCoordinator>}: synchronous commits and
their retries, the errors that end them, asynchronous commits and their callbacks,
commits outside the group's membership, and reading committed offsets.
"""

from __future__ import annotations

from collections.abc import Mapping

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.consumer._commits import COMMIT_FAILED_MESSAGE, bounded
from odradek.client.consumer._membership import MemberState
from odradek.client.protocol import ApiKey
from odradek.client.structs import OffsetAndMetadata, TopicPartition
from odradek.client.test.test_consumer_coordinator import (
    GROUP,
    ClusterTestCase,
    Member,
)

T0 = TopicPartition("t", 0)
T1 = TopicPartition("t", 1)
OFFSETS = {T0: OffsetAndMetadata(10, "m"), T1: OffsetAndMetadata(20, "", 4)}

COORDINATOR_LOAD_IN_PROGRESS = 14
NOT_COORDINATOR = 16
ILLEGAL_GENERATION = 22
UNKNOWN_MEMBER_ID = 25
REBALANCE_IN_PROGRESS = 27
TOPIC_AUTHORIZATION_FAILED = 29
GROUP_AUTHORIZATION_FAILED = 30
OFFSET_METADATA_TOO_LARGE = 12
UNSTABLE_OFFSET_COMMIT = 88


class CommitTestCase(ClusterTestCase):
    """A member of group C{g} that joined and owns every partition of C{t}."""

    def joined(self) -> Member:
        """@return: a member that joined the group."""
        member = self.member("a")
        member.subscribe("t")
        self.successResultOf(member.poll())
        return member


class CommitSyncTests(CommitTestCase):
    """
    Tests for C{commit_offsets_sync}.
    """

    def test_commit(self) -> None:
        """Offsets are committed with the member's generation."""
        a = self.joined()
        self.successResultOf(a.coordinator.commit_offsets_sync(OFFSETS, 1000))
        self.assertEqual(self.fake.group(GROUP).offsets, OFFSETS)
        body = self.fake.bodies(ApiKey.OFFSET_COMMIT)[0]
        self.assertEqual(body.generation_id_or_member_epoch, 1)
        self.assertTrue(body.member_id)

    def test_empty(self) -> None:
        """An empty map commits nothing and succeeds at once."""
        a = self.joined()
        self.successResultOf(a.coordinator.commit_offsets_sync({}, 1000))
        self.assertEqual(self.fake.bodies(ApiKey.OFFSET_COMMIT), [])

    def test_retriable_error_retried(self) -> None:
        """A retriable error is retried after retry.backoff.ms."""
        a = self.joined()
        self.fake.fail_next(ApiKey.OFFSET_COMMIT, COORDINATOR_LOAD_IN_PROGRESS, 2)
        committing = a.coordinator.commit_offsets_sync(OFFSETS, 5000)
        self.assertNoResult(committing)
        self.clock.advance(0.1)
        self.assertNoResult(committing)
        self.clock.advance(0.2)
        self.successResultOf(committing)
        self.assertEqual(len(self.fake.bodies(ApiKey.OFFSET_COMMIT)), 3)
        self.assertEqual(self.fake.group(GROUP).offsets, OFFSETS)

    def test_coordinator_moved(self) -> None:
        """NOT_COORDINATOR makes the member find the coordinator again and retry."""
        a = self.joined()
        finds = len(self.fake.bodies(ApiKey.FIND_COORDINATOR))
        self.fake.fail_next(ApiKey.OFFSET_COMMIT, NOT_COORDINATOR)
        committing = a.coordinator.commit_offsets_sync(OFFSETS, 5000)
        self.clock.advance(0.1)
        self.successResultOf(committing)
        self.assertEqual(len(self.fake.bodies(ApiKey.FIND_COORDINATOR)), finds + 1)
        self.assertEqual(self.fake.group(GROUP).offsets, OFFSETS)

    def test_timeout(self) -> None:
        """Retriable errors until the timeout end in RequestTimedOutError."""
        a = self.joined()
        self.fake.fail_next(ApiKey.OFFSET_COMMIT, COORDINATOR_LOAD_IN_PROGRESS, 100)
        committing = a.coordinator.commit_offsets_sync(OFFSETS, 2000)
        self.clock.advance(2)
        error = self.failureResultOf(committing, errors.RequestTimedOutError).value
        self.assertIn("Timeout of 2000ms expired", str(error))

    def test_unanswered_timeout(self) -> None:
        """A commit left unanswered fails when the timeout passes."""
        a = self.joined()
        self.fake.hold(ApiKey.OFFSET_COMMIT)
        committing = a.coordinator.commit_offsets_sync(OFFSETS, 1500)
        self.clock.advance(1.5)
        self.failureResultOf(committing, errors.RequestTimedOutError)
        self.fake.release(ApiKey.OFFSET_COMMIT)

    def test_unknown_member(self) -> None:
        """UNKNOWN_MEMBER_ID fails with CommitFailedError and resets the generation."""
        a = self.joined()
        self.fake.fail_next(ApiKey.OFFSET_COMMIT, UNKNOWN_MEMBER_ID)
        error = self.failureResultOf(
            a.coordinator.commit_offsets_sync(OFFSETS, 1000), errors.CommitFailedError
        ).value
        self.assertEqual(error.message, COMMIT_FAILED_MESSAGE)
        self.assertIn("max.poll.interval.ms", str(error))
        membership = a.coordinator.membership
        assert membership is not None
        self.assertIs(membership.state, MemberState.UNJOINED)
        self.assertEqual(membership.generation.member_id, "")
        self.assertTrue(a.coordinator.needs_join())

    def test_illegal_generation(self) -> None:
        """ILLEGAL_GENERATION fails with CommitFailedError, keeping the member id."""
        a = self.joined()
        membership = a.coordinator.membership
        assert membership is not None
        member_id = membership.generation.member_id
        self.fake.fail_next(ApiKey.OFFSET_COMMIT, ILLEGAL_GENERATION)
        self.failureResultOf(
            a.coordinator.commit_offsets_sync(OFFSETS, 1000), errors.CommitFailedError
        )
        self.assertEqual(membership.generation.member_id, member_id)
        self.assertTrue(a.coordinator.needs_join())

    def test_rebalance_in_progress(self) -> None:
        """REBALANCE_IN_PROGRESS fails with RebalanceInProgressError and rejoins."""
        a = self.joined()
        self.fake.fail_next(ApiKey.OFFSET_COMMIT, REBALANCE_IN_PROGRESS)
        self.failureResultOf(
            a.coordinator.commit_offsets_sync(OFFSETS, 1000),
            errors.RebalanceInProgressError,
        )
        self.assertTrue(a.coordinator.needs_join())

    def test_not_in_group(self) -> None:
        """A subscribed member out of its group cannot commit: CommitFailedError."""
        a = self.member("a")
        a.subscribe("t")
        error = self.failureResultOf(
            a.coordinator.commit_offsets_sync(OFFSETS, 1000), errors.CommitFailedError
        ).value
        self.assertIn("not part of an active group", str(error))
        self.assertEqual(self.fake.bodies(ApiKey.OFFSET_COMMIT), [])

    def test_while_joining(self) -> None:
        """A member joining cannot commit: RebalanceInProgressError."""
        a, b = self.joined(), self.member("b")
        b.subscribe("t")
        b.poll()
        self.clock.advance(3)
        self.fake.hold(ApiKey.SYNC_GROUP)
        a.poll()
        self.failureResultOf(
            a.coordinator.commit_offsets_sync(OFFSETS, 1000),
            errors.RebalanceInProgressError,
        )
        self.fake.release(ApiKey.SYNC_GROUP)

    def test_metadata_too_large(self) -> None:
        """OFFSET_METADATA_TOO_LARGE fails at once, naming the partition."""
        a = self.joined()
        self.fake.commit_errors[T1] = OFFSET_METADATA_TOO_LARGE
        error = self.failureResultOf(
            a.coordinator.commit_offsets_sync(OFFSETS, 1000),
            errors.OffsetMetadataTooLargeError,
        ).value
        self.assertIn("t-1", str(error))
        self.assertEqual(len(self.fake.bodies(ApiKey.OFFSET_COMMIT)), 1)

    def test_topic_authorization(self) -> None:
        """TOPIC_AUTHORIZATION_FAILED fails, naming the topics."""
        a = self.joined()
        self.fake.commit_errors[T0] = TOPIC_AUTHORIZATION_FAILED
        error = self.failureResultOf(
            a.coordinator.commit_offsets_sync(OFFSETS, 1000),
            errors.TopicAuthorizationError,
        ).value
        self.assertIn("'t'", str(error))

    def test_group_authorization(self) -> None:
        """GROUP_AUTHORIZATION_FAILED fails, naming the group."""
        a = self.joined()
        self.fake.commit_errors[T0] = GROUP_AUTHORIZATION_FAILED
        error = self.failureResultOf(
            a.coordinator.commit_offsets_sync(OFFSETS, 1000),
            errors.GroupAuthorizationError,
        ).value
        self.assertIn(GROUP, str(error))

    def test_manual_assignment(self) -> None:
        """Partitions assigned by hand commit outside the membership."""
        a = self.member("a")
        a.subscriptions.assign_from_user([T0])
        self.successResultOf(a.coordinator.commit_offsets_sync(OFFSETS, 1000))
        body = self.fake.bodies(ApiKey.OFFSET_COMMIT)[0]
        self.assertEqual((body.generation_id_or_member_epoch, body.member_id), (-1, ""))
        self.assertEqual(self.fake.group(GROUP).offsets, OFFSETS)
        self.assertEqual(self.fake.bodies(ApiKey.JOIN_GROUP), [])

    def test_without_group_id(self) -> None:
        """Without group.id commits and lookups fail with InvalidGroupIdError."""
        a = self.member("a", group_id=None)
        a.subscriptions.assign_from_user([T0])
        error = self.failureResultOf(
            a.coordinator.commit_offsets_sync(OFFSETS, 1000), errors.InvalidGroupIdError
        ).value
        self.assertIn("group.id", str(error))
        self.assertRaises(
            errors.InvalidGroupIdError, a.coordinator.commit_offsets_async, OFFSETS
        )
        self.failureResultOf(
            a.coordinator.fetch_committed_offsets([T0], 1000),
            errors.InvalidGroupIdError,
        )


class CommitAsyncTests(CommitTestCase):
    """
    Tests for C{commit_offsets_async}.
    """

    def record(
        self,
    ) -> tuple[
        list[tuple[Mapping[TopicPartition, OffsetAndMetadata], BaseException | None]],
        object,
    ]:
        """@return: a list of outcomes and a callback appending to it."""
        outcomes: list[
            tuple[Mapping[TopicPartition, OffsetAndMetadata], BaseException | None]
        ] = []
        return outcomes, lambda offsets, error: outcomes.append((offsets, error))

    def test_callback(self) -> None:
        """The callback gets the offsets and None once committed."""
        a = self.joined()
        outcomes, callback = self.record()
        done = a.coordinator.commit_offsets_async(OFFSETS, callback)  # type: ignore[arg-type]
        self.successResultOf(done)
        self.assertEqual(outcomes, [(OFFSETS, None)])
        self.assertEqual(self.fake.group(GROUP).offsets, OFFSETS)

    def test_no_retry(self) -> None:
        """A failure is reported to the callback, without a retry."""
        a = self.joined()
        outcomes, callback = self.record()
        self.fake.fail_next(ApiKey.OFFSET_COMMIT, COORDINATOR_LOAD_IN_PROGRESS)
        self.successResultOf(a.coordinator.commit_offsets_async(OFFSETS, callback))  # type: ignore[arg-type]
        self.clock.advance(1)
        [(offsets, error)] = outcomes
        self.assertEqual(offsets, OFFSETS)
        self.assertIsInstance(error, errors.CoordinatorLoadInProgressError)
        self.assertEqual(len(self.fake.bodies(ApiKey.OFFSET_COMMIT)), 1)

    def test_empty(self) -> None:
        """An empty map completes at once, without a request."""
        a = self.joined()
        outcomes, callback = self.record()
        self.successResultOf(a.coordinator.commit_offsets_async({}, callback))  # type: ignore[arg-type]
        self.assertEqual(outcomes, [({}, None)])
        self.assertEqual(self.fake.bodies(ApiKey.OFFSET_COMMIT), [])

    def test_callback_error_logged(self) -> None:
        """A callback that raises is logged; the commit still completes."""
        a = self.joined()

        def broken(offsets: object, error: object) -> None:
            raise ZeroDivisionError()

        self.successResultOf(a.coordinator.commit_offsets_async(OFFSETS, broken))
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_sync_waits_for_async(self) -> None:
        """An empty synchronous commit waits for the asynchronous ones in flight."""
        a = self.joined()
        outcomes, callback = self.record()
        self.fake.hold(ApiKey.OFFSET_COMMIT)
        a.coordinator.commit_offsets_async(OFFSETS, callback)  # type: ignore[arg-type]
        flushing = a.coordinator.commit_offsets_sync({}, 1000)
        self.assertNoResult(flushing)
        self.fake.release(ApiKey.OFFSET_COMMIT)
        self.successResultOf(flushing)
        self.assertEqual(outcomes, [(OFFSETS, None)])

    def test_fenced_raised_by_poll(self) -> None:
        """A fenced static member's async commit error is raised by the next poll."""
        a = self.joined()
        self.fake.fail_next(ApiKey.OFFSET_COMMIT, 82)  # FENCED_INSTANCE_ID
        self.successResultOf(a.coordinator.commit_offsets_async(OFFSETS))
        self.failureResultOf(a.poll(), errors.FencedInstanceIdError)
        self.flushLoggedErrors()


class FetchCommittedTests(CommitTestCase):
    """
    Tests for C{fetch_committed_offsets}.
    """

    def test_fetch(self) -> None:
        """Committed offsets come back; partitions without one map to None."""
        a = self.joined()
        self.fake.group(GROUP).offsets[T0] = OffsetAndMetadata(3, "x", 2)
        found = self.successResultOf(
            a.coordinator.fetch_committed_offsets([T0, T1], 1000)
        )
        self.assertEqual(found, {T0: OffsetAndMetadata(3, "x", 2), T1: None})
        self.assertTrue(self.fake.bodies(ApiKey.OFFSET_FETCH)[0].require_stable)

    def test_empty(self) -> None:
        """No partitions, no request."""
        a = self.joined()
        before = len(self.fake.bodies(ApiKey.OFFSET_FETCH))
        found = self.successResultOf(a.coordinator.fetch_committed_offsets([], 1000))
        self.assertEqual(found, {})
        self.assertEqual(len(self.fake.bodies(ApiKey.OFFSET_FETCH)), before)

    def test_unstable_retried(self) -> None:
        """UNSTABLE_OFFSET_COMMIT is retried until the offsets are stable."""
        a = self.joined()
        before = len(self.fake.bodies(ApiKey.OFFSET_FETCH))
        self.fake.fetch_errors[T0] = UNSTABLE_OFFSET_COMMIT
        fetching = a.coordinator.fetch_committed_offsets([T0], 5000)
        self.assertNoResult(fetching)
        del self.fake.fetch_errors[T0]
        self.clock.advance(0.1)
        self.assertEqual(self.successResultOf(fetching), {T0: None})
        self.assertEqual(len(self.fake.bodies(ApiKey.OFFSET_FETCH)), before + 2)

    def test_coordinator_moved(self) -> None:
        """NOT_COORDINATOR makes the member find the coordinator again."""
        a = self.joined()
        self.fake.fail_next(ApiKey.OFFSET_FETCH, NOT_COORDINATOR)
        fetching = a.coordinator.fetch_committed_offsets([T0], 5000)
        self.clock.advance(0.1)
        self.assertEqual(self.successResultOf(fetching), {T0: None})

    def test_not_retriable(self) -> None:
        """A group authorization error fails at once, naming the group."""
        a = self.joined()
        self.fake.fail_next(ApiKey.OFFSET_FETCH, GROUP_AUTHORIZATION_FAILED)
        error = self.failureResultOf(
            a.coordinator.fetch_committed_offsets([T0], 5000),
            errors.GroupAuthorizationError,
        ).value
        self.assertIn(GROUP, str(error))

    def test_timeout(self) -> None:
        """Unstable offsets past the timeout fail with RequestTimedOutError."""
        a = self.joined()
        self.fake.fetch_errors[T0] = UNSTABLE_OFFSET_COMMIT
        fetching = a.coordinator.fetch_committed_offsets([T0], 1000)
        self.clock.advance(1)
        error = self.failureResultOf(fetching, errors.RequestTimedOutError).value
        self.assertIn("t-0", str(error))
        self.assertIn("default.api.timeout.ms", str(error))


class BoundedTests(SynchronousTestCase):
    """
    Tests for L{bounded}.
    """

    def test_result_passed(self) -> None:
        """The waited Deferred's result comes through and the timer is cancelled."""
        clock = Clock()
        waited: Deferred[int] = Deferred()
        result = bounded(clock, waited, 1000)
        waited.callback(5)
        self.assertEqual(self.successResultOf(result), 5)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_expiry_leaves_waited_alone(self) -> None:
        """On expiry the wait fails; the waited Deferred is not cancelled."""
        clock = Clock()
        waited: Deferred[int] = Deferred()
        result = bounded(clock, waited, 1000)
        clock.advance(1)
        self.assertTrue(self.failureResultOf(result))
        self.assertNoResult(waited)
        waited.errback(ValueError())
        self.assertEqual(self.flushLoggedErrors(ValueError), [])

    def test_cancel(self) -> None:
        """Cancelling the wait stops the timer only."""
        clock = Clock()
        waited: Deferred[int] = Deferred()
        result = bounded(clock, waited, 1000)
        result.cancel()
        self.failureResultOf(result)
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertNoResult(waited)
        waited.callback(1)
