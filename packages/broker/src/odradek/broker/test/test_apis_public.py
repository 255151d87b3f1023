"""
The public names of L{odradek.broker.apis}, pinned so that a change to them is
deliberate.
"""

from twisted.trial.unittest import SynchronousTestCase

import odradek.broker.apis


class PublicNamesTests(SynchronousTestCase):
    """
    The package exports exactly the names it documents.
    """

    def test_all(self) -> None:
        """
        C{odradek.broker.apis.__all__} lists the package's public names.
        """
        self.assertEqual(
            sorted(odradek.broker.apis.__all__),
            [
                "ANONYMOUS",
                "ApiEntry",
                "ApiVersionsHandler",
                "CLOSE_CONNECTION",
                "ConnectionInfo",
                "ErrorResponder",
                "FinalizedFeature",
                "Handler",
                "HandlerRegistry",
                "HandlerResult",
                "NO_RESPONSE",
                "Outcome",
                "PRODUCE_ADVERTISED_MIN_VERSION",
                "RequestContext",
                "ResponseAction",
                "SupportedFeature",
                "UnsupportedVersionResponder",
                "build_error_response",
                "build_registry",
                "generic_error_response",
                "register_api_versions",
            ],
        )

    def test_exported(self) -> None:
        """
        Every listed name exists.
        """
        for name in odradek.broker.apis.__all__:
            self.assertTrue(hasattr(odradek.broker.apis, name), name)
