"""Which tiers a hybrid by tier runs in the cloud: the blocks that can move, and the names of the placements.

A block moves as a whole: `media` is the media store with its delivery; the load balancer follows the gateway.
The workload names placements (`placement.hybrid_placements`); the split model (planner.optimize.split) builds
one model per placement.
"""

from __future__ import annotations

import itertools

BLOCKS = ("gateway", "message", "database", "cache", "media")
BURST = "burst"  # the private base + cloud burst hybrid (planner.optimize.hybrid)
# the two placements with names of their own
NAMED = {frozenset({"gateway", "message", "database", "cache"}): "media-on-own-servers",
         frozenset({"media"}): "media-in-cloud"}


def placement_name(cloud_blocks: frozenset[str]) -> str:
    return NAMED.get(cloud_blocks) or "+".join(b for b in BLOCKS if b in cloud_blocks) + "-in-cloud"


def split_placements(colocate_database_and_message: bool) -> dict[str, frozenset[str]]:
    """Every split of the blocks into a non-empty cloud part and a non-empty own part (all in the cloud is the
    public strategy, none the private one); the database stays with the message tier unless the user relaxes
    it (they exchange every write)."""
    out = {}
    for n in range(1, len(BLOCKS)):
        for cloud in itertools.combinations(BLOCKS, n):
            blocks = frozenset(cloud)
            if colocate_database_and_message and (("database" in blocks) != ("message" in blocks)):
                continue
            out[placement_name(blocks)] = blocks
    return out


def hybrid_placement_names(colocate_database_and_message: bool) -> list[str]:
    return [BURST, *split_placements(colocate_database_and_message)]
