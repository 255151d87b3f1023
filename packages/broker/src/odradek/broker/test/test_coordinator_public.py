"""
The public names of L{odradek.broker.coordinator.group}, pinned so that a change to
them is deliberate, and the size of its modules.
"""

from __future__ import annotations

from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

import odradek.broker.coordinator.group


class GroupCoordinatorPublicNamesTests(SynchronousTestCase):
    """
    The group coordinator package exports exactly the names it documents.
    """

    def test_all(self) -> None:
        """The package exports exactly these names, each defined."""
        names = [
            "CommittedOffset",
            "GroupConfig",
            "GroupCoordinator",
            "GroupCoordinatorService",
            "GroupMetadata",
            "GroupSnapshot",
            "GroupState",
            "IGroupStore",
            "LoadedPartition",
            "MemberMetadata",
            "MemberSnapshot",
            "OffsetsTopicStore",
            "assemble_group_coordinator",
            "partition_for",
        ]
        package = odradek.broker.coordinator.group
        self.assertEqual(sorted(package.__all__), sorted(names))
        for name in names:
            self.assertTrue(hasattr(package, name), name)

    def test_modules_small(self) -> None:
        """Every module of the package stays under 500 lines."""
        directory = Path(odradek.broker.coordinator.group.__file__).parent
        for path in directory.glob("*.py"):
            self.assertLess(len(path.read_text().splitlines()), 500, path.name)
