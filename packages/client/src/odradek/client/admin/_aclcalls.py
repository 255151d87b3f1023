"""
The admin core's ACL calls, built on the sans-IO module
L{odradek.client.admin.acls}: C{create_acls}, C{describe_acls} and
C{delete_acls}, each sent to the least loaded broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from twisted.internet.defer import Deferred

from odradek.client.admin import acls
from odradek.client.admin._base import AdminCoreBase
from odradek.client.admin._calls import CallContext, Outcomes, run_batch, run_once
from odradek.client.admin.results import ItemResults
from odradek.client.protocol import ApiKey

__all__ = ["AclCalls"]

#: The ACL version the arguments are checked against before anything is sent.
_CHECK_VERSION = 3


class AclCalls(AdminCoreBase):
    """The ACL calls."""

    def create_acls(
        self, bindings: Iterable[acls.AclBinding], timeout: float | None = None
    ) -> Deferred[ItemResults[acls.AclBinding, None]]:
        """
        Create ACLs.

        @param bindings: the ACLs.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each binding's outcome: C{None} or its error.
        @raise ValueError: for an item that is not an L{AclBinding
            <odradek.client.admin.acls.AclBinding>}, or one Kafka refuses to send.
        """
        wanted = list(dict.fromkeys(bindings))
        for binding in wanted:
            if not isinstance(binding, acls.AclBinding):
                raise ValueError(f"not an AclBinding: {binding!r}")
        if not wanted:
            return self._empty(ItemResults.of((), {}))
        # Refuse bad bindings before anything is sent.
        acls.create_acls_request(_CHECK_VERSION, wanted)

        async def body(context: CallContext) -> ItemResults[acls.AclBinding, None]:
            outcomes: Outcomes[acls.AclBinding, None] = Outcomes(wanted)
            await run_batch(
                context,
                outcomes,
                self._connect_least_loaded(context),
                lambda connection, pending: acls.create_acls_request(
                    connection.version_for(ApiKey.CREATE_ACLS), list(pending)
                ),
                lambda response: acls.parse_create_acls(response, wanted),
            )
            return outcomes.results()

        return self._call("createAcls", timeout, body)

    def describe_acls(
        self, acl_filter: acls.AclBindingFilter, timeout: float | None = None
    ) -> Deferred[list[acls.AclBinding]]:
        """
        Find the ACLs a filter matches.

        @param acl_filter: the filter (C{AclBindingFilter.ANY} for all).
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of the bindings, or failing with the broker's error
            (such as L{SecurityDisabledError<errors.SecurityDisabledError>}).
        @raise ValueError: for a filter Kafka refuses to send.
        """
        if not isinstance(acl_filter, acls.AclBindingFilter):
            raise ValueError(f"not an AclBindingFilter: {acl_filter!r}")
        acls.describe_acls_request(_CHECK_VERSION, acl_filter)

        async def attempt(context: CallContext) -> list[acls.AclBinding]:
            connection = await self._least_loaded(context)
            request = acls.describe_acls_request(
                connection.version_for(ApiKey.DESCRIBE_ACLS), acl_filter
            )
            response: Any = await context.wait(
                connection.send(request, timeout_ms=context.response_timeout_ms())
            )
            return acls.parse_describe_acls(response)

        async def body(context: CallContext) -> list[acls.AclBinding]:
            return await run_once(context, lambda: attempt(context))

        return self._call("describeAcls", timeout, body)

    def delete_acls(
        self, filters: Iterable[acls.AclBindingFilter], timeout: float | None = None
    ) -> Deferred[ItemResults[acls.AclBindingFilter, acls.FilterResults]]:
        """
        Delete the ACLs that filters match.

        @param filters: the filters.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each filter's matches (deleted or not), or its
            error.
        @raise ValueError: for a filter Kafka refuses to send.
        """
        wanted = list(dict.fromkeys(filters))
        for acl_filter in wanted:
            if not isinstance(acl_filter, acls.AclBindingFilter):
                raise ValueError(f"not an AclBindingFilter: {acl_filter!r}")
        if not wanted:
            return self._empty(ItemResults.of((), {}))
        acls.delete_acls_request(_CHECK_VERSION, wanted)

        async def body(
            context: CallContext,
        ) -> ItemResults[acls.AclBindingFilter, acls.FilterResults]:
            outcomes: Outcomes[acls.AclBindingFilter, acls.FilterResults] = Outcomes(
                wanted
            )
            await run_batch(
                context,
                outcomes,
                self._connect_least_loaded(context),
                lambda connection, pending: acls.delete_acls_request(
                    connection.version_for(ApiKey.DELETE_ACLS), list(pending)
                ),
                lambda response: acls.parse_delete_acls(response, wanted),
            )
            return outcomes.results()

        return self._call("deleteAcls", timeout, body)
