"""
The public names of L{odradek.broker.server}, pinned so that a change to them is
deliberate.
"""

from twisted.trial.unittest import SynchronousTestCase

import odradek.broker.server


class PublicNamesTests(SynchronousTestCase):
    """
    The package exports exactly the names it documents.
    """

    def test_all(self) -> None:
        """
        C{odradek.broker.server.__all__} lists the package's public names.
        """
        self.assertEqual(
            sorted(odradek.broker.server.__all__),
            [
                "ConnectionStats",
                "DEFAULT_IDLE_TIMEOUT_MS",
                "FileRegion",
                "IFileRegion",
                "KafkaServerFactory",
                "KafkaServerProtocol",
                "Region",
                "ResponseParts",
                "ResponseWriter",
                "ServerSettings",
                "can_sendfile",
                "check_supported",
                "encode_response_parts",
                "endpoint_description",
                "listen",
                "records_region",
            ],
        )

    def test_exported(self) -> None:
        """
        Every listed name exists.
        """
        for name in odradek.broker.server.__all__:
            self.assertTrue(hasattr(odradek.broker.server, name), name)
