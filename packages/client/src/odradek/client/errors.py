"""
Kafka's error codes as one hierarchy of exceptions.

Every error code of the Kafka protocol has one class here, named after the exception
Apache Kafka's Java client raises for it, with C{Exception} replaced by C{Error}
(C{CORRUPT_MESSAGE} is L{CorruptRecordError}, C{MESSAGE_TOO_LARGE} is
L{RecordTooLargeError}). Two deviate: code 7 is L{RequestTimedOutError} so that it
does not shadow Python's built-in C{TimeoutError}, and codes 12 and 128, whose Java
classes lack the C{Exception} suffix, still end in C{Error}.

Each class carries the wire code, Kafka's upper-case name and whether the error is
retriable as class attributes; retriable errors also derive from L{RetriableError}, so
callers can write C{except RetriableError}. Code 0 (C{NONE}) means success and has no
class.

Lookups go both ways: C{SomeError.code} gives the code and L{error_for_code} gives the
class for a code, including codes newer than this table (see L{UnknownErrorCode}).
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from typing import ClassVar, NoReturn

__all__ = [
    "BrokerIdNotRegisteredError",
    "BrokerNotAvailableError",
    "ClusterAuthorizationError",
    "CommitFailedError",
    "ConcurrentTransactionsError",
    "ControllerMovedError",
    "CoordinatorLoadInProgressError",
    "CoordinatorNotAvailableError",
    "CorruptRecordError",
    "DelegationTokenAuthorizationError",
    "DelegationTokenDisabledError",
    "DelegationTokenExpiredError",
    "DelegationTokenNotFoundError",
    "DelegationTokenOwnerMismatchError",
    "DuplicateBrokerRegistrationError",
    "DuplicateResourceError",
    "DuplicateSequenceError",
    "DuplicateVoterError",
    "ElectionNotNeededError",
    "EligibleLeadersNotAvailableError",
    "FeatureUpdateFailedError",
    "FencedInstanceIdError",
    "FencedLeaderEpochError",
    "FencedMemberEpochError",
    "FencedStateEpochError",
    "FetchSessionIdNotFoundError",
    "FetchSessionTopicIdError",
    "GroupAuthorizationError",
    "GroupIdNotFoundError",
    "GroupMaxSizeReachedError",
    "GroupNotEmptyError",
    "GroupSubscribedToTopicError",
    "IllegalGenerationError",
    "IllegalSaslStateError",
    "IllegalStateError",
    "InconsistentClusterIdError",
    "InconsistentGroupProtocolError",
    "InconsistentTopicIdError",
    "InconsistentVoterSetError",
    "IneligibleReplicaError",
    "InvalidCommitOffsetSizeError",
    "InvalidConfigurationError",
    "InvalidFetchSessionEpochError",
    "InvalidFetchSizeError",
    "InvalidGroupIdError",
    "InvalidPartitionsError",
    "InvalidPidMappingError",
    "InvalidPrincipalTypeError",
    "InvalidProducerEpochError",
    "InvalidRecordError",
    "InvalidRecordStateError",
    "InvalidRegistrationError",
    "InvalidRegularExpressionError",
    "InvalidReplicaAssignmentError",
    "InvalidReplicationFactorError",
    "InvalidRequestError",
    "InvalidRequiredAcksError",
    "InvalidSessionTimeoutError",
    "InvalidShareSessionEpochError",
    "InvalidTimestampError",
    "InvalidTopicError",
    "InvalidTxnStateError",
    "InvalidTxnTimeoutError",
    "InvalidUpdateVersionError",
    "InvalidVoterKeyError",
    "KafkaError",
    "KafkaStorageError",
    "LeaderNotAvailableError",
    "ListenerNotFoundError",
    "LogDirNotFoundError",
    "MemberIdRequiredError",
    "MismatchedEndpointTypeError",
    "NetworkError",
    "NewLeaderElectedError",
    "NoOffsetForPartitionError",
    "NoReassignmentInProgressError",
    "NotControllerError",
    "NotCoordinatorError",
    "NotEnoughReplicasAfterAppendError",
    "NotEnoughReplicasError",
    "NotLeaderOrFollowerError",
    "OffsetMetadataTooLargeError",
    "OffsetMovedToTieredStorageError",
    "OffsetNotAvailableError",
    "OffsetOutOfRangeError",
    "OperationNotAttemptedError",
    "OutOfOrderSequenceError",
    "PolicyViolationError",
    "PositionOutOfRangeError",
    "PreferredLeaderNotAvailableError",
    "PrincipalDeserializationError",
    "ProducerFencedError",
    "ReassignmentInProgressError",
    "RebalanceInProgressError",
    "RebootstrapRequiredError",
    "RecordBatchTooLargeError",
    "RecordTooLargeError",
    "ReplicaNotAvailableError",
    "RequestTimedOutError",
    "ResourceNotFoundError",
    "RetriableError",
    "SaslAuthenticationError",
    "SecurityDisabledError",
    "ShareSessionLimitReachedError",
    "ShareSessionNotFoundError",
    "SnapshotNotFoundError",
    "StaleBrokerEpochError",
    "StaleMemberEpochError",
    "StreamsInvalidTopologyEpochError",
    "StreamsInvalidTopologyError",
    "StreamsTopologyFencedError",
    "TelemetryTooLargeError",
    "ThrottlingQuotaExceededError",
    "TopicAuthorizationError",
    "TopicDeletionDisabledError",
    "TopicExistsError",
    "TransactionAbortableError",
    "TransactionCoordinatorFencedError",
    "TransactionalIdAuthorizationError",
    "TransactionalIdNotFoundError",
    "UnacceptableCredentialError",
    "UnknownControllerIdError",
    "UnknownErrorCode",
    "UnknownLeaderEpochError",
    "UnknownMemberIdError",
    "UnknownProducerIdError",
    "UnknownServerError",
    "UnknownSubscriptionIdError",
    "UnknownTopicIdError",
    "UnknownTopicOrPartitionError",
    "UnreleasedInstanceIdError",
    "UnstableOffsetCommitError",
    "UnsupportedAssignorError",
    "UnsupportedByAuthenticationError",
    "UnsupportedCompressionTypeError",
    "UnsupportedEndpointTypeError",
    "UnsupportedForMessageFormatError",
    "UnsupportedSaslMechanismError",
    "UnsupportedVersionError",
    "VoterNotFoundError",
    "WakeupError",
    "error_classes",
    "error_for_code",
    "raise_for_code",
]


_BY_CODE: dict[int, type[KafkaError]] = {}
_UNKNOWN: dict[int, type[UnknownErrorCode]] = {}


class KafkaError(Exception):
    """
    An error the Kafka protocol can carry as an error code.

    Raising C{KafkaError} itself stands for C{UNKNOWN_SERVER_ERROR}: that is the code a
    broker sends for an error it has no more specific code for.

    @cvar code: the error code on the wire.
    @cvar name: Kafka's name for the code, such as C{"NOT_LEADER_OR_FOLLOWER"}.
    @cvar retriable: whether the same request may succeed if sent again.
    @ivar message: the detail given when the error was raised, or C{None}.
    """

    code: ClassVar[int] = -1
    name: ClassVar[str] = "UNKNOWN_SERVER_ERROR"
    retriable: ClassVar[bool] = False

    def __init_subclass__(
        cls, *, code: int | None = None, name: str | None = None, **kwargs: object
    ) -> None:
        """
        Register a subclass that declares its code in the table of L{error_for_code}.

        @param code: the wire code this class stands for, or C{None} for an
            intermediate class that adds no code of its own.
        @param name: Kafka's name for the code; required with C{code}.
        @raise ValueError: if the code is already taken or C{name} is missing.
        """
        super().__init_subclass__(**kwargs)
        if code is None:
            return
        if name is None:
            raise ValueError(f"{cls.__name__} declares code {code} without a name")
        if code in _BY_CODE:
            taken = _BY_CODE[code].__name__
            raise ValueError(f"code {code} already belongs to {taken}")
        cls.code = code
        cls.name = name
        _BY_CODE[code] = cls

    def __init__(self, message: str | None = None) -> None:
        """
        @param message: what went wrong, in words, if there is more to say than the
            error's name.
        """
        super().__init__(*(() if message is None else (message,)))
        self.message = message

    def __str__(self) -> str:
        if self.message is None:
            return self.name
        return f"{self.name}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class RetriableError(KafkaError):
    """
    A L{KafkaError} after which the same request may succeed if sent again, usually
    after refreshing metadata or backing off.
    """

    retriable = True


class UnknownErrorCode(KafkaError):
    """
    The base of the classes L{error_for_code} makes for codes this table does not
    know, such as codes added to Kafka after this release. Each such class still
    carries its code; its name is C{"UNKNOWN_ERROR_CODE_<code>"}.
    """

    def __reduce__(self) -> tuple[object, tuple[int, str | None]]:
        # The classes are made at run time, so pickle them by code, not by name.
        return _unknown_error, (self.code, self.message)


def _unknown_error(code: int, message: str | None) -> KafkaError:
    return error_for_code(code)(message)


def error_for_code(code: int) -> type[KafkaError]:
    """
    Find the exception class for a Kafka error code.

    @param code: a non-zero error code as read from the wire.
    @return: the class for C{code}. For a code this table does not know, a subclass of
        L{UnknownErrorCode} carrying C{code} (the same class on every call).
    @raise ValueError: if C{code} is 0, which means success.
    """
    try:
        return _BY_CODE[code]
    except KeyError:
        pass
    if code == 0:
        raise ValueError("error code 0 (NONE) means success and has no exception")
    try:
        return _UNKNOWN[code]
    except KeyError:
        pass

    def body(namespace: dict[str, object]) -> None:
        namespace["code"] = code
        namespace["name"] = f"UNKNOWN_ERROR_CODE_{code}"
        namespace["__module__"] = __name__

    made = types.new_class(f"UnknownErrorCode{code}", (UnknownErrorCode,), None, body)
    return _UNKNOWN.setdefault(code, made)


def raise_for_code(code: int, message: str | None = None) -> None:
    """
    Raise the exception for a Kafka error code, or do nothing if it is 0.

    @param code: an error code as read from the wire.
    @param message: the error message the peer sent with the code, if any.
    @raise KafkaError: the subclass for C{code}, unless it is 0.
    """
    if code != 0:
        _raise(error_for_code(code), message)


def _raise(error: type[KafkaError], message: str | None) -> NoReturn:
    raise error(message)


def error_classes() -> Mapping[int, type[KafkaError]]:
    """
    @return: a read-only view of every known error code and its class.
    """
    return types.MappingProxyType(_BY_CODE)


# One class per error code, in code order.


class UnknownServerError(KafkaError, code=-1, name="UNKNOWN_SERVER_ERROR"):
    """The broker hit an unexpected failure while handling the request."""


class OffsetOutOfRangeError(KafkaError, code=1, name="OFFSET_OUT_OF_RANGE"):
    """The requested offset lies outside the range the partition holds."""


class CorruptRecordError(RetriableError, code=2, name="CORRUPT_MESSAGE"):
    """A record or batch failed its CRC check, is oversized or is otherwise damaged."""


class UnknownTopicOrPartitionError(
    RetriableError, code=3, name="UNKNOWN_TOPIC_OR_PARTITION"
):
    """This broker does not host the requested topic-partition."""


class InvalidFetchSizeError(KafkaError, code=4, name="INVALID_FETCH_SIZE"):
    """The fetch asked for an invalid number of bytes."""


class LeaderNotAvailableError(RetriableError, code=5, name="LEADER_NOT_AVAILABLE"):
    """The partition has no leader at the moment, usually during an election."""


class NotLeaderOrFollowerError(RetriableError, code=6, name="NOT_LEADER_OR_FOLLOWER"):
    """This broker is not the leader (or not a replica) of the partition."""


class RequestTimedOutError(RetriableError, code=7, name="REQUEST_TIMED_OUT"):
    """The broker gave up on the request before it could complete."""


class BrokerNotAvailableError(KafkaError, code=8, name="BROKER_NOT_AVAILABLE"):
    """The broker is not available."""


class ReplicaNotAvailableError(RetriableError, code=9, name="REPLICA_NOT_AVAILABLE"):
    """The replica is not available for the requested topic-partition."""


class RecordTooLargeError(KafkaError, code=10, name="MESSAGE_TOO_LARGE"):
    """A record or batch is larger than the broker accepts."""


class ControllerMovedError(KafkaError, code=11, name="STALE_CONTROLLER_EPOCH"):
    """The controller is now another broker."""


class OffsetMetadataTooLargeError(
    KafkaError, code=12, name="OFFSET_METADATA_TOO_LARGE"
):
    """The metadata string of an offset commit is too long."""


class NetworkError(RetriableError, code=13, name="NETWORK_EXCEPTION"):
    """The connection closed before the response arrived."""


class CoordinatorLoadInProgressError(
    RetriableError, code=14, name="COORDINATOR_LOAD_IN_PROGRESS"
):
    """The coordinator is still loading its state."""


class CoordinatorNotAvailableError(
    RetriableError, code=15, name="COORDINATOR_NOT_AVAILABLE"
):
    """No coordinator is available for the group or transaction."""


class NotCoordinatorError(RetriableError, code=16, name="NOT_COORDINATOR"):
    """This broker is not the coordinator for the group or transaction."""


class InvalidTopicError(KafkaError, code=17, name="INVALID_TOPIC_EXCEPTION"):
    """The topic name is invalid or the operation is not allowed on it."""


class RecordBatchTooLargeError(KafkaError, code=18, name="RECORD_LIST_TOO_LARGE"):
    """A batch is larger than the log segment size."""


class NotEnoughReplicasError(RetriableError, code=19, name="NOT_ENOUGH_REPLICAS"):
    """Fewer replicas are in sync than the topic requires; nothing was written."""


class NotEnoughReplicasAfterAppendError(
    RetriableError, code=20, name="NOT_ENOUGH_REPLICAS_AFTER_APPEND"
):
    """The records were written, but to fewer in-sync replicas than required."""


class InvalidRequiredAcksError(KafkaError, code=21, name="INVALID_REQUIRED_ACKS"):
    """The produce request named an acks value the broker does not accept."""


class IllegalGenerationError(KafkaError, code=22, name="ILLEGAL_GENERATION"):
    """The group generation id is not the current one."""


class InconsistentGroupProtocolError(
    KafkaError, code=23, name="INCONSISTENT_GROUP_PROTOCOL"
):
    """The member's protocols do not match those of the group."""


class InvalidGroupIdError(KafkaError, code=24, name="INVALID_GROUP_ID"):
    """The group id is invalid."""


class UnknownMemberIdError(KafkaError, code=25, name="UNKNOWN_MEMBER_ID"):
    """The coordinator does not know this member id."""


class InvalidSessionTimeoutError(KafkaError, code=26, name="INVALID_SESSION_TIMEOUT"):
    """The session timeout lies outside the range the broker allows."""


class RebalanceInProgressError(KafkaError, code=27, name="REBALANCE_IN_PROGRESS"):
    """The group is rebalancing; the member should rejoin."""


class InvalidCommitOffsetSizeError(
    KafkaError, code=28, name="INVALID_COMMIT_OFFSET_SIZE"
):
    """The offset commit was rejected because of its size."""


class TopicAuthorizationError(KafkaError, code=29, name="TOPIC_AUTHORIZATION_FAILED"):
    """The principal may not access the topic."""


class GroupAuthorizationError(KafkaError, code=30, name="GROUP_AUTHORIZATION_FAILED"):
    """The principal may not access the group."""


class ClusterAuthorizationError(
    KafkaError, code=31, name="CLUSTER_AUTHORIZATION_FAILED"
):
    """The principal may not perform the cluster operation."""


class InvalidTimestampError(KafkaError, code=32, name="INVALID_TIMESTAMP"):
    """A record timestamp lies outside the accepted range."""


class UnsupportedSaslMechanismError(
    KafkaError, code=33, name="UNSUPPORTED_SASL_MECHANISM"
):
    """The broker does not offer the requested SASL mechanism."""


class IllegalSaslStateError(KafkaError, code=34, name="ILLEGAL_SASL_STATE"):
    """The request is not valid in the current SASL exchange."""


class UnsupportedVersionError(KafkaError, code=35, name="UNSUPPORTED_VERSION"):
    """The peer does not support the requested API version."""


class TopicExistsError(KafkaError, code=36, name="TOPIC_ALREADY_EXISTS"):
    """A topic of that name already exists."""


class InvalidPartitionsError(KafkaError, code=37, name="INVALID_PARTITIONS"):
    """The number of partitions is invalid."""


class InvalidReplicationFactorError(
    KafkaError, code=38, name="INVALID_REPLICATION_FACTOR"
):
    """The replication factor is invalid."""


class InvalidReplicaAssignmentError(
    KafkaError, code=39, name="INVALID_REPLICA_ASSIGNMENT"
):
    """The replica assignment is invalid."""


class InvalidConfigurationError(KafkaError, code=40, name="INVALID_CONFIG"):
    """A configuration value is invalid."""


class NotControllerError(RetriableError, code=41, name="NOT_CONTROLLER"):
    """This broker is not the controller."""


class InvalidRequestError(KafkaError, code=42, name="INVALID_REQUEST"):
    """The request is malformed or breaks the API's rules."""


class UnsupportedForMessageFormatError(
    KafkaError, code=43, name="UNSUPPORTED_FOR_MESSAGE_FORMAT"
):
    """The topic's message format does not support the request."""


class PolicyViolationError(KafkaError, code=44, name="POLICY_VIOLATION"):
    """The request was rejected by a broker policy."""


class OutOfOrderSequenceError(KafkaError, code=45, name="OUT_OF_ORDER_SEQUENCE_NUMBER"):
    """The broker received a producer sequence number out of order."""


class DuplicateSequenceError(KafkaError, code=46, name="DUPLICATE_SEQUENCE_NUMBER"):
    """The broker already holds a batch with this sequence number."""


class InvalidProducerEpochError(KafkaError, code=47, name="INVALID_PRODUCER_EPOCH"):
    """The producer epoch is stale or otherwise invalid."""


class InvalidTxnStateError(KafkaError, code=48, name="INVALID_TXN_STATE"):
    """The request is not valid in the transaction's current state."""


class InvalidPidMappingError(KafkaError, code=49, name="INVALID_PRODUCER_ID_MAPPING"):
    """The producer id does not match the transactional id."""


class InvalidTxnTimeoutError(KafkaError, code=50, name="INVALID_TRANSACTION_TIMEOUT"):
    """The transaction timeout exceeds the broker's maximum."""


class ConcurrentTransactionsError(
    RetriableError, code=51, name="CONCURRENT_TRANSACTIONS"
):
    """Another operation on the same transaction is still running."""


class TransactionCoordinatorFencedError(
    KafkaError, code=52, name="TRANSACTION_COORDINATOR_FENCED"
):
    """A newer transaction coordinator has replaced this one."""


class TransactionalIdAuthorizationError(
    KafkaError, code=53, name="TRANSACTIONAL_ID_AUTHORIZATION_FAILED"
):
    """The principal may not use the transactional id."""


class SecurityDisabledError(KafkaError, code=54, name="SECURITY_DISABLED"):
    """Security features are disabled on the broker."""


class OperationNotAttemptedError(KafkaError, code=55, name="OPERATION_NOT_ATTEMPTED"):
    """The broker skipped this operation because another part of the request failed."""


class KafkaStorageError(RetriableError, code=56, name="KAFKA_STORAGE_ERROR"):
    """The broker could not access the log directory holding the partition."""


class LogDirNotFoundError(KafkaError, code=57, name="LOG_DIR_NOT_FOUND"):
    """The requested log directory does not exist."""


class SaslAuthenticationError(KafkaError, code=58, name="SASL_AUTHENTICATION_FAILED"):
    """SASL authentication failed."""


class UnknownProducerIdError(KafkaError, code=59, name="UNKNOWN_PRODUCER_ID"):
    """The broker holds no state for this producer id."""


class ReassignmentInProgressError(KafkaError, code=60, name="REASSIGNMENT_IN_PROGRESS"):
    """A partition reassignment is already running."""


class DelegationTokenDisabledError(
    KafkaError, code=61, name="DELEGATION_TOKEN_AUTH_DISABLED"
):
    """Delegation tokens are disabled."""


class DelegationTokenNotFoundError(
    KafkaError, code=62, name="DELEGATION_TOKEN_NOT_FOUND"
):
    """The delegation token does not exist."""


class DelegationTokenOwnerMismatchError(
    KafkaError, code=63, name="DELEGATION_TOKEN_OWNER_MISMATCH"
):
    """The principal does not own the delegation token."""


class UnsupportedByAuthenticationError(
    KafkaError, code=64, name="DELEGATION_TOKEN_REQUEST_NOT_ALLOWED"
):
    """Delegation token requests are refused on this kind of connection."""


class DelegationTokenAuthorizationError(
    KafkaError, code=65, name="DELEGATION_TOKEN_AUTHORIZATION_FAILED"
):
    """The principal may not perform the delegation token operation."""


class DelegationTokenExpiredError(KafkaError, code=66, name="DELEGATION_TOKEN_EXPIRED"):
    """The delegation token has expired."""


class InvalidPrincipalTypeError(KafkaError, code=67, name="INVALID_PRINCIPAL_TYPE"):
    """The principal type is not supported."""


class GroupNotEmptyError(KafkaError, code=68, name="NON_EMPTY_GROUP"):
    """The group still has members."""


class GroupIdNotFoundError(KafkaError, code=69, name="GROUP_ID_NOT_FOUND"):
    """The group does not exist."""


class FetchSessionIdNotFoundError(
    RetriableError, code=70, name="FETCH_SESSION_ID_NOT_FOUND"
):
    """The broker does not know the fetch session id."""


class InvalidFetchSessionEpochError(
    RetriableError, code=71, name="INVALID_FETCH_SESSION_EPOCH"
):
    """The fetch session epoch is not the expected one."""


class ListenerNotFoundError(RetriableError, code=72, name="LISTENER_NOT_FOUND"):
    """The leader has no endpoint for the listener the request came in on."""


class TopicDeletionDisabledError(KafkaError, code=73, name="TOPIC_DELETION_DISABLED"):
    """Topic deletion is disabled on the broker."""


class FencedLeaderEpochError(RetriableError, code=74, name="FENCED_LEADER_EPOCH"):
    """The request's leader epoch is older than the broker's."""


class UnknownLeaderEpochError(RetriableError, code=75, name="UNKNOWN_LEADER_EPOCH"):
    """The request's leader epoch is newer than the broker's."""


class UnsupportedCompressionTypeError(
    KafkaError, code=76, name="UNSUPPORTED_COMPRESSION_TYPE"
):
    """The broker or the message format does not support the compression type."""


class StaleBrokerEpochError(KafkaError, code=77, name="STALE_BROKER_EPOCH"):
    """The broker epoch is stale."""


class OffsetNotAvailableError(RetriableError, code=78, name="OFFSET_NOT_AVAILABLE"):
    """The leader's high watermark has not yet reached the requested offset."""


class MemberIdRequiredError(KafkaError, code=79, name="MEMBER_ID_REQUIRED"):
    """The member must rejoin with the member id the coordinator assigned."""


class PreferredLeaderNotAvailableError(
    RetriableError, code=80, name="PREFERRED_LEADER_NOT_AVAILABLE"
):
    """The preferred leader is not available."""


class GroupMaxSizeReachedError(KafkaError, code=81, name="GROUP_MAX_SIZE_REACHED"):
    """The group is already at its maximum number of members."""


class FencedInstanceIdError(KafkaError, code=82, name="FENCED_INSTANCE_ID"):
    """Another member with the same group instance id has replaced this one."""


class EligibleLeadersNotAvailableError(
    RetriableError, code=83, name="ELIGIBLE_LEADERS_NOT_AVAILABLE"
):
    """No replica is eligible to become leader."""


class ElectionNotNeededError(RetriableError, code=84, name="ELECTION_NOT_NEEDED"):
    """The partition already has the wanted leader."""


class NoReassignmentInProgressError(
    KafkaError, code=85, name="NO_REASSIGNMENT_IN_PROGRESS"
):
    """No partition reassignment is running."""


class GroupSubscribedToTopicError(
    KafkaError, code=86, name="GROUP_SUBSCRIBED_TO_TOPIC"
):
    """The group still subscribes to the topic, so its offsets cannot be deleted."""


class InvalidRecordError(KafkaError, code=87, name="INVALID_RECORD"):
    """A record failed the broker's validation."""


class UnstableOffsetCommitError(RetriableError, code=88, name="UNSTABLE_OFFSET_COMMIT"):
    """The partition has offsets of a pending transaction; retry later."""


class ThrottlingQuotaExceededError(
    RetriableError, code=89, name="THROTTLING_QUOTA_EXCEEDED"
):
    """The request would exceed the throttling quota."""


class ProducerFencedError(KafkaError, code=90, name="PRODUCER_FENCED"):
    """A newer producer with the same transactional id has fenced this one."""


class ResourceNotFoundError(KafkaError, code=91, name="RESOURCE_NOT_FOUND"):
    """The requested resource does not exist."""


class DuplicateResourceError(KafkaError, code=92, name="DUPLICATE_RESOURCE"):
    """The request names the same resource more than once."""


class UnacceptableCredentialError(KafkaError, code=93, name="UNACCEPTABLE_CREDENTIAL"):
    """The credential does not meet the broker's requirements."""


class InconsistentVoterSetError(KafkaError, code=94, name="INCONSISTENT_VOTER_SET"):
    """The voter set of the quorum does not agree with the request."""


class InvalidUpdateVersionError(KafkaError, code=95, name="INVALID_UPDATE_VERSION"):
    """The update version is invalid."""


class FeatureUpdateFailedError(KafkaError, code=96, name="FEATURE_UPDATE_FAILED"):
    """The broker could not apply the feature update."""


class PrincipalDeserializationError(
    KafkaError, code=97, name="PRINCIPAL_DESERIALIZATION_FAILURE"
):
    """The broker could not deserialize the forwarded principal."""


class SnapshotNotFoundError(KafkaError, code=98, name="SNAPSHOT_NOT_FOUND"):
    """The requested snapshot does not exist."""


class PositionOutOfRangeError(KafkaError, code=99, name="POSITION_OUT_OF_RANGE"):
    """The requested position lies outside the snapshot."""


class UnknownTopicIdError(RetriableError, code=100, name="UNKNOWN_TOPIC_ID"):
    """This broker does not know the topic id."""


class DuplicateBrokerRegistrationError(
    KafkaError, code=101, name="DUPLICATE_BROKER_REGISTRATION"
):
    """A broker with this id is already registered."""


class BrokerIdNotRegisteredError(KafkaError, code=102, name="BROKER_ID_NOT_REGISTERED"):
    """No broker with this id is registered."""


class InconsistentTopicIdError(RetriableError, code=103, name="INCONSISTENT_TOPIC_ID"):
    """The topic id does not match the broker's record of the topic."""


class InconsistentClusterIdError(KafkaError, code=104, name="INCONSISTENT_CLUSTER_ID"):
    """The cluster id does not match this cluster."""


class TransactionalIdNotFoundError(
    KafkaError, code=105, name="TRANSACTIONAL_ID_NOT_FOUND"
):
    """The transactional id does not exist."""


class FetchSessionTopicIdError(
    RetriableError, code=106, name="FETCH_SESSION_TOPIC_ID_ERROR"
):
    """The fetch session met a topic id problem."""


class IneligibleReplicaError(KafkaError, code=107, name="INELIGIBLE_REPLICA"):
    """The proposed replica is not eligible for the ISR."""


class NewLeaderElectedError(KafkaError, code=108, name="NEW_LEADER_ELECTED"):
    """A new leader was elected while the partition change was pending."""


class OffsetMovedToTieredStorageError(
    KafkaError, code=109, name="OFFSET_MOVED_TO_TIERED_STORAGE"
):
    """The offset now lives only in tiered storage."""


class FencedMemberEpochError(KafkaError, code=110, name="FENCED_MEMBER_EPOCH"):
    """The member epoch is fenced; the member must rejoin with epoch zero."""


class UnreleasedInstanceIdError(KafkaError, code=111, name="UNRELEASED_INSTANCE_ID"):
    """The group instance id is still held by another member."""


class UnsupportedAssignorError(KafkaError, code=112, name="UNSUPPORTED_ASSIGNOR"):
    """The group coordinator does not offer the requested assignor."""


class StaleMemberEpochError(KafkaError, code=113, name="STALE_MEMBER_EPOCH"):
    """The member epoch is stale."""


class MismatchedEndpointTypeError(
    KafkaError, code=114, name="MISMATCHED_ENDPOINT_TYPE"
):
    """The request went to an endpoint of the wrong type."""


class UnsupportedEndpointTypeError(
    KafkaError, code=115, name="UNSUPPORTED_ENDPOINT_TYPE"
):
    """The endpoint type does not support this request."""


class UnknownControllerIdError(KafkaError, code=116, name="UNKNOWN_CONTROLLER_ID"):
    """No controller with this id is known."""


class UnknownSubscriptionIdError(KafkaError, code=117, name="UNKNOWN_SUBSCRIPTION_ID"):
    """The client telemetry subscription id is unknown."""


class TelemetryTooLargeError(KafkaError, code=118, name="TELEMETRY_TOO_LARGE"):
    """The client telemetry payload is too large."""


class InvalidRegistrationError(KafkaError, code=119, name="INVALID_REGISTRATION"):
    """The controller rejected the broker registration."""


class TransactionAbortableError(KafkaError, code=120, name="TRANSACTION_ABORTABLE"):
    """The transaction failed but can be aborted and retried."""


class InvalidRecordStateError(KafkaError, code=121, name="INVALID_RECORD_STATE"):
    """The record is not in a state that allows the share acknowledgement."""


class ShareSessionNotFoundError(
    RetriableError, code=122, name="SHARE_SESSION_NOT_FOUND"
):
    """The broker does not know the share session."""


class InvalidShareSessionEpochError(
    RetriableError, code=123, name="INVALID_SHARE_SESSION_EPOCH"
):
    """The share session epoch is not the expected one."""


class FencedStateEpochError(KafkaError, code=124, name="FENCED_STATE_EPOCH"):
    """The share-group state epoch is fenced."""


class InvalidVoterKeyError(KafkaError, code=125, name="INVALID_VOTER_KEY"):
    """The voter key does not match the receiving replica."""


class DuplicateVoterError(KafkaError, code=126, name="DUPLICATE_VOTER"):
    """The voter is already part of the voter set."""


class VoterNotFoundError(KafkaError, code=127, name="VOTER_NOT_FOUND"):
    """The voter is not part of the voter set."""


class InvalidRegularExpressionError(
    KafkaError, code=128, name="INVALID_REGULAR_EXPRESSION"
):
    """The regular expression is not valid."""


class RebootstrapRequiredError(KafkaError, code=129, name="REBOOTSTRAP_REQUIRED"):
    """The client must rebootstrap its metadata from the bootstrap servers."""


class StreamsInvalidTopologyError(
    KafkaError, code=130, name="STREAMS_INVALID_TOPOLOGY"
):
    """The streams topology is invalid."""


class StreamsInvalidTopologyEpochError(
    KafkaError, code=131, name="STREAMS_INVALID_TOPOLOGY_EPOCH"
):
    """The streams topology epoch is invalid."""


class StreamsTopologyFencedError(KafkaError, code=132, name="STREAMS_TOPOLOGY_FENCED"):
    """The streams topology is fenced by a newer epoch."""


class ShareSessionLimitReachedError(
    RetriableError, code=133, name="SHARE_SESSION_LIMIT_REACHED"
):
    """The broker has reached its limit of share sessions."""


# Errors the client raises itself, with no wire code of their own.


class IllegalStateError(KafkaError):
    """
    The client was used in a state that does not allow the call, such as sending
    with a producer that was closed. It has no wire code (C{code} is -1).
    """

    name = "ILLEGAL_STATE"


class WakeupError(KafkaError):
    """
    A consumer's C{wakeup()} was called: the C{poll} (or other blocking call) it
    interrupted, or the next one, raises this so that the application can close
    the consumer. It has no wire code (C{code} is -1).
    """

    name = "WAKEUP"


class CommitFailedError(KafkaError):
    """
    An offset commit cannot succeed: the consumer was no longer a member of its
    group's current generation (it was too slow between polls, or the group
    rebalanced), so its partitions may now belong to another member. It has no
    wire code (C{code} is -1).
    """

    name = "COMMIT_FAILED"


class NoOffsetForPartitionError(KafkaError):
    """
    A partition has no committed offset and C{auto.offset.reset} is C{none}, so
    the consumer does not know where to start. It has no wire code (C{code} is
    -1).

    @ivar partitions: the partitions without an offset.
    """

    name = "NO_OFFSET_FOR_PARTITION"

    def __init__(
        self, message: str | None = None, partitions: Iterable[object] = ()
    ) -> None:
        """
        @param message: the detail.
        @param partitions: the partitions without an offset.
        """
        super().__init__(message)
        self.partitions = frozenset(partitions)
