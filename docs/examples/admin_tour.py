"""
A tour of the admin client: the brokers and their configurations, the default
partition count, the topics, one topic's description and the consumer groups.

    python admin_tour.py [bootstrap.servers] [topic]

Each call blocks until the cluster answers. Calls about several items (topics,
configuration resources) return per-item results: ``results[item]`` is the item's
value or raises its own error, and ``results.all()`` raises the first error.
"""

import sys

from odradek.client.admin import (
    AdminClient,
    ConfigResource,
    ConfigResourceType,
)


def main(bootstrap: str = "localhost:9092", topic: str = "test") -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        print("== Get broker information")
        for node in admin.describe_cluster().nodes:
            print(f"node : {node}")
            resource = ConfigResource(ConfigResourceType.BROKER, str(node.node_id))
            config = admin.describe_configs([resource])[resource]
            for entry in config:
                print(f"{entry.name}= {entry.value}")

        print("== Get default num.partitions")
        for node in admin.describe_cluster().nodes:
            resource = ConfigResource(ConfigResourceType.BROKER, str(node.node_id))
            entry = admin.describe_configs([resource])[resource].get("num.partitions")
            # A broker may describe only some of its keys (Tansu describes none).
            print(entry.value if entry is not None else "(not described)")

        print("== Topic list")
        for listing in admin.list_topics().values():
            print(listing)

        print(f"== {topic} topic information")
        print(admin.describe_topics([topic]).all())

        print("== Consumer group list")
        for group in admin.list_consumer_groups().all():
            print(group)
    finally:
        admin.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
