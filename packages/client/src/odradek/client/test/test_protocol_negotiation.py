"""
Tests for L{odradek.client.protocol.negotiation}.
"""

from __future__ import annotations

import datetime

from kio.schema.api_versions.v0.response import ApiVersion as ApiVersionV0
from kio.schema.api_versions.v0.response import (
    ApiVersionsResponse as ApiVersionsResponseV0,
)
from kio.schema.api_versions.v4.response import ApiVersion, ApiVersionsResponse
from kio.schema.errors import ErrorCode
from kio.static.primitive import i16, i32Timedelta
from kio.static.protocol import ResponsePayload
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.protocol import (
    SUPPORTED_VERSIONS,
    ApiKey,
    UnknownApiKeyError,
    UnsupportedVersionError,
    VersionRange,
    decode_response,
    encode_response,
    negotiate,
    pick_version,
)


def _v0_entry(api_key: int, low: int, high: int) -> ApiVersionV0:
    return ApiVersionV0(
        api_key=i16(api_key), min_version=i16(low), max_version=i16(high)
    )


def _entry(api_key: int, low: int, high: int) -> ApiVersion:
    return ApiVersion(api_key=i16(api_key), min_version=i16(low), max_version=i16(high))


class PickVersionTests(SynchronousTestCase):
    """
    L{pick_version} chooses the highest version both sides support.
    """

    def test_highest_common(self) -> None:
        """
        The newest version inside both ranges wins.
        """
        self.assertEqual(
            pick_version(ApiKey.FETCH, VersionRange(0, 12), VersionRange(4, 18)), 12
        )
        self.assertEqual(
            pick_version(ApiKey.FETCH, VersionRange(0, 20), VersionRange(4, 18)), 18
        )

    def test_single_shared_version(self) -> None:
        """
        Ranges touching at one version agree on it.
        """
        self.assertEqual(
            pick_version(ApiKey.PRODUCE, VersionRange(0, 3), VersionRange(3, 13)), 3
        )

    def test_default_is_supported_range(self) -> None:
        """
        Without C{ours}, the range from SUPPORTED_VERSIONS is used.
        """
        self.assertEqual(pick_version(ApiKey.PRODUCE, VersionRange(0, 99)), 13)
        self.assertEqual(pick_version(ApiKey.METADATA, VersionRange(0, 4)), 4)

    def test_disjoint(self) -> None:
        """
        Ranges that do not overlap raise UnsupportedVersionError naming both.
        """
        with self.assertRaises(UnsupportedVersionError) as caught:
            pick_version(ApiKey.PRODUCE, VersionRange(0, 2))
        error = caught.exception
        self.assertEqual(error.supported, VersionRange(3, 13))
        self.assertEqual(error.peer, VersionRange(0, 2))
        message = str(error)
        for part in ("PRODUCE", "3 to 13", "0 to 2"):
            self.assertIn(part, message)
        self.assertIsInstance(error, errors.UnsupportedVersionError)

    def test_unknown_api(self) -> None:
        """
        An API Odradek does not serve has no default range.
        """
        self.assertRaises(
            UnknownApiKeyError, pick_version, ApiKey.VOTE, VersionRange(0, 1)
        )

    def test_unknown_api_with_ours(self) -> None:
        """
        With an explicit range, any API key can be negotiated.
        """
        self.assertEqual(
            pick_version(ApiKey.VOTE, VersionRange(0, 2), VersionRange(0, 1)), 1
        )


_NO_THROTTLE = i32Timedelta.parse(datetime.timedelta(0))


def _broker_answer(
    response: ResponsePayload, version: int
) -> ApiVersionsResponse | ApiVersionsResponseV0:
    """
    Encode a broker's ApiVersions response and decode it as a client would.
    """
    encoded = encode_response(1, response)
    correlation_id, decoded = decode_response(encoded, ApiKey.API_VERSIONS, version)
    assert correlation_id == 1
    assert isinstance(decoded, ApiVersionsResponse | ApiVersionsResponseV0)
    return decoded


class NegotiateTests(SynchronousTestCase):
    """
    L{negotiate} turns a broker's ApiVersions response into one version per API.
    """

    def _response(self, *entries: tuple[int, int, int]) -> ApiVersionsResponse:
        return ApiVersionsResponse(
            error_code=ErrorCode.none,
            api_keys=tuple(_entry(key, low, high) for key, low, high in entries),
            throttle_time=_NO_THROTTLE,
        )

    def test_decoded_response(self) -> None:
        """
        Versions are chosen from a real, decoded ApiVersions v4 response.
        """
        response = self._response(
            (ApiKey.PRODUCE, 0, 11),
            (ApiKey.FETCH, 4, 30),
            (ApiKey.METADATA, 0, 12),
            (ApiKey.API_VERSIONS, 0, 3),
        )
        self.assertEqual(
            negotiate(_broker_answer(response, 4)),
            {
                ApiKey.PRODUCE: 11,
                ApiKey.FETCH: 18,
                ApiKey.METADATA: 12,
                ApiKey.API_VERSIONS: 3,
            },
        )

    def test_keys_are_api_keys(self) -> None:
        """
        The result is keyed by L{ApiKey} members.
        """
        chosen = negotiate(self._response((0, 3, 9)))
        self.assertEqual([type(key) for key in chosen], [ApiKey])

    def test_unknown_keys_ignored(self) -> None:
        """
        APIs Odradek does not serve, or that Kafka does not define, are left out.
        """
        chosen = negotiate(
            self._response((ApiKey.VOTE, 0, 1), (999, 0, 5), (ApiKey.HEARTBEAT, 0, 4))
        )
        self.assertEqual(chosen, {ApiKey.HEARTBEAT: 4})

    def test_disjoint_left_out(self) -> None:
        """
        An API whose ranges do not overlap is left out, not an error.
        """
        chosen = negotiate(
            self._response((ApiKey.PRODUCE, 0, 2), (ApiKey.JOIN_GROUP, 0, 9))
        )
        self.assertEqual(chosen, {ApiKey.JOIN_GROUP: 9})

    def test_invalid_range_left_out(self) -> None:
        """
        An entry whose range is inverted or negative is left out.
        """
        chosen = negotiate(
            self._response((ApiKey.PRODUCE, 9, 3), (ApiKey.FETCH, -1, 12))
        )
        self.assertEqual(chosen, {})

    def test_everything_we_support(self) -> None:
        """
        A broker supporting every version of everything gets our newest versions.
        """
        response = self._response(*((key, 0, 100) for key in SUPPORTED_VERSIONS))
        self.assertEqual(
            negotiate(response),
            {key: versions.max_version for key, versions in SUPPORTED_VERSIONS.items()},
        )

    def test_version_0_response(self) -> None:
        """
        A decoded version 0 response is negotiated like any other.
        """
        response = ApiVersionsResponseV0(
            error_code=ErrorCode.none,
            api_keys=(_v0_entry(3, 0, 9),),
        )
        self.assertEqual(
            negotiate(_broker_answer(response, 0)),
            {ApiKey.METADATA: 9},
        )

    def test_unsupported_version_answer(self) -> None:
        """
        A version 0 UNSUPPORTED_VERSION answer to a newer request raises Kafka's
        error, and its ApiVersions range tells which version to retry with.
        """
        answer = ApiVersionsResponseV0(
            error_code=ErrorCode.unsupported_version,
            api_keys=(_v0_entry(18, 0, 2),),
        )
        decoded = _broker_answer(answer, 4)
        self.assertRaises(errors.UnsupportedVersionError, negotiate, decoded)
        (entry,) = decoded.api_keys
        retry = pick_version(
            ApiKey.API_VERSIONS, VersionRange(entry.min_version, entry.max_version)
        )
        self.assertEqual(retry, 2)

    def test_other_error(self) -> None:
        """
        Any other error code raises its KafkaError.
        """
        response = ApiVersionsResponse(
            error_code=ErrorCode.cluster_authorization_failed,
            api_keys=(),
            throttle_time=_NO_THROTTLE,
        )
        self.assertRaises(errors.ClusterAuthorizationError, negotiate, response)
