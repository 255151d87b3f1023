"""
The C{odradek} command of twistd: C{twistd -n odradek --config server.properties}.

L{Options} takes the broker's C{server.properties} and C{--override KEY=VALUE}
arguments (as Kafka's C{kafka-server-start.sh} does); L{makeService} builds the
L{BrokerService}. A configuration or data directory the broker cannot start with
stops twistd with one line on standard error that names the problem, such as::

    odradek: config/server.properties: Invalid value abc for configuration
    log.segment.bytes: Not a number of type INT
"""

from __future__ import annotations

import socket

from twisted.python import usage

from odradek.broker.config import ConfigError, KafkaConfig, load_properties
from odradek.broker.metadata import MetadataStoreError
from odradek.broker.service import BrokerService

__all__ = ["Options", "load_config", "makeService"]


class Options(usage.Options):
    """
    The command line of C{twistd odradek}.
    """

    synopsis = "--config PATH [--override KEY=VALUE ...]"
    longdesc = (
        "Run an Odradek broker, a Kafka-compatible broker, configured by a "
        "server.properties file with Apache Kafka's keys."
    )
    optParameters = [
        ["config", "c", None, "The broker's server.properties file (required)."],
    ]

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self["overrides"] = {}

    def opt_override(self, value: str) -> None:
        """
        Set KEY=VALUE on top of the file; may be repeated.
        """
        key, separator, setting = value.partition("=")
        if not separator or not key.strip():
            raise usage.UsageError(f"--override takes KEY=VALUE, not {value!r}")
        self["overrides"][key.strip()] = setting

    def postOptions(self) -> None:
        if self["config"] is None:
            raise usage.UsageError(
                "--config is required: the path of the broker's server.properties"
            )


def load_config(options: Options) -> KafkaConfig:
    """
    Read and validate the configuration the command line names.

    @param options: parsed L{Options}.
    @return: the file's configuration with the C{--override} settings applied.
    @raise ConfigError: if the file cannot be read or a value is bad.
    """
    path = options["config"]
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(f"cannot read the file: {reason}") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"the file is not UTF-8 text: {error}") from error
    properties = load_properties(text)
    properties.update(options["overrides"])
    return KafkaConfig.from_properties(properties)


def makeService(options: Options) -> BrokerService:
    """
    Build the broker twistd runs.

    @param options: parsed L{Options}.
    @return: the broker, not yet started.
    @raise SystemExit: with one line naming the problem, if the configuration is
        bad or the log directories cannot be used; twistd then stops before it
        starts logging or detaches.
    """
    path = options["config"]
    try:
        config = load_config(options)
        host = "localhost"
        if any(not endpoint.host for endpoint in config.advertised_listeners):
            # Kafka advertises the canonical host name for an endpoint without one.
            host = socket.getfqdn()
        # The one place the broker picks the global reactor; everything below takes
        # it as a parameter.
        from twisted.internet import reactor

        return BrokerService.embedded(config, default_host=host, reactor=reactor)
    except ConfigError as error:
        source = "--override" if error.key in options["overrides"] else path
        raise SystemExit(f"odradek: {source}: {error.message}") from None
    except (MetadataStoreError, OSError) as error:
        raise SystemExit(f"odradek: {error}") from None
