"""
The twistd plugin of the Odradek broker: C{twistd -n odradek --config PATH}.

This directory has no C{__init__.py}: Twisted's plugin system finds
C{twisted/plugins/} beneath every entry of C{sys.path}, which covers both an
installed wheel (the file lands in Twisted's own C{twisted/plugins}) and an editable
install (C{src/} is on C{sys.path}).
"""

from twisted.application.service import ServiceMaker

odradek = ServiceMaker(  # type: ignore[no-untyped-call]
    "Odradek broker",
    "odradek.broker.tap",
    "A Kafka-compatible broker, configured by a server.properties file.",
    "odradek",
)
