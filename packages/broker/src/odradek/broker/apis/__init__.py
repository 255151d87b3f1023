"""
The broker's request handlers, one module per API family, and the registry through
which the server finds them.

A handler turns a decoded request into a response by calling the layers below it; it
holds no state of its own. See L{odradek.broker.apis.registry} for what handlers
return and L{odradek.broker.apis.errors} for how their failures are answered.
"""

from odradek.broker.apis.api_versions import (
    ApiVersionsHandler,
    FinalizedFeature,
    SupportedFeature,
    register_api_versions,
)
from odradek.broker.apis.context import ANONYMOUS, ConnectionInfo, RequestContext
from odradek.broker.apis.errors import build_error_response, generic_error_response
from odradek.broker.apis.registry import (
    CLOSE_CONNECTION,
    NO_RESPONSE,
    PRODUCE_ADVERTISED_MIN_VERSION,
    ApiEntry,
    ErrorResponder,
    Handler,
    HandlerRegistry,
    HandlerResult,
    Outcome,
    ResponseAction,
    UnsupportedVersionResponder,
)

__all__ = [
    "ANONYMOUS",
    "CLOSE_CONNECTION",
    "NO_RESPONSE",
    "PRODUCE_ADVERTISED_MIN_VERSION",
    "ApiEntry",
    "ApiVersionsHandler",
    "ConnectionInfo",
    "ErrorResponder",
    "FinalizedFeature",
    "Handler",
    "HandlerRegistry",
    "HandlerResult",
    "Outcome",
    "RequestContext",
    "ResponseAction",
    "SupportedFeature",
    "UnsupportedVersionResponder",
    "build_error_response",
    "build_registry",
    "generic_error_response",
    "register_api_versions",
]

# Imported last: it imports every handler module, and they import the modules above.
from odradek.broker.apis._build import build_registry
